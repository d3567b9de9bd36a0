import Foundation

/// Delivers over SMTP with libcurl, reusing each connection for many messages.
///
/// ```swift
/// let transport = try SMTPTransport(configuration: .init(server: "127.0.0.1", port: 2525))
/// try transport.deliver(batch) { message, outcome in
///     try outbox.record(message.id, outcome)       // runs on this thread, once per message
/// }
/// ```
///
/// With `maxConnections == 1` messages go out one after the other on the calling thread over one
/// connection that stays open between `deliver` calls. With more, that many worker threads each
/// open their own connection for the batch and take messages from a shared index; the outcomes
/// come back to the calling thread, which alone calls `report`, in completion order.
///
/// If `report` throws, no further messages are started, the ones in flight finish (their outcomes
/// are not reported: the outbox will send them again, at most `maxConnections` duplicates), and
/// `deliver` rethrows after every worker has stopped.
public final class SMTPTransport: MailTransport {
    public let configuration: SMTPConfiguration
    /// The calling thread's connection, kept open between batches.
    private let connection: SMTPConnection
    private var workerConnectionsOpened = 0

    /// Fails when a setting can never work (empty server, unreadable CA file, …).
    public init(configuration: SMTPConfiguration) throws {
        try configuration.validate()
        self.configuration = configuration
        connection = try SMTPConnection(configuration: configuration)
    }

    /// TCP connections opened so far. Equal to the number of connections used when nothing
    /// failed: one per worker per batch, plus one for the calling thread's connection.
    public var connectionsOpened: Int { connection.connectionsOpened + workerConnectionsOpened }

    public func deliver(_ messages: [OutgoingMessage], report: (OutgoingMessage, DeliveryOutcome) throws -> Void) throws {
        let workers = min(configuration.maxConnections, messages.count)
        if workers <= 1 {
            for message in messages {
                try report(message, connection.send(message))
            }
        } else {
            try deliverInParallel(messages, workers: workers, report: report)
        }
    }

    private func deliverInParallel(
        _ messages: [OutgoingMessage], workers: Int, report: (OutgoingMessage, DeliveryOutcome) throws -> Void
    ) throws {
        let board = DeliveryBoard(messages: messages, workers: workers)
        let configuration = configuration
        for number in 1...workers {
            let thread = Thread {
                // The connection (and its QUIT) ends inside this function, before the calling
                // thread learns the worker finished: no worker outlives `deliver`'s work.
                func work() -> Int {
                    guard let connection = try? SMTPConnection(configuration: configuration) else { return 0 }
                    while let index = board.nextMessage() {
                        board.post(index, connection.send(board.messages[index]))
                    }
                    return connection.connectionsOpened
                }
                board.workerFinished(connectionsOpened: work())
            }
            thread.name = "smtp-\(number)"
            thread.start()
        }

        var reportError: (any Error)?
        while true {
            let news = board.waitForNews()
            for (index, outcome) in news.outcomes where reportError == nil {
                do {
                    try report(messages[index], outcome)
                } catch {
                    reportError = error
                    board.stop()
                }
            }
            if news.allWorkersFinished {
                workerConnectionsOpened += news.connectionsOpened
                if reportError == nil {
                    // Only if no worker could create a handle: nothing was tried, nothing is lost.
                    for index in news.neverStarted {
                        try report(messages[index], .temporaryFailure(
                            "smtp \(configuration.serverLabel): no connection handle could be created"))
                    }
                }
                break
            }
        }
        if let reportError { throw reportError }
    }
}
