import Foundation

/// One subject a user follows, as the settings page names it.
public struct FollowedNode: Sendable, Equatable {
    public let node: String
    /// The name of the latest event about the node ("Spring release notes"), or nil when none is kept.
    public let name: String?
    /// Its path (`/1/2/60/`), or nil when unknown.
    public let path: String?
}

/// Everything the settings page shows about one user.
public struct SettingsOverview: Sendable, Equatable {
    public let user: User
    public let follows: [FollowedNode]
    public let collaborations: [String]
    public let schedule: DigestSchedule?
}

/// What one settings form asks to change; each case changes exactly that.
public enum SettingsChange: Sendable, Equatable {
    /// How mail reaches the user: nil is "at once". The time zone is saved with it.
    case delivery(DigestSchedule?, timezone: String)
    case stopFollowing(node: String)
    case stopCollaboration(identifier: String)
    /// Removes every subtree and collaboration rule: no more mail.
    case stopAll
    case follow(node: String)
}

/// Personal settings links (only their SHA-256 is stored), the installation's own keys, and the
/// reads and writes of the settings pages.
///
///     let token = try store.issueSettingsToken(userID: user.id, now: now)   // for a message's footer
///     try store.settingsUser(token: token)?.email                           // "ann@example.com"
extension Store {
    /// How many links one user keeps; the oldest goes when a new one is made. Each run that mails a
    /// user makes one, so this is about the last 30 messages' links.
    public static let settingsTokensKept = 30

    /// A new opaque token for `userID`: 32 random bytes as base64url (RFC 4648 §5, no padding).
    public func issueSettingsToken(userID: Int64, now: Int64) throws -> String {
        let token = Self.newSettingsToken()
        try keepSettingsToken(token, userID: userID, now: now)
        return token
    }

    /// Stores the hash of `token` for `userID` unless it is stored already, dropping the user's
    /// oldest links beyond `settingsTokensKept`. A run calls it with every message it queues, in
    /// the message's transaction, so a link in the outbox is always a stored one.
    public func keepSettingsToken(_ token: String, userID: Int64, now: Int64) throws {
        try db.inTransaction {
            try db.execute("INSERT INTO settings_token(hash, user_id, created_at) VALUES (?, ?, ?) ON CONFLICT(hash) DO NOTHING",
                           [Self.settingsTokenHash(token), userID, now])
            guard db.changes > 0 else { return }
            try db.execute("""
                DELETE FROM settings_token WHERE user_id = ? AND id NOT IN (
                    SELECT id FROM settings_token WHERE user_id = ? ORDER BY id DESC LIMIT ?)
                """, [userID, userID, Self.settingsTokensKept])
        }
    }

    /// Whether `userID` got a new link at or after `since` (a message or an asked-for link).
    public func hasSettingsToken(userID: Int64, since: Int64) throws -> Bool {
        try db.first("SELECT 1 FROM settings_token WHERE user_id = ? AND created_at >= ? LIMIT 1", [userID, since]) { _ in true } ?? false
    }

    /// Revokes every link of `email` and makes one new one.
    public func replaceSettingsToken(email: String, now: Int64) throws -> String {
        let user = try requireUser(email: email)
        return try db.inTransaction {
            try db.execute("DELETE FROM settings_token WHERE user_id = ?", [user.id])
            return try issueSettingsToken(userID: user.id, now: now)
        }
    }

    /// Revokes every link of `email`; returns how many there were.
    @discardableResult
    public func revokeSettingsTokens(email: String) throws -> Int {
        let user = try requireUser(email: email)
        try db.execute("DELETE FROM settings_token WHERE user_id = ?", [user.id])
        return db.changes
    }

    /// The user a link belongs to, or nil for an unknown, revoked or malformed token. The lookup
    /// is by hash, so its timing says nothing about the token itself.
    public func settingsUser(token: String) throws -> User? {
        guard Self.isSettingsToken(token) else { return nil }
        return try db.first("""
            SELECT user.id AS id, email, name, timezone, enabled FROM settings_token JOIN user ON user.id = settings_token.user_id
            WHERE hash = ?
            """, [Self.settingsTokenHash(token)]) {
            User(id: try $0.int64("id"), email: try $0.string("email"), name: try $0.string("name"),
                 timezone: try $0.string("timezone"), enabled: try $0.int("enabled") != 0)
        }
    }

