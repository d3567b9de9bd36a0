import CCurl
import Foundation

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
/// Up to `maxConnections` messages are in flight at once, each connection on a thread of its own
/// that waits in poll(2) for its own replies (``SMTPConnection``: libcurl opens the connection,
/// the pipelined mail transaction is ours). Outcomes are handed to the calling thread,
/// which records them in groups while the connections go on: a connection sends a message's final
/// "." only while fewer than `unrecordedLimit` accepted or answered messages wait for their record
/// (``SMTPDeliveryRun``), so a crash sends at most that many again. It defaults to
/// `maxConnections`, one per connection, which is what a commit after each message allowed.
/// Through ``deliver(_:recordingOn:)`` the connections' threads commit the outcomes instead, each
/// on a store connection of its own, by group commit among themselves, within the same window.
/// Connections stay open between `deliver` calls.
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
/// If `report` (or `record`) throws, no message is started or completed any more; the messages
/// whose final "." was already sent finish unreported (the outbox sends them again: within the
/// same bound) and `deliver` rethrows once every connection's thread is done.
public final class SMTPTransport: ThreadRecordingTransport {
    public let configuration: SMTPConfiguration
    /// Created as needed, up to `maxConnections`; each handle keeps its own connection open.
    private var connections: [SMTPConnection] = []
    /// What the messages so far have shown about the server.
    private var server = SMTPServerState()

    /// Fails when a setting can never work (empty server, unreadable CA file, …).
    public init(configuration: SMTPConfiguration) throws {
        try CurlLibrary.load(for: configuration)
        try configuration.validate()
        self.configuration = configuration
        // The first handle now, so a setting libcurl refuses fails here rather than per message.
        connections.append(try SMTPConnection(configuration: configuration))
    }

    deinit {
        // QUIT on every open connection first, then the replies, all within one timeout: a
        // server that never answers QUIT holds the run one timeout, not one per connection.
        let deadline = SMTPWire.deadline(after: configuration.timeout)
        let closing = connections.filter { $0.sendQuit(until: deadline) }
        for connection in closing { connection.awaitQuitReply(until: deadline) }
        connections.removeAll()
    }

    /// TCP connections opened so far: with nothing failing, one per connection ever used.
    public var connectionsOpened: Int { connections.reduce(0) { $0 + $1.connectionsOpened } }

    /// Messages whose final "." went out in a write of its own (the window was full when the
    /// message was ready), over every connection so far.
    var finalDotsSentAlone: Int { connections.reduce(0) { $0 + $1.finalDotsSentAlone } }

    /// Why delivery is suspended for the rest of the run (the first connection-level failure,
    /// e.g. "connection refused"), or nil while the server is being tried.
    public var suspendedReason: String? { server.suspendedReason }

    /// Messages whose attempt has started so far (a mail transaction with the server, on a
    /// connection opened for it when none was open).
    var transfersStarted: Int { server.transfersStarted }

    /// How many messages may be in the server's hands (final "." sent) before their outcome is
    /// recorded: `MaxUnrecordedAcceptances`, else one per connection.
    public var unrecordedLimit: Int { configuration.maxUnrecordedAcceptances ?? configuration.maxConnections }

    public func deliver(_ messages: [OutgoingMessage], report: (OutgoingMessage, DeliveryOutcome) throws -> Void) throws {
        try deliver(messages) { group in
            for finished in group { try report(finished.message, finished.outcome) }
        }
    }

    public func deliver(_ messages: [OutgoingMessage], recordingGroups record: ([(message: OutgoingMessage, outcome: DeliveryOutcome)]) throws -> Void) throws {
        guard !messages.isEmpty else { return }
        let run = try start(messages, recordingOn: nil)
        do {
            while let group = run.takeFinished() {
                try record(group.map { ($0.message, $0.outcome) })
                run.recorded(group)
            }
        } catch {
            run.cutOff()
            server = run.server
            throw error
        }
        server = run.server
    }

    /// While the window holds no more than one message per connection (the default), where a
    /// group could hold at most one of each connection's acceptances: the commit then overlaps
    /// the next message's envelope on a connection's own thread rather than waiting for two
    /// hand-offs (to the calling thread and back). On PostgreSQL, whose commits cost its server
    /// real work, the connections' threads then commit whole windows (``SMTPDeliveryRun``'s
    /// `gathersWholeWindow`), as the calling thread's groups did: with 4 connections 3.8 messages
    /// a commit either way, and 60-62 us of our CPU a message against 81-84 with the hand-offs
    /// (10,000 messages: 1.42-1.43 s against 1.61-1.93 s).
    /// A wider window (`MaxUnrecordedAcceptances` above `MaxConnections`) is grouped on the
    /// calling thread on both stores: on SQLite a commit per message there cost more than the
    /// hand-offs it saves (4 connections and a window of 64 were faster grouped, README's "SMTP"
    /// has the runs, made while each connection's thread committed its own messages), as each
    /// commit takes and drops SQLite's file locks (`fcntl`) and writes the log once; the group
    /// commit among the connections' threads gathers only the replies of one commit's span.
    var recordsOnItsThreads: Bool {
        unrecordedLimit <= configuration.maxConnections
    }

    /// As `deliver(_:recordingGroups:)`, but the connections' threads commit the outcomes, on
    /// one store connection they share, one commit at a time (``OutcomeRecorders``), by group commit among themselves
    /// (``SMTPDeliveryRun``), and free the messages' places in the window themselves: a final "."
    /// waits only for a commit, not for a hand-off to the calling thread, a commit there and a
    /// hand-off back.
    func deliver(_ messages: [OutgoingMessage], recordingOn recorders: OutcomeRecorders) throws {
        guard !messages.isEmpty else { return }
        let run = try start(messages, recordingOn: recorders)
        let failure = run.waitForWorkers()
        server = run.server
        if let failure { throw failure }
    }

    /// Starts a run of `messages` on as many connections as it wants, each on a thread of its
    /// own. With `recorders`, each thread takes a recorder before its first message (all of
    /// them on the recorders' one store connection, taking turns) and gives it back when done.
    private func start(_ messages: [OutgoingMessage], recordingOn recorders: OutcomeRecorders?) throws -> SMTPDeliveryRun {
        // A suspended run contacts nobody; one handle is enough to report the messages.
        let wanted = min(server.suspendedReason == nil ? configuration.maxConnections : 1, messages.count)
        while connections.count < wanted {
            connections.append(try SMTPConnection(configuration: configuration))
        }
        let run = SMTPDeliveryRun(messages: messages, label: configuration.serverLabel, server: server,
                                  unrecordedLimit: unrecordedLimit, workers: wanted, recordsOnWorkers: recorders != nil,
                                  gathersWholeWindow: recorders?.commitsAreCostly ?? false)
        for (worker, connection) in connections.prefix(wanted).enumerated() {
            let thread = Thread {
                defer { run.workerDone() }
                guard let recorders else {
                    connection.work(for: run, as: worker)
                    return
                }
                let recorder: OutcomeRecorders.Recorder
                do {
                    recorder = try recorders.take()
                } catch {
                    run.recordFailed(error)
                    return
                }
                connection.work(for: run, as: worker, recorder: recorder)
                // Its counts are in the report before the calling thread may read it.
                recorders.giveBack(recorder)
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        return run
    }
}
