/// Who follows what: the readers a subtree or collaboration event goes to, as recipients.
///
///     let followers = try store.subscribers(ofPath: ["1", "2", "60"])
///     let approvers = try store.collaborators(emails: ["ann@example.com"], identifier: "ezapprove")
extension Store {
    /// A reader of a node's path, with the node of their deepest rule on it (whose token the
    /// mail's unsubscribe link carries).
    struct PathSubscriber {
        var recipient: Recipient
        var ruleNode: String
    }

    /// The enabled users with a subtree rule on one of `nodes` (a path, root first), each once,
    /// with their digest schedule, in order of their deepest rule, deepest first: the deepest
    /// rule provides the unsubscribe token. One indexed query per `pathNodesPerQuery` nodes of
    /// the path (one query for any real path): a path is a stored event's text, so its length is
    /// not bounded by the store's limit on bound values (SQLite's is 32,766 as built upstream,
    /// 250,000 as Debian builds it; PostgreSQL's 65,535),
    /// and one event beyond it must not stop every run.
    func subscribers(ofPath nodes: [String]) throws -> [PathSubscriber] {
        guard !nodes.isEmpty else { return [] }
        // The cache's keys are Swift strings, whose == holds two Unicode normal forms of one
        // name equal, while the store tells node ids apart byte for byte: a path with a node
        // beyond ASCII is answered from the store alone, as outside a unit.
        let cache = nodes.allSatisfy({ $0.utf8.allSatisfy { $0 < 0x80 } }) ? subscriberCache ?? SubscriberCache() : SubscriberCache()
        var depth: [String: Int] = [:]
        for (index, node) in nodes.enumerated() { depth[node] = index }
        try read(depth.keys, into: cache)
        // The answer depends only on which of the path's nodes have readers, and how deep each
        // lies: "depth:node/" for each (a node id holds no slash).
        let held = depth.filter { !(cache.byNode[$0.key] ?? []).isEmpty }.sorted { $0.value < $1.value }
        let key = held.map { "\($0.value):\($0.key)/" }.joined()
        if let known = cache.byHeldNodes[key] { return known }
        var rows: [(depth: Int, subscriber: PathSubscriber)] = []
        for (node, nodeDepth) in held {
            for subscriber in cache.byNode[node] ?? [] { rows.append((nodeDepth, subscriber)) }
        }
        // Deepest rule first; a user's first row is their deepest rule.
        rows.sort { ($0.depth, $1.subscriber.recipient.userID ?? 0) > ($1.depth, $0.subscriber.recipient.userID ?? 0) }
        var seen = Set<Int64>()
        let readers = rows.compactMap { seen.insert($0.subscriber.recipient.userID ?? 0).inserted ? $0.subscriber : nil }
        cache.byHeldNodes[key] = readers
        return readers
    }

    /// Reads the readers of those of `nodes` not yet in `cachingSubscribers`' cache, in one
    /// query per `pathNodesPerQuery`, for the events that follow (`readAhead`). Nodes beyond
    /// ASCII are left out, as `subscribers(ofPath:)` answers those from the store alone.
    func readSubscribersAhead(ofNodes nodes: [String]) throws {
        guard let cache = subscriberCache else { return }
        try read(nodes.lazy.filter { $0.utf8.allSatisfy { $0 < 0x80 } }, into: cache)
    }

    /// Reads into `cache` the readers of those of `nodes` it holds nothing for yet, in one query
    /// per `pathNodesPerQuery`; a node without readers is held as none, so it is not asked again.
    private func read(_ nodes: some Sequence<String>, into cache: SubscriberCache) throws {
        var missing: [String] = []
        for node in nodes where cache.byNode[node] == nil {
            cache.byNode[node] = []
            missing.append(node)
        }
        for chunk in missing.slices(of: Self.pathNodesPerQuery) {
            try readSubscribers(ofNodes: Array(chunk)) { cache.byNode[$0.ruleNode, default: []].append($0) }
        }
    }

