import Foundation

/// The outbox as operators read it: sent history and pending mail by recipient and time, one
/// message in full, and sending deferred mail now (`mail list`, `mail show`, `mail flush`).
///
///     let sent = try store.mailEntries(MailQuery(states: ["sent"], recipient: "ann@example.com", limit: 20))
public struct MailQuery: Sendable {
    public var states: [String]
    public var recipient: String?
    /// Sent mail: sent at or after; other states: queued at or after.
    public var since: Int64?
    public var limit: Int

    public init(states: [String], recipient: String? = nil, since: Int64? = nil, limit: Int = 1000) {
        self.states = states
        self.recipient = recipient
        self.since = since
        self.limit = limit
    }
}

/// One outbox row in full, for `mail show`.
public struct MailDetails: Sendable {
    public let entry: Outbox.Entry
    public let sender: String
    public let messageID: String
    public let lastAttemptAt: Int64?
    public let sentAt: Int64?
    /// The message's header section as stored (CRLF line ends), without the body.
    public let headers: String
    public let size: Int
}

extension Store {
    /// Outbox rows matching `query`: sent mail newest first, the rest in queue order.
    public func mailEntries(_ query: MailQuery) throws -> [(entry: Outbox.Entry, sentAt: Int64?)] {
        var clauses = ["o.state IN (\(query.states.map { _ in "?" }.joined(separator: ", ")))"]
        var arguments: [DatabaseValueConvertible] = query.states
        if let recipient = query.recipient {
            clauses.append("m.recipient = ? COLLATE NOCASE")
            arguments.append(recipient)
        }
        let sentOnly = query.states == ["sent"]
        if let since = query.since {
            clauses.append(sentOnly ? "o.sent_at >= ?" : "o.created_at >= ?")
            arguments.append(since)
        }
        arguments.append(query.limit)
        return try db.map("""
            SELECT o.id AS id, m.recipient AS recipient, m.subject AS subject, o.state AS state, o.attempts AS attempts,
                   o.created_at AS created_at, o.next_attempt_at AS next_attempt_at, o.last_error AS last_error,
                   o.sent_at AS sent_at, o.acknowledged_at AS acknowledged_at
            FROM outbox AS o JOIN outbox_message AS m ON m.outbox_id = o.id
            WHERE \(clauses.joined(separator: " AND ")) ORDER BY o.id \(sentOnly ? "DESC" : "ASC") LIMIT ?
            """, arguments) {
            (entry: Outbox.Entry(id: try $0.int64("id"), recipient: try $0.string("recipient"), subject: try $0.string("subject"),
                                 state: try $0.string("state"), attempts: try $0.int("attempts"), createdAt: try $0.int64("created_at"),
                                 nextAttemptAt: try $0.int64("next_attempt_at"), lastError: try $0.optionalString("last_error"),
                                 acknowledgedAt: try $0.optionalInt64("acknowledged_at")),
             sentAt: try $0.optionalInt64("sent_at"))
        }
    }

    /// One message with its headers, or nil when there is no such id (sent mail is purged after KeepDays).
    public func mailDetails(id: Int64) throws -> MailDetails? {
        try db.first("""
            SELECT id, recipient, subject, state, attempts, created_at, next_attempt_at, last_error,
                   sender, message_id, last_attempt_at, sent_at, substr(message, 1, 65536) AS head, length(message) AS size,
                   acknowledged_at
            FROM outbox JOIN outbox_message ON outbox_message.outbox_id = outbox.id WHERE outbox.id = ?
            """, [id]) { row in
            let head = try row.bytes("head")
            let end = Self.headerEnd(head)
            return MailDetails(
                entry: Outbox.Entry(id: try row.int64("id"), recipient: try row.string("recipient"), subject: try row.string("subject"),
                                    state: try row.string("state"), attempts: try row.int("attempts"),
                                    createdAt: try row.int64("created_at"), nextAttemptAt: try row.int64("next_attempt_at"),
                                    lastError: try row.optionalString("last_error"),
                                    acknowledgedAt: try row.optionalInt64("acknowledged_at")),
                sender: try row.string("sender"), messageID: try row.string("message_id"),
                lastAttemptAt: try row.optionalInt64("last_attempt_at"), sentAt: try row.optionalInt64("sent_at"),
                headers: String(decoding: head[..<end], as: UTF8.self), size: try row.int("size"))
        }
    }

    /// Where the header section ends: the first empty line (RFC 5322 §2.1).
    private static func headerEnd(_ bytes: [UInt8]) -> Int {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard bytes.count >= 4 else { return bytes.count }
        for index in 0...(bytes.count - 4) where bytes[index..<(index + 4)].elementsEqual(separator) {
            return index + 2
        }
        return bytes.count
    }

    /// Makes every deferred message due at `now`, so the next delivery tries it at once; returns how many.
    public func releaseDeferred(now: Int64) throws -> Int {
        try db.execute("UPDATE outbox SET next_attempt_at = ? WHERE state = 'deferred' AND next_attempt_at > ?", [now, now])
        return db.changes
    }

    /// How many messages are deferred.
    public func deferredCount() throws -> Int {
        try db.scalarInt("SELECT count(*) FROM outbox WHERE state = 'deferred'") ?? 0
    }
}
