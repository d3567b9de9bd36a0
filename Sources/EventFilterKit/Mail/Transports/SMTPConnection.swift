import CCurl

#if canImport(Glibc)
    import Glibc
#endif

/// One libcurl easy handle: one SMTP transfer at a time, on a connection that curl keeps open
/// between transfers (no QUIT), so the second and later messages cost MAIL, RCPT, DATA and nothing
/// else. After a failure curl closes the connection itself and the next message reconnects.
///
/// ``SMTPTransport`` gives each connection a thread of its own for one `deliver` call
/// (``work(for:as:)``): ``prepare(_:window:)``, `curl_easy_perform`, ``finish(_:)`` per message.
/// Not thread-safe: one thread at a time owns it (the transport's between calls, a worker's
/// during one, handed over and back through ``SMTPDeliveryRun``'s lock), hence unchecked Sendable.
final class SMTPConnection: @unchecked Sendable {
    /// curl_global_init runs once per process, before the first handle.
    static let libraryReady: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    let configuration: SMTPConfiguration
    let handle: UnsafeMutableRawPointer
    /// Retained here for the handle's whole life; curl holds an unretained pointer to it.
    private let exchange = SMTPExchange()
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private let classifier: SMTPFailureClassifier
    /// The current message's RCPT list and sender; curl reads the list during the transfer.
    private var recipients: UnsafeMutablePointer<curl_slist>?
    private var sender = ""
    /// CURLOPT_MAIL_FROM holds `sender` (curl keeps options between transfers).
    private var senderSet = false
    /// TCP connections opened so far (CURLINFO_NUM_CONNECTS summed): 1 for a whole run that
    /// reused its connection.
    private(set) var connectionsOpened = 0

    init(configuration: SMTPConfiguration) throws(SMTPConfigurationError) {
        guard Self.libraryReady, let handle = curl_easy_init() else {
            throw SMTPConfigurationError(message: "smtp \(configuration.serverLabel): libcurl could not be initialised")
        }
        self.configuration = configuration
        self.handle = handle
        self.classifier = SMTPFailureClassifier(configuration: configuration)
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        let failed = configure(configuration)
        if failed != CURLE_OK {
            let reason = String(cString: curl_easy_strerror(failed))
            throw SMTPConfigurationError(message: "smtp \(configuration.serverLabel): libcurl rejected a setting: \(reason)")
        }
    }

