import Foundation

/// A message in the outbox that a bounce was recorded for, as `mail list` shows it.
///
///     for message in try store.bouncedMessages() {
///         print(message.id, message.hard ? "hard" : "soft", message.status, message.diagnostic)
///     }
public struct BouncedMessage: Sendable, Equatable {
    public let id: Int64
    public let recipient: String
    public let subject: String
    public let attempts: Int
    /// The hard bounce when there is one, else the soft one.
    public let hard: Bool
    public let status: String
    public let diagnostic: String
    public let receivedAt: Int64
}

/// What recording one bounce did.
///
///     let record = try store.recordBounce(outboxID: 42, recipient: "ann@example.com", hard: true, status: "5.1.1",
///                                         diagnostic: "unknown user", disableAfter: 3, now: now)
///     record.count         // 3: the third hard bounce
///     record.disabledUser  // true: ann@example.com gets no more mail
public struct BounceRecord: Sendable, Equatable {
    /// False when this message already had a bounce of this kind: nothing was counted.
    public var counted: Bool
    /// Hard bounces of the address since it was last disabled (before any reset), or soft ones ever.
    public var count: Int
    /// True when this bounce reached `BounceDisableAfter` and a user with the address was disabled.
    public var disabledUser: Bool
    /// True when the address reached `BounceDisableAfter` (with or without a user to disable).
    public var reachedLimit: Bool
    /// True when this bounce reached the limit for an address that has no user: it gets no more mail.
    public var suppressed = false
}

/// An address's bounce counts, for `user show`.
///
///     if let bounces = try store.bounceSummary(email: "ann@example.com") { print(bounces.hard, bounces.soft) }
public struct BounceSummary: Sendable, Equatable {
    /// Hard bounces since the address was last disabled by them.
    public let hard: Int
    public let soft: Int
    public let lastStatus: String
    /// When hard bounces last disabled the address (or suppressed it), if ever.
    public let disabledAt: Int64?
}

/// The VERP secret, bounces and per-address bounce counts.
extension Store {
    /// The installation's VERP key: 32 random bytes made on first use and kept in the store, so
    /// every process of the installation (run, bounce) agrees on it.
    public func verpSecret() throws -> [UInt8] {
        if let secret = try existingVERPSecret() { return secret }
        // Two processes may both get here: the first insert wins and both read the same value.
        try db.execute("INSERT INTO installation_secret(name, value) VALUES ('verp', ?) ON CONFLICT(name) DO NOTHING",
                       [Crypto.randomBytes(32)])
        guard let secret = try db.first("SELECT value FROM installation_secret WHERE name = 'verp'", [], { try $0.bytes("value") }) else {
            throw EventFilterError.failure("could not keep the bounce address secret in the store")
        }
        return secret
    }

    /// The VERP key, or nil when no message has been sent with a bounce address yet (reading a
    /// bounce never makes one: a bounce that could not be ours changes nothing).
    public func existingVERPSecret() throws -> [UInt8]? {
        try db.first("SELECT value FROM installation_secret WHERE name = 'verp'", [], { try $0.bytes("value") })
    }

    /// The recipient of outbox message `id`, or nil when there is no such message (never was, or purged).
    public func outboxRecipient(id: Int64) throws -> String? {
        try db.first("SELECT recipient FROM outbox_message WHERE outbox_id = ?", [id]) { try $0.string("recipient") }
    }

    /// Records one bounce of message `outboxID` to `recipient` and counts it for the address, in
    /// one transaction. The `disableAfter`-th hard bounce disables the user with that address and
    /// restarts the count, so a re-enabled address is disabled again only after as many new ones.
    /// With `counting` false the bounce is only recorded on the message.
    public func recordBounce(outboxID: Int64, recipient: String, hard: Bool, status: String, diagnostic: String,
                             disableAfter: Int, counting: Bool = true, now: Int64) throws -> BounceRecord {
        try db.inTransaction {
            try db.execute("""
                INSERT INTO bounce(outbox_id, hard, recipient, status, diagnostic, received_at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT(outbox_id, hard) DO NOTHING
                """, [outboxID, hard, recipient, status, diagnostic, now])
            guard db.changes == 1 else {
                return BounceRecord(counted: false, count: 0, disabledUser: false, reachedLimit: false)
            }
            guard counting else {
                return BounceRecord(counted: true, count: 0, disabledUser: false, reachedLimit: false)
            }
            // The count is read back from the statement that raised it: bounces of one address
            // arriving at once on two hosts both count.
            let count = try db.first("""
                INSERT INTO bounce_address(address, hard, soft, last_status, updated_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(address) DO UPDATE SET hard = bounce_address.hard + excluded.hard,
                    soft = bounce_address.soft + excluded.soft, last_status = excluded.last_status, updated_at = excluded.updated_at
                RETURNING hard, soft
                """, [recipient, hard ? 1 : 0, hard ? 0 : 1, status, now]) {
                try $0.int(hard ? "hard" : "soft")
            } ?? 0
            guard hard && count >= disableAfter else {
                return BounceRecord(counted: true, count: count, disabledUser: false, reachedLimit: false)
            }
            try db.execute("UPDATE user SET enabled = 0 WHERE email = ? AND enabled = 1", [recipient])
            let disabled = db.changes > 0
            // Disabled like `user disable`: what still waits for the address is cancelled too.
            if disabled, let user = try self.user(email: recipient) {
                _ = try cancelWaitingMail(userID: user.id, email: user.email, now: now)
            }
            // An address with no user (a custom handler's recipient) is suppressed instead.
            let hasUser = try db.first("SELECT 1 FROM user WHERE email = ?", [recipient]) { _ in true } ?? false
            try db.execute("UPDATE bounce_address SET hard = 0, disabled_at = ?, suppressed = ? WHERE address = ?",
                           [now, !hasUser, recipient])
            return BounceRecord(counted: true, count: count, disabledUser: disabled, reachedLimit: true, suppressed: !hasUser)
        }
    }