    /// What `cachingSubscribers` keeps for one transaction: each node's readers, and each
    /// answer by the nodes of its path that have readers (events below one section share it).
    final class SubscriberCache {
        var byNode: [String: [PathSubscriber]] = [:]
        var byHeldNodes: [String: [PathSubscriber]] = [:]
    }

    /// Runs `body` (one transaction of the filter) with each node's readers read from the store
    /// at most once: events of a batch share most of their paths (the site's top nodes), and
    /// reading those nodes' readers again for every event was a sixth of the filter's time with
    /// a hundred readers. Inside one transaction the answer cannot change under the run on SQLite
    /// (the one writer holds the lock); the cache goes with the transaction, so a rule added or
    /// removed meanwhile counts from the next transaction on, as it did from the next query.
    ///
    ///     try store.inTransaction { try store.cachingSubscribers { try handleEvents() } }
    func cachingSubscribers<T>(_ body: () throws -> T) rethrows -> T {
        let outer = subscriberCache
        subscriberCache = outer ?? SubscriberCache()
        defer { subscriberCache = outer }
        return try body()
    }

    /// The most path nodes bound in one subscriber query: far below either backend's limit.
    static let pathNodesPerQuery = 500

    private func readSubscribers(ofNodes nodes: [String], _ body: (PathSubscriber) -> Void) throws {
        let placeholders = Array(repeating: "?", count: nodes.count).joined(separator: ", ")
        try db.forEach("""
            SELECT u.id AS user_id, u.email, u.name, u.timezone, u.token AS user_token, r.token AS rule_token, r.node_id,
                   d.frequency, d.day, d.minute_of_day
            FROM subtree_rule AS r
            JOIN user AS u ON u.id = r.user_id AND u.enabled = 1
            LEFT JOIN digest_setting AS d ON d.user_id = u.id
            WHERE r.node_id IN (\(placeholders))
            """, nodes.map { $0 as DatabaseValueConvertible }) { row in
            let node = try row.string("node_id")
            let digest = try row.isNull("frequency") ? nil
                : try DigestSchedule(storageFrequency: row.string("frequency"), day: row.optionalInt("day"),
                                     minuteOfDay: row.int("minute_of_day"))
            let recipient = Recipient(userID: try row.int64("user_id"), email: try row.string("email"), name: try row.string("name"),
                                      timezone: try row.string("timezone"), digest: digest,
                                      unsubscribeToken: try row.string("rule_token"), stopAllToken: try row.string("user_token"))
            body(PathSubscriber(recipient: recipient, ruleNode: node))
        }
    }

    /// The enabled users among `emails` (compared as the store compares addresses, without
    /// regard to case) with a collaboration rule for `identifier`, by user id, with that rule's
    /// token. They always get mail at once, so no digest schedule is read. One query per
    /// `pathNodesPerQuery` addresses, for the reason a path's nodes are bound that many at a time.
    func collaborators(emails: [String], identifier: String) throws -> [Recipient] {
        var byUser: [Int64: Recipient] = [:]
        for chunk in emails.slices(of: Self.pathNodesPerQuery).map(Array.init) {
            for recipient in try collaborators(chunk, identifier: identifier) { byUser[recipient.userID ?? 0] = recipient }
        }
        return byUser.keys.sorted().map { byUser[$0]! }
    }

    private func collaborators(_ emails: [String], identifier: String) throws -> [Recipient] {
        let placeholders = Array(repeating: "?", count: emails.count).joined(separator: ", ")
        return try db.map("""
            SELECT DISTINCT u.id AS user_id, u.email, u.name, u.timezone, c.token AS rule_token, u.token AS user_token
            FROM user AS u
            JOIN collaboration_rule AS c ON c.user_id = u.id AND c.identifier = ?
            WHERE u.email IN (\(placeholders)) AND u.enabled = 1
            ORDER BY u.id
            """, [identifier as DatabaseValueConvertible] + emails.map { $0 as DatabaseValueConvertible }) { row in
            Recipient(userID: try row.int64("user_id"), email: try row.string("email"), name: try row.string("name"),
                      timezone: try row.string("timezone"), digest: nil, unsubscribeToken: try row.string("rule_token"),
                      stopAllToken: try row.string("user_token"))
        }
    }
}