    deinit {
        abandon()
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// Options that stay the same for every message on this handle; returns the first failure.
    private func configure(_ configuration: SMTPConfiguration) -> CURLcode {
        let context = Unmanaged.passUnretained(exchange).toOpaque()
        var results = [
            ccurl_set_string(handle, CURLOPT_URL, configuration.url),
            ccurl_set_string(handle, CURLOPT_PROTOCOLS_STR, "smtp,smtps"),
            ccurl_set_long(handle, CURLOPT_NOSIGNAL, 1),  // a library must not use SIGALRM behind the app's back
            ccurl_set_long(handle, CURLOPT_UPLOAD, 1),
            ccurl_set_readfunction(handle, uploadMessage, context),
            // VERBOSE only feeds the debug callback (nothing reaches stderr once one is set);
            // it is the one way to learn the text of the server's replies.
            ccurl_set_debugfunction(handle, watchConversation, context),
            ccurl_set_long(handle, CURLOPT_VERBOSE, 1),
            ccurl_set_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer),
            ccurl_set_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(configuration.connectTimeout * 1000)),
            ccurl_set_long(handle, CURLOPT_TIMEOUT_MS, Int(configuration.timeout * 1000)),
            // Bounds the wait for each reply, the QUIT that closes a cached connection included
            // (curl's default is 120 s, and the message timeout does not cover that QUIT).
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

    /// Sends the run's messages one after another until there are none left, then says so.
    func work(for run: SMTPDeliveryRun, as worker: Int) {
        messages: while let message = run.nextMessage(worker: worker) {
            while true {
                if let refused = prepare(message, window: run) {
                    run.finish(message, verdict: SMTPVerdict(outcome: refused, sessionFailure: nil, sessionWorked: false), holdsSlot: false)
                    continue messages
                }
                let result = curl_easy_perform(handle)
                if result == CURLE_OPERATION_TIMEDOUT { hangUp() }
                if exchange.windowExpired {
                    // The earlier outcomes took long to record (a busy store): rather than let
                    // curl's timeout call the server dead, the transfer was given up before its
                    // final "."; the message goes again, from the start, once a place is free.
                    _ = finish(result)
                    guard run.waitForFreeSlot() else { break messages }  // cut off: it stays queued
                    continue
                }
                let holdsSlot = exchange.holdsSlot
                run.finish(message, verdict: finish(result), holdsSlot: holdsSlot)
                continue messages
            }
        }
        run.workerDone()
    }

    /// Readies the handle for one message. Returns an outcome instead when the message must not
    /// be sent at all; otherwise the caller runs the transfer and then calls ``finish(_:)``.
    /// `window`, when given, is asked for a place before the message's final "." goes out.
    func prepare(_ message: OutgoingMessage, window: SMTPDeliveryRun? = nil) -> DeliveryOutcome? {
        if let problem = SMTPEnvelope.problem(sender: message.sender, recipient: message.recipient) {
            return .permanentFailure("smtp \(configuration.serverLabel): \(problem)")
        }
        guard let list = curl_slist_append(nil, "<\(message.recipient)>") else {
            return .temporaryFailure("smtp \(configuration.serverLabel): out of memory")
        }
        recipients = list
        if !senderSet || !message.sender.utf8.elementsEqual(sender.utf8) {
            // curl keeps its own copy of the string; without VERP every message has the same
            // sender, so it is handed over once per connection rather than once per message.
            // Compared byte for byte: Swift's == holds two Unicode normal forms of one address
            // equal, and the envelope must carry the bytes the message was queued with.
            sender = message.sender
            senderSet = ccurl_set_string(handle, CURLOPT_MAIL_FROM, "<\(message.sender)>") == CURLE_OK
        }
        _ = ccurl_set_slist(handle, CURLOPT_MAIL_RCPT, list)
        // Lets curl announce SIZE= so a server can refuse an oversized message before DATA.
        _ = ccurl_set_long(handle, CURLOPT_INFILESIZE, message.bytes.count)
        exchange.begin(uploading: message.bytes, window: window, timeout: configuration.timeout)
        errorBuffer[0] = 0
        return nil
    }

    /// What became of the message after its transfer ended with `result`.
    func finish(_ result: CURLcode) -> SMTPVerdict {
        defer { abandon() }
        var opened = 0
        if ccurl_get_long(handle, CURLINFO_NUM_CONNECTS, &opened) == CURLE_OK { connectionsOpened += opened }
        var replyCode = 0
        if result == CURLE_OK {
            // The transfer ends with the server's reply to the final ".", so the latest reply is
            // the one that accepted the message; its queue id is what the server's log is searched for.
            _ = ccurl_get_long(handle, CURLINFO_RESPONSE_CODE, &replyCode)
            let reply = exchange.replyText ?? String(replyCode)
            return SMTPVerdict(outcome: .accepted(reply), sessionFailure: nil, sessionWorked: true)
        }

        // A code from an earlier message is stale when the server said nothing this time.
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
        return classifier.verdict(of: attempt, sender: sender)
    }

    /// Cuts the connection the last transfer used, if curl still holds it open. After a timeout
    /// the server is not answering: curl may keep such a connection (a timeout while waiting for
    /// the reply to the message leaves it cached) and would later wait again for the reply to
    /// its QUIT. A shut-down socket makes curl see it dead at once and drop it. Call it right
    /// after the transfer, while curl still holds the connection.
    func hangUp() {
        var socket = curl_socket_t(-1)
        guard ccurl_get_socket(handle, &socket) == CURLE_OK, socket >= 0 else { return }
        _ = shutdown(socket, Int32(SHUT_RDWR))
    }

    /// Forgets the current message (after ``finish(_:)``, or when its transfer was cut off).
    func abandon() {
        _ = ccurl_set_slist(handle, CURLOPT_MAIL_RCPT, nil)  // curl must not keep the freed list
        if let recipients { curl_slist_free_all(recipients) }
        recipients = nil
        exchange.finish()
    }
}

/// CURLOPT_READFUNCTION: hands curl the message bytes. Captures nothing, as a C function must.
private let uploadMessage: ccurl_read_cb = { buffer, size, count, context in
    guard let buffer, let context else { return 0 }
    return Unmanaged<SMTPExchange>.fromOpaque(context).takeUnretainedValue()
        .read(into: buffer, capacity: size * count)
}

/// CURLOPT_DEBUGFUNCTION: follows the conversation so failures can quote the server.
private let watchConversation: ccurl_debug_cb = { _, kind, data, size, context in
    guard let data, let context else { return 0 }
    let exchange = Unmanaged<SMTPExchange>.fromOpaque(context).takeUnretainedValue()
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    switch kind {
    case CURLINFO_HEADER_IN: exchange.serverSent(bytes)
    case CURLINFO_HEADER_OUT: exchange.clientSent(bytes)
    case CURLINFO_DATA_OUT: exchange.messageDataStarted()
    default: break
    }
    return 0
}
