import Foundation

/// Hands each message to a local sendmail program (site.ini `Transport=sendmail`, `SendmailPath`).
///
/// ```swift
/// let transport = SendmailTransport(path: "/usr/sbin/sendmail", timeout: 60)
/// try transport.deliver(batch) { message, outcome in try outbox.record(message.id, outcome) }
/// ```
///
/// Runs `path -t -i -f <sender> [extraOptions]` once per message with the bytes on stdin, like
/// PHP's `mail()` under eZ Publish: `-t` takes the recipients from the To/Cc/Bcc headers, `-i`
/// keeps a line holding a single dot from ending the message. With ``RecipientSource/envelope``
/// it runs `path -i -f <sender> [extraOptions] -- <recipient>` instead, so the envelope recipient
/// (for example a DebugReceiverEmail redirect) decides where the mail goes.
///
/// Exit 0 means accepted. Following sysexits.h, the exits that blame the message or its address
/// are permanent failures: 65 (EX_DATAERR), 67 (EX_NOUSER), 68 (EX_NOHOST). Any other exit
/// (75, EX_TEMPFAIL, included), a signal, or a program that cannot be started is a temporary
/// failure, so a setup problem never drops mail. Reasons quote the first line of its output.
///
/// A program still running `timeout` seconds after it started is stopped (SIGTERM to it and the
/// processes it started, SIGKILL a few seconds later) and the message is a temporary failure
/// "timed out after N s".
public final class SendmailTransport: MailTransport {
    /// Where sendmail learns the recipients.
    public enum RecipientSource: Sendable {
        /// `-t`: from the message's To, Cc and Bcc headers (eZ Publish's behaviour).
        case headers
        /// `-- <recipient>`: from ``OutgoingMessage/recipient``; headers are not consulted.
        case envelope
    }

    public let path: String
    public let extraOptions: [String]
    public let recipientSource: RecipientSource
    /// Seconds one message may take, from starting the program to its exit.
    public let timeout: Double
    /// Seconds between SIGTERM and SIGKILL once the program has timed out.
    var terminationGrace: Double = 5

    /// `timeout` must be positive.
    public init(path: String, extraOptions: [String] = [], recipientSource: RecipientSource = .headers,
                timeout: Double = 60) {
        precondition(timeout > 0, "sendmail timeout must be positive, got \(timeout)")
        self.path = path
        self.extraOptions = extraOptions
        self.recipientSource = recipientSource
        self.timeout = timeout
    }

    /// The program's arguments for one message.
    func arguments(for message: OutgoingMessage) -> [String] {
        let sender = message.sender.isEmpty ? [] : ["-f", message.sender]
        switch recipientSource {
        case .headers: return ["-t", "-i"] + sender + extraOptions
        case .envelope: return ["-i"] + sender + extraOptions + ["--", message.recipient]
        }
    }

    public func deliver(_ messages: [OutgoingMessage], report: (OutgoingMessage, DeliveryOutcome) throws -> Void) throws {
        for message in messages {
            try report(message, send(message))
        }
    }