    /// A secret of this installation, made from 32 random bytes the first time it is asked for
    /// and kept in the store, so every process of the installation agrees on it.
    public func installationKey(_ name: String) throws -> [UInt8] {
        if let key = try db.first("SELECT value FROM installation_secret WHERE name = ?", [name], { try $0.bytes("value") }) {
            return key
        }
        // Two processes may both get here: the first insert wins and both read the same value.
        try db.execute("INSERT INTO installation_secret(name, value) VALUES (?, ?) ON CONFLICT(name) DO NOTHING",
                       [name, Crypto.randomBytes(32)])
        guard let key = try db.first("SELECT value FROM installation_secret WHERE name = ?", [name], { try $0.bytes("value") }) else {
            throw EventFilterError.failure("could not keep the installation key '\(name)' in the store")
        }
        return key
    }

    public func settingsOverview(user: User) throws -> SettingsOverview {
        let follows = try db.map("""
            SELECT r.node_id AS node_id,
                   (SELECT json_extract(e.params, '$.name') FROM event e WHERE e.node_id = r.node_id
                      AND json_extract(e.params, '$.name') IS NOT NULL ORDER BY e.id DESC LIMIT 1) AS name,
                   (SELECT json_extract(e.params, '$.path') FROM event e WHERE e.node_id = r.node_id
                      AND json_extract(e.params, '$.path') IS NOT NULL ORDER BY e.id DESC LIMIT 1) AS path
            FROM subtree_rule r WHERE r.user_id = ? ORDER BY \(db.textOrder("r.node_id"))
            """, [user.id]) {
            FollowedNode(node: try $0.string("node_id"), name: try $0.optionalString("name"), path: try $0.optionalString("path"))
        }.map { follow in
            // A node that had no event of its own (a folder) takes its path from one below it.
            guard follow.path == nil, let below = try pathBelow(node: follow.node) else { return follow }
            return FollowedNode(node: follow.node, name: follow.name, path: below)
        }
        let collaborations = try db.map(
            "SELECT identifier FROM collaboration_rule WHERE user_id = ? ORDER BY \(db.textOrder("identifier"))", [user.id]) { try $0.string("identifier") }
        return SettingsOverview(user: user, follows: follows, collaborations: collaborations,
                                schedule: try digestSchedule(userID: user.id))
    }

    /// `/1/2/60/` for node 60, cut from the newest stored path that runs through it; nil when none does.
    private func pathBelow(node: String) throws -> String? {
        let marker = "/" + node + "/"
        let path = try db.first("""
            SELECT json_extract(params, '$.path') AS path FROM event
            WHERE instr(json_extract(params, '$.path'), ?) > 0 ORDER BY id DESC LIMIT 1
            """, [marker]) { try $0.optionalString("path") } ?? nil
        guard let path, let range = path.range(of: marker) else { return nil }
        return String(path[..<range.upperBound])
    }

    /// Applies one form's change in one transaction. Stopping what is already stopped changes
    /// nothing and is not an error (a form sent twice answers the same).
    public func applySettings(_ change: SettingsChange, user: User, now: Int64) throws {
        try db.inTransaction {
            switch change {
            case .delivery(let schedule, let timezone):
                _ = try Zone.named(timezone)
                try db.execute("UPDATE user SET timezone = ? WHERE id = ?", [timezone, user.id])
                // setDigest reads the new zone, so waiting items move to the new local time.
                try setDigest(email: user.email, schedule: schedule, now: now)
            case .stopFollowing(let node):
                try db.execute("DELETE FROM subtree_rule WHERE user_id = ? AND node_id = ?", [user.id, node])
            case .stopCollaboration(let identifier):
                try db.execute("DELETE FROM collaboration_rule WHERE user_id = ? AND identifier = ?", [user.id, identifier])
            case .stopAll:
                // The delivery choice stays on the page for when the reader follows something again.
                _ = try stopAll(userID: user.id, keepingDigestSchedule: true)
            case .follow(let node):
                try subscribe(email: user.email, node: node, now: now)
            }
        }
    }

    public static func newSettingsToken() -> String {
        Crypto.base64Encode(Crypto.randomBytes(32))
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func settingsTokenHash(_ token: String) -> String {
        Crypto.hexEncode(Crypto.hash(.sha256, Array(token.utf8)))
    }

    /// 32 bytes in base64url are 43 characters of A-Z, a-z, 0-9, '-' and '_'.
    public static func isSettingsToken(_ token: String) -> Bool {
        token.utf8.count == 43 && token.utf8.allSatisfy {
            ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 || $0 == 95
        }
    }
}
