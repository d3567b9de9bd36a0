import Foundation

/// A subscriber.
public struct User: Sendable, Equatable {
    public let id: Int64
    public let email: String
    public let name: String
    public let timezone: String
    public let enabled: Bool
}

/// Users, their subtree and collaboration rules, and their digest settings.
extension Store {
    @discardableResult
    public func addUser(email: String, name: String, timezone: String, now: Int64) throws -> User {
        _ = try Mailbox(address: email, name: name.isEmpty ? nil : name)
        _ = try Zone.named(timezone)
        // The address's unique index decides, so two `user add` at once on two hosts add one user.
        guard let id = try db.first("""
            INSERT INTO user(email, name, timezone, token, digest_token, created_at) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT(email) DO NOTHING RETURNING id
            """, [email, name, timezone, Store.newToken(), Store.newToken(), now], { try $0.int64("id") }) else {
            throw EventFilterError.failure("user \(email) already exists")
        }
        return User(id: id, email: email, name: name, timezone: timezone, enabled: true)
    }

    public func user(email: String) throws -> User? {
        try db.first("SELECT id, email, name, timezone, enabled FROM user WHERE email = ?", [email]) {
            User(id: try $0.int64("id"), email: try $0.string("email"), name: try $0.string("name"),
                 timezone: try $0.string("timezone"), enabled: try $0.int("enabled") != 0)
        }
    }

    /// The user with `email`, or a one-line error naming the address.
    public func requireUser(email: String) throws -> User {
        guard let user = try user(email: email) else { throw EventFilterError.failure("unknown user \(email)") }
        return user
    }

    /// Removes the user with their rules and settings, and cancels what was still waiting for
    /// them: queued and deferred mail become `cancelled`, waiting digest items go. Nobody removed
    /// is mailed afterwards. Returns the number of messages cancelled.
    @discardableResult
    public func removeUser(email: String, now: Int64) throws -> Int {
        let user = try requireUser(email: email)
        return try db.inTransaction {
            let cancelled = try cancelWaitingMail(userID: user.id, email: user.email, now: now)
            try db.execute("DELETE FROM user WHERE id = ?", [user.id])
            return cancelled
        }
    }

    /// Disabling a user cancels their waiting mail and digest items, as removing does; their
    /// rules and settings stay for when they are enabled again.
    @discardableResult
    public func setUserEnabled(email: String, _ enabled: Bool, now: Int64) throws -> Int {
        let user = try requireUser(email: email)
        return try db.inTransaction {
            try db.execute("UPDATE user SET enabled = ? WHERE id = ?", [enabled, user.id])
            return enabled ? 0 : try cancelWaitingMail(userID: user.id, email: user.email, now: now)
        }
    }

    public func listUsers() throws -> [User] {
        try db.map("SELECT id, email, name, timezone, enabled FROM user ORDER BY \(db.textOrder("email", ignoringCase: true))") {
            User(id: try $0.int64("id"), email: try $0.string("email"), name: try $0.string("name"),
                 timezone: try $0.string("timezone"), enabled: try $0.int("enabled") != 0)
        }
    }

    // MARK: Subtree rules

    /// Subscribes `email` to everything at or below `node`. Subscribing twice changes nothing.
    public func subscribe(email: String, node: String, now: Int64) throws {
        let user = try requireUser(email: email)
        try Store.validateNode(node)
        try db.execute("""
            INSERT INTO subtree_rule(node_id, user_id, token, created_at) VALUES (?, ?, ?, ?)
            ON CONFLICT(node_id, user_id) DO NOTHING
            """, [node, user.id, Store.newToken(), now])
        try resumeAfterStopAll(userID: user.id)
    }

    /// Subscribing to anything after "stop all" means the reader wants mail again, a custom
    /// handler's included.
    private func resumeAfterStopAll(userID: Int64) throws {
        try db.execute("UPDATE user SET stopped_all = 0 WHERE id = ? AND stopped_all <> 0", [userID])
    }