    func send(_ message: OutgoingMessage) -> DeliveryOutcome {
        let prefix = "sendmail \(path): "
        if let problem = SMTPEnvelope.problem(sender: message.sender, recipient: message.recipient) {
            return .permanentFailure(prefix + problem)
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            return .temporaryFailure(prefix + "no such program (check SendmailPath)")
        }
        guard FileManager.default.isExecutableFile(atPath: path) else {
            return .temporaryFailure(prefix + "not executable (check SendmailPath)")
        }
        guard let exitNotice = ExitNotice() else {
            return .temporaryFailure(prefix + "cannot start: no file descriptors left")
        }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments(for: message)
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        process.terminationHandler = { [exitNotice] _ in exitNotice.post() }
        let deadline = DispatchTime.now() + timeout
        do {
            try process.run()
        } catch {
            return .temporaryFailure(prefix + "cannot start: \(error.localizedDescription)")
        }
        // Our copies of the child's ends must go, or we would never see end-of-file.
        try? input.fileHandleForReading.close()
        try? output.fileHandleForWriting.close()

        let watch = ChildWatch(process: process, notice: exitNotice)
        var conversation = SendmailConversation(
            input: input.fileHandleForWriting, output: output.fileHandleForReading, message: message.bytes)
        let ending = conversation.run(until: deadline, watching: watch)
        conversation.close()
        let said = conversation.said
        switch ending {
        case nil:
            stop(watch)
            return .temporaryFailure(prefix + "timed out after \(Self.seconds(timeout))\(said)")
        case .killed(let signal)?:
            return .temporaryFailure(prefix + "killed by signal \(signal)\(said)")
        case .exited(let status)?:
            if status != 0 {
                let name = Self.sysexitsNames[status].map { " (\($0))" } ?? ""
                let reason = prefix + "exit \(status)\(name)\(said)"
                return Self.permanentStatuses.contains(status) ? .permanentFailure(reason) : .temporaryFailure(reason)
            }
            if !conversation.wroteEverything {
                return .temporaryFailure(prefix + "exited 0 before reading the whole message\(said)")
            }
            return .accepted(prefix + "exited 0")
        }
    }

    /// Stops a program that ran out of time and whatever it started: Foundation makes the child
    /// the leader of its own process group, and a script's children (a `sleep`, a queue runner)
    /// would otherwise live on.
    private func stop(_ watch: ChildWatch) {
        let pid = watch.process.processIdentifier
        let ownGroup = getpgid(pid) == pid
        kill(ownGroup ? -pid : pid, SIGTERM)
        let endedInGrace = watch.wait(until: .now() + terminationGrace) != nil
        // The group goes in any case: a child that ignored SIGTERM must not outlive its parent.
        if ownGroup {
            kill(-pid, SIGKILL)
        } else if !endedInGrace {
            kill(pid, SIGKILL)
        }
        if !endedInGrace { _ = watch.wait(until: .distantFuture) }
        // Foundation reaps once the last process holding its socket is gone: then nothing of
        // the group runs any more. A helper that left the group may keep it from happening.
        watch.waitForFoundation(until: .now() + terminationGrace)
    }

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }

    /// The sysexits.h codes that blame the message or its recipient rather than the setup:
    /// EX_DATAERR, EX_NOUSER, EX_NOHOST.
    static let permanentStatuses: Set<Int32> = [65, 67, 68]

    /// sysexits.h, which sendmail implementations use for their exit status.
    static let sysexitsNames: [Int32: String] = [
        64: "EX_USAGE", 65: "EX_DATAERR", 66: "EX_NOINPUT", 67: "EX_NOUSER", 68: "EX_NOHOST",
        69: "EX_UNAVAILABLE", 70: "EX_SOFTWARE", 71: "EX_OSERR", 72: "EX_OSFILE", 73: "EX_CANTCREAT",
        74: "EX_IOERR", 75: "EX_TEMPFAIL", 76: "EX_PROTOCOL", 77: "EX_NOPERM", 78: "EX_CONFIG",
    ]
}

/// Foundation's termination handler, as a byte on a pipe that poll(2) can wait for together
/// with the child's input and output.
private final class ExitNotice: Sendable {
    let descriptor: Int32
    private let writeDescriptor: Int32

    init?() {
        var descriptors: [Int32] = [0, 0]
        guard pipe(&descriptors) == 0 else { return nil }
        for descriptor in descriptors {
            // Kept from children; non-blocking so the handler's thread can never hang on it.
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
            _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        }
        descriptor = descriptors[0]
        writeDescriptor = descriptors[1]
    }

    /// The handler keeps this object alive until it has run, so the descriptors stay ours.
    deinit {
        close(descriptor)
        close(writeDescriptor)
    }

    func post() {
        var byte: UInt8 = 1
        _ = write(writeDescriptor, &byte, 1)
    }
}

