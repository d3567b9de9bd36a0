import CCurl

/// Delivers over SMTP with libcurl, reusing each connection for many messages.
///
/// ```swift
/// let transport = try SMTPTransport(configuration: .init(server: "127.0.0.1", port: 2525))
/// try transport.deliver(batch) { message, outcome in
///     try outbox.record(message.id, outcome)       // runs on this thread, once per message
/// }
/// if let reason = transport.suspendedReason { log("SMTP delivery suspended: \(reason)") }
/// ```
///
/// Up to `maxConnections` messages are in flight at once, each on its own connection, all driven
/// by libcurl's multi interface on the calling thread: no worker threads, no locks, and `report`
/// runs on the calling thread as soon as the server has answered a message (in completion
/// order). Connections stay open between `deliver` calls.
///
/// Like Postfix's "dead destination", the first failure that is the server's or the settings'
/// rather than a message's (connection refused, DNS, TLS, certificate, no STARTTLS, a refusing
/// greeting or EHLO, failed AUTH, a 530/534/538 demand for TLS or login, a timeout at any stage,
/// a 421 reply at any stage) suspends delivery for the rest of this transport's life, which is
/// one run: every message not yet started, in this and later `deliver` calls, is reported as a
/// temporary failure "not tried (delivery suspended for this run): <reason>" without contacting
/// the server. Messages already in flight on other connections finish and are reported normally.
/// A refused recipient, sender or message (any reply after MAIL FROM other than 421) never
/// suspends. A connection that timed out is shut down at once, so closing the transport never
/// waits for a silent server's reply to QUIT. Until one session has got past AUTH, only one
/// connection is used, so a wrong password costs one failed login per run, not one per
/// connection.
///
/// If `report` throws, the transfers in flight are cut off (they were not reported, so the outbox
/// sends them again: at most `maxConnections - 1` duplicates) and `deliver` rethrows.
public final class SMTPTransport: MailTransport {
    public let configuration: SMTPConfiguration
    private let multi: UnsafeMutableRawPointer
    /// Created as needed, up to `maxConnections`; their connections live in `multi`'s cache.
    private var connections: [SMTPConnection] = []
    /// What the messages so far have shown about the server.
    private var server = SMTPServerState()

    /// Fails when a setting can never work (empty server, unreadable CA file, …).
    public init(configuration: SMTPConfiguration) throws {
        try CurlLibrary.load(for: configuration)
        try configuration.validate()
        guard SMTPConnection.libraryReady, let multi = curl_multi_init() else {
            throw SMTPConfigurationError(message: "smtp \(configuration.serverLabel): libcurl could not be initialised")
        }
        self.configuration = configuration
        self.multi = multi
        // Keep every connection open between batches (curl's default cache is 4 per active
        // transfer, so a one-message batch would otherwise close the others).
        _ = ccurl_multi_set_long(multi, CURLMOPT_MAXCONNECTS, configuration.maxConnections)
        // The first handle now, so a setting libcurl refuses fails here rather than per message.
        connections.append(try SMTPConnection(configuration: configuration))
    }

    deinit {
        connections.removeAll()
        curl_multi_cleanup(multi)  // says QUIT on the connections still open
    }

    /// TCP connections opened so far: with nothing failing, one per connection ever used.
    public var connectionsOpened: Int { connections.reduce(0) { $0 + $1.connectionsOpened } }

    /// Why delivery is suspended for the rest of the run (the first connection-level failure,
    /// e.g. "connection refused"), or nil while the server is being tried.
    public var suspendedReason: String? { server.suspendedReason }

    /// Messages handed to libcurl so far, each one a conversation with the server.
    var transfersStarted: Int { server.transfersStarted }

    public func deliver(_ messages: [OutgoingMessage], report: (OutgoingMessage, DeliveryOutcome) throws -> Void) throws {
        // A suspended run contacts nobody; one handle is enough to report the messages.
        let wanted = min(server.suspendedReason == nil ? configuration.maxConnections : 1, messages.count)
        while connections.count < wanted {
            connections.append(try SMTPConnection(configuration: configuration))
        }
        var run = DeliveryRun(multi: multi, messages: messages, label: configuration.serverLabel, server: server)
        defer { server = run.server }
        do {
            try run.deliver(on: connections.prefix(wanted), report: report)
        } catch {
            run.cutOff()
            throw error
        }
    }
}

