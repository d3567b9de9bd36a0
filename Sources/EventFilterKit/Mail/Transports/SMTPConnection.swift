import CCurl
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One connection to the SMTP server, kept open for message after message.
///
/// libcurl opens it (`curl_easy_perform` with CURLOPT_CONNECT_ONLY): TCP, implicit TLS or
/// STARTTLS, certificate checks, the greeting, EHLO and AUTH, then it returns with the connection
/// open. The mail transaction is ours (``SMTPWire``): with PIPELINING offered (RFC 2920), MAIL
/// FROM, RCPT TO and DATA go out in one write and their three replies are read after it, then the
/// message and its final "." and one more reply: two round trips per message where curl's
/// lock-step transfer took four, and no URL parsed or transfer set up per message. Within a run,
/// once the server has accepted a message, the next message's MAIL, RCPT and DATA go in the same
/// write as a message's final "." (RFC 2920 section 3.1), and the four replies are read in one
/// wait: one round trip, one write and one wake-up of this thread a message. Without
/// PIPELINING each command waits for its reply. A refused sender or recipient leaves the
/// connection usable: RSET (RFC 5321 section 4.1.1.5) and on with the next message. A timeout,
/// a 421 or a broken connection ends it; the next message opens a new one.
///
/// ``SMTPTransport`` gives each connection a thread of its own for one `deliver` call
/// (``work(for:as:)``). Not thread-safe: one thread at a time owns it (the transport's between
/// calls, a worker's during one, handed over and back through ``SMTPDeliveryRun``'s lock), hence
/// unchecked Sendable.
///
///     let connection = try SMTPConnection(configuration: configuration)
///     if case .finished(let verdict, _) = connection.send(message) { print(verdict.outcome) }
final class SMTPConnection: @unchecked Sendable {
    /// curl_global_init runs once per process, before the first handle.
    static let libraryReady: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    /// How one message's attempt ended.
    enum Attempt {
        /// With a verdict; `holdsSlot`: its final "." was sent, so it holds a place in the window.
        case finished(SMTPVerdict, holdsSlot: Bool)
        /// No place in the window came in time: nothing past the message's last line went out,
        /// so the server cannot have taken it; it goes again once a place is free.
        case windowExpired
        /// The run was cut off while the message waited for its place; it stays queued.
        case cancelled
    }

    let configuration: SMTPConfiguration
    /// The easy handle that opens connections; a new one after each connection ends (curl never
    /// reuses a CONNECT_ONLY connection, and a fresh handle holds no dead one).
    private var handle: UnsafeMutableRawPointer?
    /// Retained here for the handle's whole life; curl holds an unretained pointer to it.
    private let exchange = SMTPExchange()
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private let classifier: SMTPFailureClassifier
    /// The open connection, nil while there is none.
    private var wire: SMTPWire?
    /// What the open connection's server offered in its reply to EHLO.
    private var capabilities = SMTPCapabilities()
    /// TCP connections opened so far (CURLINFO_NUM_CONNECTS summed): 1 for a whole run that
    /// kept its connection.
    private(set) var connectionsOpened = 0
    /// The open connection carries the envelope (MAIL, RCPT, DATA) of the message ``send`` was
    /// handed through `carried`, sent with the previous message's final "." and not yet answered.
    private var envelopeInFlight = false
    /// Messages whose final "." went out in a write of its own, after the message, because the
    /// window had no free place when the message was ready (see ``send(_:window:committing:)``).
    private(set) var finalDotsSentAlone = 0
    /// The envelope's domains in their ASCII form, each converted once for this connection.
    private let domainForms = SMTPDomainForms()

    private static let reset: [UInt8] = Array("RSET\r\n".utf8)
    private static let quit: [UInt8] = Array("QUIT\r\n".utf8)

    init(configuration: SMTPConfiguration) throws(SMTPConfigurationError) {
        self.configuration = configuration
        self.classifier = SMTPFailureClassifier(configuration: configuration)
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        // The first handle now, so a setting libcurl refuses fails here rather than per message.
        try openHandle()
    }