/// How the program ended.
private enum Ending: Equatable {
    case exited(Int32)
    case killed(Int32)
}

/// Tells whether and how the program ended. Foundation notices an exit only once every process
/// holding the socket it hands the child has gone, so a helper the program leaves running (a
/// background queue runner) would hide the exit for as long as it runs; waitid(2) with WNOWAIT
/// asks the kernel directly and leaves the reaping to Foundation.
private struct ChildWatch {
    let process: Process
    let notice: ExitNotice

    /// Checked again this often while nothing else wakes the wait: only a left-behind helper
    /// needs it, since Foundation's notice comes at once otherwise.
    static let recheckMilliseconds: Int32 = 100

    var ending: Ending? {
        if !process.isRunning {  // Foundation reaped it and knows the status
            return process.terminationReason == .exit
                ? .exited(process.terminationStatus) : .killed(process.terminationStatus)
        }
        var info = siginfo_t()
        let asked = waitid(P_PID, id_t(process.processIdentifier), &info, WEXITED | WNOHANG | WNOWAIT)
        guard asked == 0, info._sifields._sigchld.si_pid != 0 else { return nil }
        let status = info._sifields._sigchld.si_status
        return info.si_code == Int32(CLD_EXITED) ? .exited(status) : .killed(status)
    }

    /// Waits for `requests` (plus Foundation's notice) or the deadline, at most one recheck
    /// period. Returns poll's result without the notice.
    func poll(_ requests: inout [pollfd], until deadline: DispatchTime) -> Int32 {
        var all = requests + [pollfd(fd: notice.descriptor, events: Int16(POLLIN), revents: 0)]
        var limit = pollMilliseconds(until: deadline)
        if limit < 0 || limit > Self.recheckMilliseconds { limit = Self.recheckMilliseconds }
        let ready = Glibc.poll(&all, nfds_t(all.count), limit)
        requests = Array(all.dropLast())
        return ready
    }

    /// Until Foundation has reaped the child (and so every process that inherited its socket
    /// has ended), or `deadline`.
    func waitForFoundation(until deadline: DispatchTime) {
        while process.isRunning {
            var request = pollfd(fd: notice.descriptor, events: Int16(POLLIN), revents: 0)
            let ready = Glibc.poll(&request, 1, pollMilliseconds(until: deadline))
            if ready == 0 || (ready < 0 && errno != EINTR) { return }
        }
    }

    /// The ending, once it comes before `deadline`.
    func wait(until deadline: DispatchTime) -> Ending? {
        while true {
            if let ending { return ending }
            if pollMilliseconds(until: deadline) == 0 { return nil }
            var none: [pollfd] = []
            _ = poll(&none, until: deadline)
        }
    }
}

/// Milliseconds left until `deadline` for poll(2), rounded up; -1 (no limit) for distantFuture.
private func pollMilliseconds(until deadline: DispatchTime) -> Int32 {
    if deadline == .distantFuture { return -1 }
    let now = DispatchTime.now().uptimeNanoseconds
    guard deadline.uptimeNanoseconds > now else { return 0 }
    return Int32(clamping: (deadline.uptimeNanoseconds - now + 999_999) / 1_000_000)
}

/// Writes the message to the child and reads what it says, both at once on the calling thread
/// (a chatty child blocked on a full output pipe would otherwise never read the rest of the
/// message), until the child exits or the deadline passes.
private struct SendmailConversation {
    /// Output kept for the failure reason; the rest is read and dropped.
    static let outputLimit = 64 * 1024

    private let input: FileHandle
    private let output: FileHandle
    private let message: [UInt8]
    private var written = 0
    private var writing = true
    private var reading = true
    private var collected: [UInt8] = []

    init(input: FileHandle, output: FileHandle, message: [UInt8]) {
        self.input = input
        self.output = output
        self.message = message
    }

    var wroteEverything: Bool { written == message.count }