    /// Whether the user chose "stop all notifications" and has subscribed to nothing since: a
    /// custom handler's mail to them is dropped.
    func hasStoppedAll(userID: Int64) throws -> Bool {
        try db.first("SELECT stopped_all FROM user WHERE id = ?", [userID]) { try $0.int("stopped_all") != 0 } ?? false
    }

    /// "Stop all notifications": every subtree rule, every collaboration rule and the items still
    /// waiting go, and custom handlers' mail stops until the user subscribes again. Returns
    /// whether anything changed.
    func stopAll(userID: Int64, keepingDigestSchedule: Bool) throws -> Bool {
        try db.execute("DELETE FROM subtree_rule WHERE user_id = ?", [userID])
        var removed = db.changes
        try db.execute("DELETE FROM collaboration_rule WHERE user_id = ?", [userID])
        removed += db.changes
        if !keepingDigestSchedule {
            try db.execute("DELETE FROM digest_setting WHERE user_id = ?", [userID])
            removed += db.changes
        }
        try db.execute("UPDATE user SET stopped_all = 1 WHERE id = ? AND stopped_all = 0", [userID])
        removed += db.changes
        return try removeWaitingDigestItems(userID: userID) + removed > 0
    }

    public func unsubscribe(email: String, node: String) throws {
        let user = try requireUser(email: email)
        try db.execute("DELETE FROM subtree_rule WHERE node_id = ? AND user_id = ?", [node, user.id])
        guard db.changes == 1 else { throw EventFilterError.failure("\(email) has no subscription to node \(node)") }
    }

    /// The name the store knows for `email` (`Ann Editor`), or nil when it knows none.
    public func displayName(email: String) throws -> String? {
        let name = try db.first("SELECT name FROM user WHERE email = ?", [email]) { try $0.string("name") }
        guard let name, !name.isEmpty else { return nil }
        return name
    }

    /// One-click unsubscribe (RFC 8058): removes what the token names.
    ///
    /// - a subtree rule's token (immediate subtree mail): that rule;
    /// - a collaboration rule's token (collaboration mail): that rule;
    /// - a user's digest token (digests): every subtree rule, whose items the digests carry, and
    ///   the items still waiting;
    /// - a user's own token ("stop all notifications"): every subtree rule, every collaboration
    ///   rule, the digest schedule and the items still waiting; custom handlers' mail stops too
    ///   until the user subscribes again.
    ///
    /// Idempotent: an unknown or used token removes nothing and is not an error, so a repeated
    /// POST answers the same.
    @discardableResult
    public func unsubscribe(token: String) throws -> Bool {
        try db.inTransaction {
            try db.execute("DELETE FROM subtree_rule WHERE token = ?", [token])
            if db.changes > 0 { return true }
            try db.execute("DELETE FROM collaboration_rule WHERE token = ?", [token])
            if db.changes > 0 { return true }
            if let userID = try db.first("SELECT id FROM user WHERE digest_token = ?", [token], { try $0.int64("id") }) {
                try db.execute("DELETE FROM subtree_rule WHERE user_id = ?", [userID])
                let removed = db.changes
                return try removeWaitingDigestItems(userID: userID) + removed > 0
            }
            guard let userID = try db.first("SELECT id FROM user WHERE token = ?", [token], { try $0.int64("id") }) else { return false }
            return try stopAll(userID: userID, keepingDigestSchedule: false)
        }
    }

    /// Deletes the user's waiting digest items and the contents nobody else waits for; returns
    /// how many items went.
    private func removeWaitingDigestItems(userID: Int64) throws -> Int {
        let contents = try db.map("SELECT content_id FROM digest_item WHERE user_id = ?", [userID]) { try $0.int64("content_id") }
        try db.execute("DELETE FROM digest_item WHERE user_id = ?", [userID])
        let removed = db.changes
        try deleteUnreferencedContents(contents)
        return removed
    }

    public func subscriptions(email: String) throws -> [String] {
        let user = try requireUser(email: email)
        return try db.map("SELECT node_id FROM subtree_rule WHERE user_id = ? ORDER BY \(db.textOrder("node_id"))", [user.id]) {
            try $0.string("node_id")
        }
    }

