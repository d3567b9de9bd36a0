import Foundation
import Synchronization

/// Hands each message to a local sendmail program (site.ini `Transport=sendmail`, `SendmailPath`).
///
/// ```swift
/// let transport = SendmailTransport(path: "/usr/sbin/sendmail")
/// try transport.deliver(batch) { message, outcome in try outbox.record(message.id, outcome) }
/// ```
///
/// Runs `path -t -i -f <sender> [extraOptions]` once per message with the bytes on stdin, like
/// PHP's `mail()` under eZ Publish: `-t` takes the recipients from the To/Cc/Bcc headers, `-i`
/// keeps a line holding a single dot from ending the message. With ``RecipientSource/envelope``
/// it runs `path -i -f <sender> [extraOptions] -- <recipient>` instead, so the envelope recipient
/// (for example a DebugReceiverEmail redirect) decides where the mail goes.
///
/// Exit 0 means accepted. Any other exit (75, EX_TEMPFAIL, included), a signal, or a program
/// that cannot be started is a temporary failure whose reason quotes the first line of its
/// output: sendmail's exit codes do not reliably tell a bad address from a broken setup, and the
/// outbox must not drop mail because of a setup problem.
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

    public init(path: String, extraOptions: [String] = [], recipientSource: RecipientSource = .headers) {
        self.path = path
        self.extraOptions = extraOptions
        self.recipientSource = recipientSource
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

        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments(for: message)
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        do {
            try process.run()
        } catch {
            return .temporaryFailure(prefix + "cannot start: \(error.localizedDescription)")
        }
        // Our copies of the child's ends must go, or we would never see end-of-file.
        try? input.fileHandleForReading.close()
        try? output.fileHandleForWriting.close()

        // Read the child's output while writing its input: a chatty child blocked on a full
        // output pipe would otherwise never read the rest of the message.
        let collected = CollectedOutput()
        let reader = output.fileHandleForReading
        let readerDone = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            collected.store(reader.readDataToEndOfFile())
            readerDone.signal()
        }
        let written = PipeWriter.writeAll(message.bytes, to: input.fileHandleForWriting.fileDescriptor)
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
        readerDone.wait()

        let said = collected.firstLine.map { ": \($0)" } ?? ""
        switch process.terminationReason {
        case .uncaughtSignal:
            return .temporaryFailure(prefix + "killed by signal \(process.terminationStatus)\(said)")
        case .exit:
            let status = process.terminationStatus
            if status != 0 {
                let name = Self.sysexitsNames[status].map { " (\($0))" } ?? ""
                return .temporaryFailure(prefix + "exit \(status)\(name)\(said)")
            }
            if !written {
                return .temporaryFailure(prefix + "exited 0 before reading the whole message\(said)")
            }
            return .accepted
        @unknown default:
            return .temporaryFailure(prefix + "ended abnormally\(said)")
        }
    }

    /// sysexits.h, which sendmail implementations use for their exit status.
    static let sysexitsNames: [Int32: String] = [
        64: "EX_USAGE", 65: "EX_DATAERR", 66: "EX_NOINPUT", 67: "EX_NOUSER", 68: "EX_NOHOST",
        69: "EX_UNAVAILABLE", 70: "EX_SOFTWARE", 71: "EX_OSERR", 72: "EX_OSFILE", 73: "EX_CANTCREAT",
        74: "EX_IOERR", 75: "EX_TEMPFAIL", 76: "EX_PROTOCOL", 77: "EX_NOPERM", 78: "EX_CONFIG",
    ]
}

/// The child's output, handed from the reading thread to the calling one.
private final class CollectedOutput: Sendable {
    private let data = Mutex(Data())

    func store(_ bytes: Data) {
        data.withLock { $0 = bytes }
    }

    /// The first non-empty line, printable, at most 300 characters.
    var firstLine: String? {
        let text = data.withLock { String(decoding: $0, as: UTF8.self) }
        guard let line = text.split(whereSeparator: \.isNewline).first(where: {
            !$0.trimmingCharacters(in: .whitespaces).isEmpty
        }) else { return nil }
        let clean = line.trimmingCharacters(in: .whitespaces)
            .unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : String($0) }.joined()
        return clean.count > 300 ? String(clean.prefix(300)) + "…" : clean
    }
}

/// Writes to a pipe whose reader may exit early without killing this process with SIGPIPE.
enum PipeWriter {
    /// Returns false if the reader closed the pipe before taking everything.
    static func writeAll(_ bytes: [UInt8], to descriptor: Int32) -> Bool {
        // Block SIGPIPE for this thread only; a broken pipe then shows up as EPIPE, and the
        // pending signal is taken off the thread before the old mask comes back.
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
        return bytes.withUnsafeBytes { buffer -> Bool in
            var offset = 0
            while offset < buffer.count {
                let n = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if n > 0 {
                    offset += n
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    return false
                }
            }
            return true
        }
    }
}