    /// The bounce counts of `email`, or nil when no bounce was ever recorded for it.
    public func bounceSummary(email: String) throws -> BounceSummary? {
        try db.first("SELECT hard, soft, last_status, disabled_at FROM bounce_address WHERE address = ?", [email]) {
            BounceSummary(hard: try $0.int("hard"), soft: try $0.int("soft"), lastStatus: try $0.string("last_status"),
                          disabledAt: try $0.optionalInt64("disabled_at"))
        }
    }

    /// True when hard bounces stopped mail to `email`, an address that has no user.
    public func isSuppressedByBounces(_ email: String) throws -> Bool {
        try db.first("SELECT suppressed FROM bounce_address WHERE address = ?", [email]) { try $0.int("suppressed") != 0 } ?? false
    }

    /// The operator's way back after bounces: the address's user is enabled, an address without a
    /// user is no longer suppressed, and its hard bounce count starts again. Returns false when
    /// there was nothing to enable (no user and no bounce record for the address).
    public func enableAfterBounces(email: String, now: Int64) throws -> Bool {
        try db.inTransaction {
            try db.execute("UPDATE user SET enabled = 1 WHERE email = ?", [email])
            let user = db.changes > 0
            try db.execute("UPDATE bounce_address SET hard = 0, suppressed = 0, updated_at = ? WHERE address = ?", [now, email])
            return user || db.changes > 0
        }
    }

    /// Messages with a recorded bounce, oldest first: to `recipient` only, bounced at or after
    /// `since`, at most `limit`.
    public func bouncedMessages(recipient: String? = nil, since: Int64? = nil, limit: Int = 1000) throws -> [BouncedMessage] {
        var clauses: [String] = []
        var arguments: [DatabaseValueConvertible] = []
        if let recipient {
            clauses.append("b.recipient = ? COLLATE NOCASE")
            arguments.append(recipient)
        }
        if let since {
            clauses.append("b.received_at >= ?")
            arguments.append(since)
        }
        arguments.append(limit)
        // One row per message: its hard bounce when there is one, else the soft one.
        return try db.map("""
            SELECT o.id AS id, m.recipient AS recipient, m.subject AS subject, o.attempts AS attempts, b.hard AS hard,
                   b.status AS status, b.diagnostic AS diagnostic, b.received_at AS received_at
            FROM (SELECT b.*, row_number() OVER (PARTITION BY b.outbox_id ORDER BY b.hard DESC) AS rank FROM bounce AS b
                  \(clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND "))) AS b
            JOIN outbox AS o ON o.id = b.outbox_id JOIN outbox_message AS m ON m.outbox_id = o.id
            WHERE b.rank = 1 ORDER BY o.id LIMIT ?
            """, arguments) {
            BouncedMessage(id: try $0.int64("id"), recipient: try $0.string("recipient"), subject: try $0.string("subject"),
                           attempts: try $0.int("attempts"), hard: try $0.int("hard") != 0, status: try $0.string("status"),
                           diagnostic: try $0.string("diagnostic"), receivedAt: try $0.int64("received_at"))
        }
    }

    /// The bounces recorded for message `id`: (hard, status, diagnostic, received at), hard first.
    public func bounces(ofMessage id: Int64) throws -> [(hard: Bool, status: String, diagnostic: String, receivedAt: Int64)] {
        try db.map("SELECT hard, status, diagnostic, received_at FROM bounce WHERE outbox_id = ? ORDER BY hard DESC", [id]) {
            (hard: try $0.int("hard") != 0, status: try $0.string("status"), diagnostic: try $0.string("diagnostic"),
             receivedAt: try $0.int64("received_at"))
        }
    }

    /// Bounces older than the retention go, like the sent mail they were about.
    func purgeBounces(before cutoff: Int64) throws {
        try db.execute("DELETE FROM bounce WHERE received_at < ?", [cutoff])
    }
}