    /// A node id is one path element: 1 to 200 characters, no `/`, no white space or control
    /// characters, and not `.` or `..`. Any other text (eZ's numbers, a webhook's names,
    /// non-ASCII) is fine: thread ids spell what is not a plain name as a hash.
    static func validateNode(_ node: String) throws {
        // ASCII answered without Foundation's CharacterSet (slow per scalar, and every event's
        // node id passes here): its whitespace there is space and controls, all below 0x21.
        let ok = !node.isEmpty && node.count <= 200 && node != "." && node != ".." && node.unicodeScalars.allSatisfy {
            $0.isASCII ? $0.value > 0x20 && $0.value != 0x7F && $0 != "/" : !CharacterSet.whitespacesAndNewlines.contains($0)
        }
        guard ok else {
            throw EventFilterError.usage("invalid node id '\(printable(node))': one path element, no '/', spaces, '.' or '..'")
        }
    }

    /// `text` for a one-line message: control characters shown as `?`, at most 80 characters.
    static func printable(_ text: String) -> String {
        let scalars = text.unicodeScalars.prefix(80).map { $0.value < 0x20 || $0.value == 0x7F ? "?" : $0 }
        return String(String.UnicodeScalarView(scalars)) + (text.unicodeScalars.count > 80 ? "..." : "")
    }

    /// An opaque, unguessable token: 128 bits from OpenSSL's CSPRNG, as hex.
    static func newToken() -> String {
        Crypto.hexEncode(Crypto.randomBytes(16))
    }

    // MARK: Collaboration rules

    public func collaborationSubscribe(email: String, identifier: String, now: Int64) throws {
        let user = try requireUser(email: email)
        try Store.validateNode(identifier)
        try db.execute("""
            INSERT INTO collaboration_rule(identifier, user_id, token, created_at) VALUES (?, ?, ?, ?)
            ON CONFLICT(identifier, user_id) DO NOTHING
            """, [identifier, user.id, Store.newToken(), now])
        try resumeAfterStopAll(userID: user.id)
    }

    public func collaborationUnsubscribe(email: String, identifier: String) throws {
        let user = try requireUser(email: email)
        try db.execute("DELETE FROM collaboration_rule WHERE identifier = ? AND user_id = ?", [identifier, user.id])
        guard db.changes == 1 else { throw EventFilterError.failure("\(email) has no collaboration rule for \(identifier)") }
    }

    // MARK: Digest settings

    /// Sets (or with nil, removes) the user's digest schedule, and moves the items already
    /// waiting to the new schedule: eZ froze them at their old date.
    public func setDigest(email: String, schedule: DigestSchedule?, now: Int64) throws {
        let user = try requireUser(email: email)
        try db.inTransaction {
            if let schedule {
                let storage = schedule.storage
                try db.execute("""
                    INSERT INTO digest_setting(user_id, frequency, day, minute_of_day) VALUES (?, ?, ?, ?)
                    ON CONFLICT(user_id) DO UPDATE SET frequency = excluded.frequency, day = excluded.day,
                        minute_of_day = excluded.minute_of_day
                    """, [user.id, storage.frequency, storage.day, storage.minuteOfDay])
                let sendAt = schedule.nextSendTime(atOrAfter: now, in: try Zone.named(user.timezone))
                try db.execute("UPDATE digest_item SET send_at = ? WHERE user_id = ?", [sendAt, user.id])
            } else {
                try db.execute("DELETE FROM digest_setting WHERE user_id = ?", [user.id])
                // Without a digest the waiting items go out in one last digest at the next run.
                try db.execute("UPDATE digest_item SET send_at = ? WHERE user_id = ?", [now, user.id])
            }
        }
    }

    public func digestSchedule(userID: Int64) throws -> DigestSchedule? {
        try db.first("SELECT frequency, day, minute_of_day FROM digest_setting WHERE user_id = ?", [userID]) {
            try DigestSchedule(storageFrequency: try $0.string("frequency"), day: try $0.optionalInt("day"),
                               minuteOfDay: try $0.int("minute_of_day"))
        } ?? nil
    }
}
