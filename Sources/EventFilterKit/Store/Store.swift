import Foundation

/// The installation's SQLite store (`var/eventfilter.db`), created and migrated on first use.
///
///     let store = try Store(root: root)
///     let id = try store.addEvent(type: "ezpublish", params: ["node_id": "77"], now: now)
///
/// The table families live in extensions: events (`EventStore.swift`), users and rules
/// (`UserStore.swift`), status (`StatusReport.swift`), what intake knows of webhook senders' sessions
/// and media (`WebhookObjectStore.swift`); digest items and contents are written by the
/// run (`Handlers/RunContext.swift`), the outbox by `Mail/Outbox.swift`.
public final class Store {
    public let db: Database

    public init(path: String) throws {
        db = try Database(path: path)
        try Migrations.migrate(db)
    }

    /// Opens `<root>/var/eventfilter.db`, creating `var/` when needed.
    public convenience init(root: URL) throws {
        let varDirectory = root.appendingPathComponent("var")
        try FileManager.default.createDirectory(at: varDirectory, withIntermediateDirectories: true)
        try self.init(path: varDirectory.appendingPathComponent("eventfilter.db").path)
    }
}

/// A failure an operator can act on: an unknown user, a bad argument, a broken handler.
/// The command line prints `description` as one line.
public struct EventFilterError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case usage, failure }
    public let kind: Kind
    public let description: String

    public static func usage(_ message: String) -> EventFilterError { .init(kind: .usage, description: message) }
    public static func failure(_ message: String) -> EventFilterError { .init(kind: .failure, description: message) }
}
