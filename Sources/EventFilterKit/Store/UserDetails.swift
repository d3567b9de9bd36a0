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
        let rules = try db.map("SELECT node_id, created_at FROM subtree_rule WHERE user_id = ? ORDER BY node_id", [user.id]) {
            ($0.string(0), $0.int64(1))
        }
        let subtreeRules = try rules.map { node, created in
            // The newest event of the node names it; events are purged after KeepDays, so it may be unknown.
            let name = try db.first("""
                SELECT json_extract(params, '$.name') FROM event
                WHERE node_id = ? AND json_extract(params, '$.name') IS NOT NULL ORDER BY id DESC LIMIT 1
                """, [node]) { $0.optionalString(0) } ?? nil
            return UserDetails.SubtreeRule(node: node, nodeName: name, createdAt: created)
        }
        let collaboration = try db.map("SELECT identifier FROM collaboration_rule WHERE user_id = ? ORDER BY identifier", [user.id]) {
            $0.string(0)
        }
        let digest = try digestSchedule(userID: user.id)
        let waiting = try db.first("SELECT count(*), min(send_at) FROM digest_item WHERE user_id = ?", [user.id]) {
            (count: $0.int(0), first: $0.isNull(1) ? nil : $0.int64(1))
        }
        let subjects = try db.map("""
            SELECT content.subject FROM digest_item JOIN content ON content.id = digest_item.content_id
            WHERE digest_item.user_id = ? ORDER BY digest_item.id LIMIT 10
            """, [user.id]) { $0.string(0) }
        var next = waiting?.first
        if next == nil, let digest {
            next = digest.nextSendTime(atOrAfter: now, in: try Zone.named(user.timezone))
        }
        let mail = try db.map("""
            SELECT id, state, subject, created_at, sent_at FROM outbox
            WHERE recipient = ? COLLATE NOCASE ORDER BY id DESC LIMIT 10
            """, [user.email]) {
            UserDetails.Mail(id: $0.int64(0), state: $0.string(1), subject: $0.string(2), createdAt: $0.int64(3),
                             sentAt: $0.isNull(4) ? nil : $0.int64(4))
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
