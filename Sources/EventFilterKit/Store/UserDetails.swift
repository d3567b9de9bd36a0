import Foundation

/// Everything an operator wants to know about one subscriber, read in one go for `user show`.
///
///     let details = try store.userDetails(email: "ann@example.com", now: now)
///     details.subtreeRules.map(\.node)       // ["2", "kaltura"]
///     details.nextDigest                     // when the waiting items go out
public struct UserDetails: Sendable {
    /// A subtree rule with what the node is called: the newest stored event's `name` for it.
    public struct SubtreeRule: Sendable, Equatable {
        public let node: String
        public let nodeName: String?
        public let createdAt: Int64
    }

    /// One message sent (or on its way) to the user.
    public struct Mail: Sendable, Equatable {
        public let id: Int64
        public let state: String
        public let subject: String
        public let createdAt: Int64
        public let sentAt: Int64?
    }

    public let user: User
    public let subtreeRules: [SubtreeRule]
    public let collaborationRules: [String]
    public let digest: DigestSchedule?
    /// The waiting items' send time; without items, the schedule's next one after now.
    public let nextDigest: Int64?
    public let waitingItems: Int
    /// The subjects of the first waiting items, oldest first (at most 10).
    public let waitingSubjects: [String]
    /// The newest messages for the user's address, newest first (at most 10).
    public let recentMail: [Mail]
}

extension Store {
    /// `user show`: the user, their rules with node names, digest, waiting items and recent mail.
    public func userDetails(email: String, now: Int64) throws -> UserDetails {
        let user = try requireUser(email: email)
        let rules = try db.map("SELECT node_id, created_at FROM subtree_rule WHERE user_id = ? ORDER BY \(db.textOrder("node_id"))", [user.id]) {
            (try $0.string("node_id"), try $0.int64("created_at"))
        }
        let subtreeRules = try rules.map { node, created in
            // The newest event of the node names it; events are purged after KeepDays, so it may be unknown.
            let name = try db.first("""
                SELECT json_extract(params, '$.name') AS name FROM event
                WHERE node_id = ? AND json_extract(params, '$.name') IS NOT NULL ORDER BY id DESC LIMIT 1
                """, [node]) { try $0.optionalString("name") } ?? nil
            return UserDetails.SubtreeRule(node: node, nodeName: name, createdAt: created)
        }
        let collaboration = try db.map("SELECT identifier FROM collaboration_rule WHERE user_id = ? ORDER BY \(db.textOrder("identifier"))", [user.id]) {
            try $0.string("identifier")
        }
        let digest = try digestSchedule(userID: user.id)
        let waiting = try db.first("SELECT count(*) AS waiting, min(send_at) AS first FROM digest_item WHERE user_id = ?", [user.id]) {
            (count: try $0.int("waiting"), first: try $0.optionalInt64("first"))
        }
        let subjects = try db.map("""
            SELECT content.subject AS subject FROM digest_item JOIN content ON content.id = digest_item.content_id
            WHERE digest_item.user_id = ? ORDER BY digest_item.content_id LIMIT 10
            """, [user.id]) { try $0.string("subject") }
        var next = waiting?.first
        if next == nil, let digest {
            next = digest.nextSendTime(atOrAfter: now, in: try Zone.named(user.timezone))
        }
        let mail = try db.map("""
            SELECT o.id AS id, o.state AS state, m.subject AS subject, o.created_at AS created_at, o.sent_at AS sent_at
            FROM outbox_message AS m JOIN outbox AS o ON o.id = m.outbox_id
            WHERE m.recipient = ? COLLATE NOCASE ORDER BY m.outbox_id DESC LIMIT 10
            """, [user.email]) {
            UserDetails.Mail(id: try $0.int64("id"), state: try $0.string("state"), subject: try $0.string("subject"),
                             createdAt: try $0.int64("created_at"), sentAt: try $0.optionalInt64("sent_at"))
        }
        return UserDetails(user: user, subtreeRules: subtreeRules, collaborationRules: collaboration, digest: digest,
                           nextDigest: next, waitingItems: waiting?.count ?? 0, waitingSubjects: subjects, recentMail: mail)
    }

    /// `user set`: changes the given fields of one user in one transaction. A new time zone moves the
    /// waiting digest items to the schedule's next time in that zone, as a new schedule does.
    /// Returns the user as it is now.
    @discardableResult
    public func updateUser(email: String, name: String?, timezone: String?, newEmail: String?, now: Int64) throws -> User {
        let user = try requireUser(email: email)
        if let newEmail {
            _ = try Mailbox(address: newEmail)
            if let other = try self.user(email: newEmail), other.id != user.id {
                throw EventFilterError.failure("user \(other.email) already exists")
            }
        }
        if let name { _ = try Mailbox(address: newEmail ?? user.email, name: name) }
        let zone = try timezone.map(Zone.named)
        return try db.inTransaction {
            try db.execute("UPDATE user SET email = ?, name = ?, timezone = ? WHERE id = ?",
                           [newEmail ?? user.email, name ?? user.name, timezone ?? user.timezone, user.id])
            if let zone, let schedule = try digestSchedule(userID: user.id) {
                try db.execute("UPDATE digest_item SET send_at = ? WHERE user_id = ?",
                               [schedule.nextSendTime(atOrAfter: now, in: zone), user.id])
            }
            return User(id: user.id, email: newEmail ?? user.email, name: name ?? user.name,
                        timezone: timezone ?? user.timezone, enabled: user.enabled)
        }
    }
}