    /// Returns how the child ended, or nil when the deadline came first.
    mutating func run(until deadline: DispatchTime, watching watch: ChildWatch) -> Ending? {
        for descriptor in [input.fileDescriptor, output.fileDescriptor] {
            _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        }
        if message.isEmpty { finishWriting() }
        return withBrokenPipeAsError {
            while true {
                if let ending = watch.ending {
                    // Everything the child wrote before it ended is in the pipe by now.
                    while reading && readSome() {}
                    return ending
                }
                if pollMilliseconds(until: deadline) == 0 { return nil }
                var requests: [pollfd] = []
                if writing { requests.append(pollfd(fd: input.fileDescriptor, events: Int16(POLLOUT), revents: 0)) }
                if reading { requests.append(pollfd(fd: output.fileDescriptor, events: Int16(POLLIN), revents: 0)) }
                guard watch.poll(&requests, until: deadline) > 0 else { continue }
                for request in requests where request.revents != 0 {
                    if writing && request.fd == input.fileDescriptor {
                        writeSome()
                    } else if reading && request.fd == output.fileDescriptor {
                        readSome()
                    }
                }
            }
        }
    }

    /// Closes our ends of both pipes (the input may be closed already).
    mutating func close() {
        if writing { finishWriting() }
        try? output.close()
    }

    /// Closing our end tells the child the message is complete.
    private mutating func finishWriting() {
        writing = false
        try? input.close()
    }

    private mutating func writeSome() {
        let count = message.withUnsafeBytes { buffer in
            write(input.fileDescriptor, buffer.baseAddress! + written, buffer.count - written)
        }
        if count > 0 {
            written += count
            if written == message.count { finishWriting() }
        } else if count < 0 && (errno == EAGAIN || errno == EINTR) {
            return
        } else {
            finishWriting()  // EPIPE: the child closed its input early
        }
    }

    /// Reads what is there now; false when nothing more is (yet) to be had.
    @discardableResult
    private mutating func readSome() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        let count = buffer.withUnsafeMutableBytes { read(output.fileDescriptor, $0.baseAddress, $0.count) }
        if count > 0 {
            collected += buffer.prefix(min(count, Self.outputLimit - collected.count))
            return true
        }
        if count < 0 && (errno == EAGAIN || errno == EINTR) { return false }
        reading = false  // end of file, or a read error
        return false
    }

    /// ": <first non-empty line of output>", printable, at most 300 characters; "" if none.
    var said: String {
        let text = String(decoding: collected, as: UTF8.self)
        guard let line = text.split(whereSeparator: \.isNewline).first(where: {
            !$0.trimmingCharacters(in: .whitespaces).isEmpty
        }) else { return "" }
        let clean = line.trimmingCharacters(in: .whitespaces)
            .unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : String($0) }.joined()
        return ": " + (clean.count > 300 ? String(clean.prefix(300)) + "…" : clean)
    }
}

/// Runs `body` with SIGPIPE blocked for this thread only: a write to a pipe whose reader is gone
/// then fails with EPIPE instead of killing the process. A SIGPIPE left pending is taken off the
/// thread before the old mask comes back.
private func withBrokenPipeAsError<Result>(_ body: () -> Result) -> Result {
    var pipeSignal = sigset_t()
    sigemptyset(&pipeSignal)
    sigaddset(&pipeSignal, SIGPIPE)
    var previousMask = sigset_t()
    pthread_sigmask(SIG_BLOCK, &pipeSignal, &previousMask)
    defer {
        var pending = sigset_t()
        sigpending(&pending)
        if sigismember(&pending, SIGPIPE) == 1 && sigismember(&previousMask, SIGPIPE) == 0 {
            var noWait = timespec(tv_sec: 0, tv_nsec: 0)
            _ = sigtimedwait(&pipeSignal, nil, &noWait)
        }
        pthread_sigmask(SIG_SETMASK, &previousMask, nil)
    }
    return body()
}