/// One `deliver` call: which message is next and which connection carries which message.
private struct DeliveryRun {
    let multi: UnsafeMutableRawPointer
    let messages: [OutgoingMessage]
    let label: String
    var server: SMTPServerState
    private var next = 0
    private var inFlight: [UnsafeMutableRawPointer: (connection: SMTPConnection, message: OutgoingMessage)] = [:]
    /// Connections held back until a session has worked (slow start).
    private var waiting: [SMTPConnection] = []

    init(multi: UnsafeMutableRawPointer, messages: [OutgoingMessage], label: String, server: SMTPServerState) {
        self.multi = multi
        self.messages = messages
        self.label = label
        self.server = server
    }

    mutating func deliver(on connections: ArraySlice<SMTPConnection>,
                          report: (OutgoingMessage, DeliveryOutcome) throws -> Void) throws {
        var starting = Array(connections)
        if !server.sessionWorked && starting.count > 1 {
            waiting = Array(starting.dropFirst())
            starting = [starting[0]]
        }
        for connection in starting {
            try startNext(on: connection, report: report)
        }
        while !inFlight.isEmpty {
            var running: Int32 = 0
            let performed = curl_multi_perform(multi, &running)
            if performed != CURLM_OK {
                try failEverything("libcurl failed: \(String(cString: curl_multi_strerror(performed)))", report: report)
                return
            }
            var queued: Int32 = 0
            var finishedAny = false
            while let info = curl_multi_info_read(multi, &queued) {
                guard info.pointee.msg == CURLMSG_DONE, let handle = info.pointee.easy_handle else { continue }
                let result = info.pointee.data.result
                if result == CURLE_OPERATION_TIMEDOUT { inFlight[handle]?.connection.hangUp() }
                curl_multi_remove_handle(multi, handle)  // invalidates `info`
                guard let (connection, message) = inFlight.removeValue(forKey: handle) else { continue }
                let verdict = connection.finish(result)
                if verdict.sessionWorked { server.sessionWorked = true }
                if server.suspendedReason == nil { server.suspendedReason = verdict.sessionFailure }
                try report(message, verdict.outcome)
                try startNext(on: connection, report: report)
                if server.sessionWorked {
                    let idle = waiting
                    waiting = []
                    for connection in idle { try startNext(on: connection, report: report) }
                }
                finishedAny = true
            }
            // A transfer just started sends MAIL FROM on the next perform, so only wait when
            // nothing finished. curl caps the wait at its next timer (timeouts).
            if !inFlight.isEmpty && !finishedAny {
                _ = curl_multi_poll(multi, nil, 0, 1000, nil)
            }
        }
    }

    /// Starts the next message that can be sent on `connection`; messages that must not be sent
    /// at all are reported on the way.
    private mutating func startNext(on connection: SMTPConnection,
                                    report: (OutgoingMessage, DeliveryOutcome) throws -> Void) throws {
        while next < messages.count {
            let message = messages[next]
            next += 1
            if let reason = server.suspendedReason {
                try report(message, notTried(message, because: reason))
                continue
            }
            if let refused = connection.prepare(message) {
                try report(message, refused)
                continue
            }
            guard curl_multi_add_handle(multi, connection.handle) == CURLM_OK else {
                connection.abandon()
                try report(message, .temporaryFailure("smtp \(label): libcurl could not start a transfer"))
                continue
            }
            inFlight[connection.handle] = (connection, message)
            server.transfersStarted += 1
            return
        }
    }

    /// A message left alone because the server failed earlier in the run. An address that could
    /// never be sent stays a permanent failure: that needs no server to know.
    private func notTried(_ message: OutgoingMessage, because reason: String) -> DeliveryOutcome {
        let prefix = "smtp \(label): "
        if let problem = SMTPEnvelope.problem(sender: message.sender, recipient: message.recipient) {
            return .permanentFailure(prefix + problem)
        }
        return .temporaryFailure(prefix + "not tried (delivery suspended for this run): \(reason)")
    }

    /// After `report` threw: stops the transfers in flight without reporting them.
    mutating func cutOff() {
        for (handle, entry) in inFlight {
            curl_multi_remove_handle(multi, handle)
            entry.connection.abandon()
        }
        inFlight.removeAll()
        next = messages.count
    }

    private mutating func failEverything(_ reason: String, report: (OutgoingMessage, DeliveryOutcome) throws -> Void) throws {
        let unfinished = inFlight.values.map(\.message) + messages[next...]
        cutOff()
        for message in unfinished {
            try report(message, .temporaryFailure("smtp \(label): \(reason)"))
        }
    }
}