    deinit {
        sayGoodbye()
        hangUp()
        errorBuffer.deallocate()
    }

    private func openHandle() throws(SMTPConfigurationError) {
        guard Self.libraryReady, let handle = curl_easy_init() else {
            throw SMTPConfigurationError(message: "smtp \(configuration.serverLabel): libcurl could not be initialised")
        }
        self.handle = handle
        let failed = configure(handle)
        if failed != CURLE_OK {
            let reason = String(cString: curl_easy_strerror(failed))
            throw SMTPConfigurationError(message: "smtp \(configuration.serverLabel): libcurl rejected a setting: \(reason)")
        }
    }

    /// The handle's options; returns the first failure.
    private func configure(_ handle: UnsafeMutableRawPointer) -> CURLcode {
        let context = Unmanaged.passUnretained(exchange).toOpaque()
        var results = [
            ccurl_set_string(handle, CURLOPT_URL, configuration.url),
            ccurl_set_string(handle, CURLOPT_PROTOCOLS_STR, "smtp,smtps"),
            // Connect, TLS, greeting, EHLO, STARTTLS, AUTH; then return with the connection open.
            ccurl_set_long(handle, CURLOPT_CONNECT_ONLY, 1),
            ccurl_set_long(handle, CURLOPT_NOSIGNAL, 1),  // a library must not use SIGALRM behind the app's back
            // VERBOSE only feeds the debug callback (nothing reaches stderr once one is set);
            // it is the one way to learn the server's replies and EHLO keywords during set-up.
            ccurl_set_debugfunction(handle, watchConversation, context),
            ccurl_set_long(handle, CURLOPT_VERBOSE, 1),
            ccurl_set_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer),
            ccurl_set_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(configuration.connectTimeout * 1000)),
            ccurl_set_long(handle, CURLOPT_TIMEOUT_MS, Int(configuration.timeout * 1000)),
            ccurl_set_long(handle, CURLOPT_SERVER_RESPONSE_TIMEOUT, max(1, Int(configuration.timeout.rounded(.up)))),
            ccurl_set_long(handle, CURLOPT_SSL_VERIFYPEER, configuration.verifyCertificate ? 1 : 0),
            ccurl_set_long(handle, CURLOPT_SSL_VERIFYHOST, configuration.verifyCertificate ? 2 : 0),
        ]
        if configuration.security == .starttls {
            results.append(ccurl_set_long(handle, CURLOPT_USE_SSL, Int(CURLUSESSL_ALL.rawValue)))
        }
        if let caFile = configuration.caFile {
            results.append(ccurl_set_string(handle, CURLOPT_CAINFO, caFile))
        }
        if let user = configuration.user, let password = configuration.password {
            results.append(ccurl_set_string(handle, CURLOPT_USERNAME, user))
            results.append(ccurl_set_string(handle, CURLOPT_PASSWORD, password))
        }
        return results.first { $0 != CURLE_OK } ?? CURLE_OK
    }

    /// Sends the run's messages one after another until there are none left (the caller then
    /// tells the run, `workerDone()`, once it has put away what it used).
    ///
    /// `recorder`: when the run's workers record the outcomes, this thread's recorder (taken for
    /// this call alone). A message's outcome then waits with the run for a group commit
    /// (``SMTPDeliveryRun``) and this thread, if no other is committing, commits every outcome
    /// waiting while the server reads the next message's MAIL, RCPT and DATA (they go out first,
    /// the commit runs, then their replies are read), so the commit overlaps that round trip
    /// rather than adding to it. A message keeps its place in the window until its commit
    /// returned, and a final "." waiting for a place commits what waits if nobody else does.
    func work(for run: SMTPDeliveryRun, as worker: Int, recorder: OutcomeRecorders.Recorder? = nil) {
        // One transaction on the recorders' shared store connection, this thread's turn.
        let record: SMTPDeliveryRun.Commit = { group in
            guard let recorder else { throw EventFilterError.failure("no recorder for \(group.count) outcomes") }
            try recorder.record(group)
        }
        let commit = run.recordsOnWorkers ? record : nil
        let following = { run.nextMessageToPipeline() }
        // The message whose envelope went out with the last final ".": the next one to send.
        var carried: OutgoingMessage?
        messages: while true {
            let message: OutgoingMessage
            if let next = carried {
                carried = nil
                // The connection ended before its envelope was answered, and that suspended
                // delivery: it is not tried, as every message after it.
                if !envelopeInFlight, let verdict = run.untried(next) {
                    if run.recordsOnWorkers {
                        guard run.learned(verdict, message: next, holdsSlot: false) else { break messages }
                    } else {
                        run.finish(next, verdict: verdict, holdsSlot: false)
                    }
                    continue messages
                }
                message = next
            } else {
                guard let work = run.nextMessage(worker: worker) else { break messages }
                switch work {
                case .send(let next): message = next
                case .recordLeft(let left):
                    // Left alone once delivery was suspended, they hold no place in the window. A
                    // failed record cuts the run off with that failure; the messages stay queued.
                    do {
                        try record(left)
                    } catch {
                        run.recordFailed(error)
                        break messages
                    }
                    continue messages
                }
            }
            while true {
                switch send(message, window: run, committing: commit, following: following, carried: &carried) {
                case .finished(let verdict, let holdsSlot):
                    if run.recordsOnWorkers {
                        // Cut off: it stays queued.
                        guard run.learned(verdict, message: message, holdsSlot: holdsSlot) else { break messages }
                    } else {
                        run.finish(message, verdict: verdict, holdsSlot: holdsSlot)
                    }
                    continue messages
                case .windowExpired:
                    // The earlier outcomes took long to record (a busy store): rather than let
                    // the message's timeout call the server dead, the transfer was given up
                    // before its final "."; the message goes again, from the start, once a place
                    // is free.
                    guard run.waitForFreeSlot(committing: commit) else { break messages }  // cut off: it stays queued
                case .cancelled:
                    break messages
                }
            }
        }
        // Cut off with a message's envelope out: the server waits for its content, so the
        // connection cannot carry anything else (not even QUIT); the message stays queued.
        if envelopeInFlight { hangUp() }
        // The outcomes still waiting (or ones that finished as the run was cut off: a message
        // accepted, and a record now spares it being sent again).
        if let commit { run.commitTheRest(with: commit) }
    }

    /// One message, from MAIL FROM to the server's verdict on it, opening a connection first if
    /// none is open. `window`, when given, is asked for a place before the final "." goes out.
    /// `commit`, when given (the workers record), commits the outcomes waiting in `window` once
    /// the envelope's first command has gone out and before its reply is read, and while the
    /// final "." waits for a place; a failed commit cancels the message before its final ".".
    func send(_ message: OutgoingMessage, window: SMTPDeliveryRun? = nil, committing commit: SMTPDeliveryRun.Commit? = nil) -> Attempt {
        var carried: OutgoingMessage?
        return send(message, window: window, committing: commit, following: nil, carried: &carried)
    }

    /// As ``send(_:window:committing:)``; with `following`, when the server offers PIPELINING,
    /// the next message's envelope goes out in the same write as this message's final "." (RFC
    /// 2920 section 3.1: the message's content may begin a group of pipelined commands, and
    /// DATA ends it), so a message costs the server one round trip and this thread one wait for
    /// replies rather than two. `following` is asked only once the final "." is sure to go; the
    /// message it gave is put in `carried`, and must be the next one this connection sends
    /// (whose envelope is then not sent again, unless the connection ended meanwhile).
    func send(_ message: OutgoingMessage, window: SMTPDeliveryRun?, committing commit: SMTPDeliveryRun.Commit?,
              following: (() -> OutgoingMessage?)?, carried: inout OutgoingMessage?) -> Attempt {
        let whileTheServerReads: (() -> Bool)? = if let window, let commit { { window.commitWaiting(with: commit) } } else { nil }
        // A message whose envelope went out with the last final "." had its addresses checked then.
        if !envelopeInFlight, let problem = SMTPEnvelope.problem(sender: message.sender, recipient: message.recipient) {
            let outcome = DeliveryOutcome.permanentFailure("smtp \(configuration.serverLabel): \(problem)")
            return .finished(SMTPVerdict(outcome: outcome, sessionFailure: nil, sessionWorked: false), holdsSlot: false)
        }
        var deadline = SMTPWire.deadline(after: configuration.timeout)
        // With its envelope out, the replies to it may be waiting: that is the state to go on from.
        if let wire, !envelopeInFlight, !wire.isUsable() { hangUp() }
        if wire == nil, let failure = connect(sender: message.sender) {
            return .finished(failure, holdsSlot: false)
        }
        guard let wire else { return .finished(lost(.closed, at: .connecting, sender: message.sender), holdsSlot: false) }
        var stage = SMTPStage.sender
        var holdsSlot = false
        do throws(SMTPWire.Failure) {
            var goOn = true
            let envelopeSent = envelopeInFlight
            envelopeInFlight = false
            let refusal = try sendEnvelope(of: message, on: wire, alreadySent: envelopeSent, until: &deadline, stage: &stage) {
                if let whileTheServerReads { goOn = whileTheServerReads() }
            }
            guard goOn else {
                hangUp()
                return .cancelled
            }
            if let refusal { return .finished(refusal, holdsSlot: false) }
            stage = .message
            // The message, its final "." and the next message's envelope go out of one buffer,
            // sized for the three at once: the message is copied once (dot-stuffed), not again
            // to put the envelope after it.
            var data: [UInt8] = []
            data.reserveCapacity(message.bytes.count + Self.roomAfterMessage)
            SMTPDotStuffing.append(message.bytes, to: &data)
            if let window, !window.tryAcquireSlot(committing: commit) {
                // The window is full: the message crosses the wire while earlier outcomes
                // commit, and only its final "." waits for a place.
                try wire.send(data, count: data.count - SMTPDotStuffing.endOfData.count, until: deadline)
                // The message's timeout runs meanwhile, and a store slow to record is not the
                // server failing: the wait takes at most half of what is left of it.
                let left = deadline == .max ? Double.infinity : Double(deadline &- min(deadline, SMTPWire.now())) / 1e9
                switch window.acquireSlot(until: left.isFinite ? Date(timeIntervalSinceNow: left / 2) : .distantFuture, committing: commit) {
                case .acquired: holdsSlot = true
                case .cancelled:
                    hangUp()
                    return .cancelled
                case .expired:
                    hangUp()
                    return .windowExpired
                }
                carried = capabilities.pipelining ? following?() : nil
                var end = SMTPDotStuffing.endOfData
                let carriesEnvelope = appendCarriedEnvelope(of: carried, to: &end)
                try wire.send(end, until: deadline)
                envelopeInFlight = carriesEnvelope
                finalDotsSentAlone += 1
            } else {
                holdsSlot = window != nil
                carried = capabilities.pipelining ? following?() : nil
                let carriesEnvelope = appendCarriedEnvelope(of: carried, to: &data)
                try wire.send(data, until: deadline)
                envelopeInFlight = carriesEnvelope
            }
            stage = .endOfData
            let reply = try wire.readReply(until: deadline)
            if reply.isPositive {
                // Its queue id is what the server's log is searched for.
                return .finished(SMTPVerdict(outcome: .accepted(reply.oneLine), sessionFailure: nil, sessionWorked: true), holdsSlot: holdsSlot)
            }
            if Self.endsConnection(reply) { hangUp() }
            return .finished(refused(reply, at: .endOfData, sender: message.sender), holdsSlot: holdsSlot)
        } catch {
            hangUp()
            return .finished(lost(error, at: stage, sender: message.sender), holdsSlot: holdsSlot)
        }
    }

    /// MAIL FROM, RCPT TO and DATA, up to the server's 354. Returns the verdict when the server
    /// refused one of them; the connection then stays open for the next message (after RSET),
    /// unless the server is closing it (421) or went into DATA anyway.
    /// `sent` runs once the first command is out, before its reply is read; the message's
    /// timeout starts again after it (a store slow to record is not the server being slow).
    private func sendEnvelope(of message: OutgoingMessage, on wire: SMTPWire, alreadySent: Bool, until deadline: inout UInt64,
                              stage: inout SMTPStage, sent: () -> Void) throws(SMTPWire.Failure) -> SMTPVerdict? {
        let pipelining = capabilities.pipelining
        if pipelining && !alreadySent {
            var commands: [UInt8] = []
            appendEnvelope(of: message, to: &commands)
            try wire.send(commands, until: deadline)
        }
        var told = false
        var refusal: (stage: SMTPStage, reply: SMTPReply)?
        var inData = false
        for step in Self.envelopeSteps {
            if !pipelining { try wire.send(command(step, for: message), until: deadline) }
            if !told {
                told = true
                sent()
                deadline = SMTPWire.deadline(after: configuration.timeout)
            }
            stage = step
            let reply = try wire.readReply(until: deadline)
            let expected = step == .data ? reply.code == 354 : reply.isPositive
            inData = step == .data && reply.code == 354
            if refusal == nil && !expected { refusal = (step, reply) }
            // RFC 5321 section 3.8: after 421 the server closes the channel, no reply follows.
            if reply.code == 421 { break }
            if !pipelining && refusal != nil { break }
        }
        guard let refusal else { return nil }
        if Self.endsConnection(refusal.reply) || inData || !resetTransaction(on: wire, until: deadline) { hangUp() }
        return refused(refusal.reply, at: refusal.stage, sender: message.sender)
    }

    /// A reply after which the connection cannot carry another message: 421, the server closing
    /// it (RFC 5321 section 3.8), or one that is no refusal (not 4xx or 5xx) where a refusal or
    /// an acceptance was due, which leaves the conversation's state unknown.
    private static func endsConnection(_ reply: SMTPReply) -> Bool {
        reply.code == 421 || !(400...599).contains(reply.code)
    }

    /// The envelope's steps, in the order their commands go and their replies come.
    private static let envelopeSteps: [SMTPStage] = [.sender, .recipient, .data]

    /// Room to reserve after a message's bytes: dot-stuffing's added dots and the final ".", and
    /// the next message's envelope (three command lines around two addresses). A guess: a
    /// buffer that needs more grows.
    private static let roomAfterMessage = 512

    /// Appends the envelope of `carried`, the message to go with a final ".", to `bytes` when its
    /// addresses can go in command lines; whether it did. One that cannot is sent as any other
    /// message next (``send(_:window:committing:)``), which refuses it without a word to the server.
    private func appendCarriedEnvelope(of carried: OutgoingMessage?, to bytes: inout [UInt8]) -> Bool {
        guard let carried, SMTPEnvelope.problem(sender: carried.sender, recipient: carried.recipient) == nil else { return false }
        appendEnvelope(of: carried, to: &bytes)
        return true
    }

    /// The envelope's three command lines, appended to `bytes`.
    private func appendEnvelope(of message: OutgoingMessage, to bytes: inout [UInt8]) {
        appendCommand(.sender, for: message, to: &bytes)
        appendCommand(.recipient, for: message, to: &bytes)
        appendCommand(.data, for: message, to: &bytes)
    }

    /// One command line of the envelope on its own (without PIPELINING each waits for its reply).
    private func command(_ step: SMTPStage, for message: OutgoingMessage) -> [UInt8] {
        var line: [UInt8] = []
        appendCommand(step, for: message, to: &line)
        return line
    }

    /// Appends the envelope's command line for `step` (`.sender`, `.recipient` or `.data`) to
    /// `bytes`. SIZE= lets a server refuse an oversized message before its data (RFC 1870);
    /// SMTPUTF8 marks an address that is not ASCII, for a server that offers it (RFC 6531
    /// section 3.4).
    private func appendCommand(_ step: SMTPStage, for message: OutgoingMessage, to bytes: inout [UInt8]) {
        switch step {
        case .sender:
            bytes.append(contentsOf: "MAIL FROM:<".utf8)
            domainForms.appendWireForm(of: message.sender, to: &bytes)
            bytes.append(UInt8(ascii: ">"))
            if capabilities.size { bytes.append(contentsOf: " SIZE=\(message.bytes.count)".utf8) }
            if capabilities.smtpUTF8 && (SMTPEnvelope.hasNonASCII(message.sender) || SMTPEnvelope.hasNonASCII(message.recipient)) {
                bytes.append(contentsOf: " SMTPUTF8".utf8)
            }
            bytes.append(contentsOf: [0x0D, 0x0A])
        case .recipient:
            bytes.append(contentsOf: "RCPT TO:<".utf8)
            domainForms.appendWireForm(of: message.recipient, to: &bytes)
            bytes.append(contentsOf: ">\r\n".utf8)
        default:
            bytes.append(contentsOf: "DATA\r\n".utf8)
        }
    }

    /// RSET after a refused MAIL or RCPT, so the connection can carry the next message; false
    /// when the server did not take it (the connection is then given up).
    private func resetTransaction(on wire: SMTPWire, until deadline: UInt64) -> Bool {
        do {
            try wire.send(Self.reset, until: deadline)
            return try wire.readReply(until: deadline).isPositive
        } catch {
            return false
        }
    }

    /// Opens a connection with curl; nil when it is open, else the verdict on the message.
    private func connect(sender: String) -> SMTPVerdict? {
        if handle == nil {
            do throws(SMTPConfigurationError) {
                try openHandle()
            } catch {
                return SMTPVerdict(outcome: .temporaryFailure(error.message), sessionFailure: nil, sessionWorked: false)
            }
        }
        guard let handle else { return nil }
        exchange.begin()
        errorBuffer[0] = 0
        let result = curl_easy_perform(handle)
        var opened = 0
        if ccurl_get_long(handle, CURLINFO_NUM_CONNECTS, &opened) == CURLE_OK { connectionsOpened += opened }
        var socket = curl_socket_t(-1)
        if result == CURLE_OK && ccurl_get_socket(handle, &socket) == CURLE_OK && socket >= 0 {
            // No TLS asked for (no smtps, no STARTTLS): curl left the connection as TCP alone.
            wire = SMTPWire(handle: handle, socket: socket, plain: configuration.security == .none)
            capabilities = exchange.capabilities
            return nil
        }

        // A code from an earlier attempt is stale when the server said nothing this time.
        var replyCode = 0
        if exchange.heardServer { _ = ccurl_get_long(handle, CURLINFO_RESPONSE_CODE, &replyCode) }
        var curlMessage = String(cString: errorBuffer)
        if curlMessage.isEmpty { curlMessage = String(cString: curl_easy_strerror(result)) }
        var systemError = 0
        _ = ccurl_get_long(handle, CURLINFO_OS_ERRNO, &systemError)
        var connectSeconds = 0.0
        _ = ccurl_get_double(handle, CURLINFO_CONNECT_TIME, &connectSeconds)
        let attempt = SMTPAttempt(
            result: result, replyCode: replyCode, replyText: exchange.replyText,
            stage: exchange.stage, connected: connectSeconds > 0, systemError: Int32(systemError),
            curlMessage: curlMessage, openedConnection: opened > 0)
        hangUp()
        return classifier.verdict(of: attempt, sender: sender)
    }

    /// The verdict on a reply that refused the message (or was no reply the step allows).
    private func refused(_ reply: SMTPReply, at stage: SMTPStage, sender: String) -> SMTPVerdict {
        let refusal = (400...599).contains(reply.code)
        let attempt = SMTPAttempt(
            result: refusal ? CURLE_OK : CURLE_WEIRD_SERVER_REPLY, replyCode: refusal ? reply.code : 0,
            replyText: reply.oneLine, stage: stage, connected: true, systemError: 0,
            curlMessage: "unexpected reply: \(reply.oneLine)", openedConnection: false)
        return classifier.verdict(of: attempt, sender: sender)
    }

    /// The verdict when the connection failed during the transaction.
    private func lost(_ failure: SMTPWire.Failure, at stage: SMTPStage, sender: String) -> SMTPVerdict {
        let result: CURLcode, message: String
        switch failure {
        case .timedOut: (result, message) = (CURLE_OPERATION_TIMEDOUT, "")
        case .closed: (result, message) = (CURLE_RECV_ERROR, "the server closed the connection")
        case .failed(let code): (result, message) = (code, String(cString: curl_easy_strerror(code)))
        case .replyTooLong: (result, message) = (CURLE_WEIRD_SERVER_REPLY, "the server's reply is longer than \(SMTPWire.replyLimit) bytes")
        }
        let attempt = SMTPAttempt(
            result: result, replyCode: 0, replyText: nil, stage: stage, connected: true, systemError: 0,
            curlMessage: message, openedConnection: false)
        return classifier.verdict(of: attempt, sender: sender)
    }

    /// QUIT on an open connection, waiting for the reply at most the message timeout (RFC 5321
    /// section 4.1.1.10: the client waits for it before closing).
    private func sayGoodbye() {
        let deadline = SMTPWire.deadline(after: configuration.timeout)
        if sendQuit(until: deadline) { awaitQuitReply(until: deadline) }
    }

    /// The first half of a goodbye: QUIT goes out on the open connection, if there is one. False
    /// when there was none or it could not be sent (the connection is then closed).
    /// ``SMTPTransport`` sends every connection's QUIT before it waits for any reply, so the
    /// replies are awaited side by side, within one deadline.
    func sendQuit(until deadline: UInt64) -> Bool {
        guard let wire else { return false }
        do throws(SMTPWire.Failure) {
            try wire.send(Self.quit, until: deadline)
            return true
        } catch {
            hangUp()
            return false
        }
    }

    /// The second half: waits for the reply to QUIT until `deadline` (not past it, whatever the
    /// server does), then closes the connection.
    func awaitQuitReply(until deadline: UInt64) {
        guard let wire else { return }
        _ = try? wire.readReply(until: deadline)
        hangUp()
    }

    /// Ends the connection, if one is open, without a word, and drops the handle. The socket is
    /// shut down first: curl would otherwise say QUIT itself on cleanup and wait for the reply
    /// of a server that may be the one that stopped answering.
    func hangUp() {
        wire = nil
        envelopeInFlight = false
        guard let handle else { return }
        var socket = curl_socket_t(-1)
        if ccurl_get_socket(handle, &socket) == CURLE_OK, socket >= 0 {
            _ = shutdown(socket, Int32(SHUT_RDWR))
        }
        curl_easy_cleanup(handle)
        self.handle = nil
    }
}

/// CURLOPT_DEBUGFUNCTION: follows the set-up conversation so failures can quote the server.
private let watchConversation: ccurl_debug_cb = { _, kind, data, size, context in
    guard let data, let context else { return 0 }
    let exchange = Unmanaged<SMTPExchange>.fromOpaque(context).takeUnretainedValue()
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    switch kind {
    case CURLINFO_HEADER_IN: exchange.serverSent(bytes)
    case CURLINFO_HEADER_OUT: exchange.clientSent(bytes)
    default: break
    }
    return 0
}
