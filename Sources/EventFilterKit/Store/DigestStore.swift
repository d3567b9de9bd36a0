import Foundation

/// One waiting digest item, as the digest reads it: what happened, where to see it, when, and
/// whether the reader still wants it (the rule that brought it may have been removed since, or
/// its node deleted).
struct DigestEntry {
    /// The item's content: a reader has at most one item per content, so it names the item.
    let contentID: Int64
    let handler: String
    /// The event type (`ezpublish`, `kaltura.entry_add`); empty for items stored before digests
    /// had lines of their own.
    let source: String
    let nodeID: String?
    let name: String
    let url: String?
    let happenedAt: Int64
    /// The reader no longer has a rule covering the item, or its node was deleted.
    let stale: Bool
}

/// Content and digest items: what handlers produced for readers with a digest.
extension Store {
    /// Stores content shared by the recipients of one event; returns its id.
    func insertContent(_ content: RenderedContent, eventID: Int64, now: Int64) throws -> Int64 {
        let line = content.line
        // RETURNING names the row's id in the same round trip (PostgreSQL's lastval() would be another).
        let id = try db.first("""
            INSERT INTO content(event_id, handler, subject, text, html, thread, created_at,
                                source, node_id, path, item_name, item_url, happened_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id
            """, [eventID, content.handler, content.subject, content.text, content.html, content.thread, now,
                  line?.source, line?.nodeID, line.map { JSONValue.array($0.path.map { .string($0) }).serialized },
                  line?.name, line?.url, line?.happenedAt]) { try $0.int64("id") }
        guard let id else { throw EventFilterError.failure("storing a digest's content returned no id") }
        return id
    }

    /// Digest items of one content for readers who wait for the same send time.
    struct DigestRows {
        var contentID: Int64
        var sendAt: Int64
        var userIDs: [Int64]
    }

    /// One digest item for each reader of each of `groups`; a reader who already has an item
    /// keeps it. On PostgreSQL one set-based statement over a bound JSON list
    /// `[[content, send time, [user, ...]], ...]` (one round trip); on SQLite multi-row inserts of
    /// bound integers, since there is no round trip to save and parsing the JSON list again for
    /// every row's content and send time was a seventh of the filter's time.
    func insertDigestItems(_ groups: [DigestRows]) throws {
        if db.dialect == .postgresql {
            try insertDigestItemsFromList(groups)
            return
        }
        // Sorted by the table's key, reader then content: each statement then adds to the
        // stretches of a few readers only. In the order they came (by event, then reader) every
        // statement touched every reader's last pages, and SQLite copied each such page, changed
        // already by the transaction's earlier statements, to the statement journal first (to
        // undo the one statement alone): four writes in five were those copies (strace, 1,000
        // events x 100 readers: 165,000 writes, 45,000 sorted).
        var rows: [(user: Int64, content: Int64, sendAt: Int64)] = []
        rows.reserveCapacity(groups.reduce(0) { $0 + $1.userIDs.count })
        for group in groups {
            for userID in group.userIDs { rows.append((userID, group.contentID, group.sendAt)) }
        }
        rows.sort { ($0.user, $0.content) < ($1.user, $1.content) }
        // 333 rows of 3 values stay under SQLite's oldest limit of 999 bound values; a full
        // chunk's statement text is always the same, so it is prepared once per connection.
        var arguments: [DatabaseValueConvertible] = []
        arguments.reserveCapacity(Self.digestRowsPerStatement * 3)
        for chunk in rows.slices(of: Self.digestRowsPerStatement) {
            arguments.removeAll(keepingCapacity: true)
            for row in chunk {
                arguments.append(row.user)
                arguments.append(row.content)
                arguments.append(row.sendAt)
            }
            let values = Self.placeholders(rows: chunk.count, "(?, ?, ?)")
            try db.execute("INSERT INTO digest_item(user_id, content_id, send_at) VALUES \(values) ON CONFLICT DO NOTHING", arguments)
        }
    }

    /// Digest rows in one SQLite statement (see `insertDigestItems`).
    static let digestRowsPerStatement = 333

    private func insertDigestItemsFromList(_ groups: [DigestRows]) throws {
        var list = "["
        for group in groups where !group.userIDs.isEmpty {
            if list.utf8.count > 1 { list += "," }
            list += "[\(group.contentID),\(group.sendAt),[" + group.userIDs.map(String.init).joined(separator: ",") + "]]"
        }
        guard list.utf8.count > 1 else { return }
        list += "]"
        try db.execute("""
            INSERT INTO digest_item(user_id, content_id, send_at)
            SELECT readers.value::bigint, (grouped.value->>0)::bigint, (grouped.value->>1)::bigint
            FROM json_array_elements(?::json) AS grouped(value), json_array_elements_text(grouped.value->2) AS readers(value)
            ON CONFLICT DO NOTHING
            """, [list])
    }

    /// The user's items due at `time`, oldest event first. Reads the line fields only, never the
    /// bodies, so a digest of any backlog reads little. An item of `ruleHandler` is stale when
    /// none of its path's nodes still carries one of the user's subtree rules; any item is stale
    /// when a node of its path was deleted after it happened (in the same second: by a later event).
    func dueDigestEntries(userID: Int64, dueAt time: Int64, ruleHandler: String) throws -> [DigestEntry] {
        // A content's path is a JSON list of node ids kept as text; each backend lists it its own way.
        let pathNodes = db.dialect == .postgresql
            ? "json_array_elements_text(c.path::json) AS p(value)"
            : "json_each(c.path) AS p"
        return try db.map("""
            SELECT c.id AS content_id, c.handler, c.source, c.node_id,
                   coalesce(c.item_name, c.subject) AS name, c.item_url, coalesce(c.happened_at, c.created_at) AS happened_at,
                   CASE WHEN (c.handler = ? AND c.path IS NOT NULL AND NOT EXISTS (
                       SELECT 1 FROM \(pathNodes)
                       JOIN subtree_rule AS r ON r.node_id = p.value AND r.user_id = i.user_id))
                   OR (c.path IS NOT NULL AND EXISTS (
                       SELECT 1 FROM \(pathNodes)
                       JOIN deleted_node AS d ON d.node_id = p.value
                        AND (d.deleted_at > coalesce(c.happened_at, c.created_at)
                             OR (d.deleted_at = coalesce(c.happened_at, c.created_at)
                                 AND (d.event_id IS NULL OR c.event_id IS NULL OR d.event_id > c.event_id)))))
                   THEN 1 ELSE 0 END AS stale
            FROM digest_item AS i JOIN content AS c ON c.id = i.content_id
            WHERE i.user_id = ? AND i.send_at <= ? ORDER BY c.event_id, c.id
            """, [ruleHandler, userID, time]) { row in
            DigestEntry(contentID: try row.int64("content_id"), handler: try row.string("handler"),
                        source: try row.optionalString("source") ?? "", nodeID: try row.optionalString("node_id"),
                        name: try row.string("name"), url: try row.optionalString("item_url"),
                        happenedAt: try row.int64("happened_at"), stale: try row.int("stale") != 0)
        }
    }

    /// The enabled users with digest items due at `time`, by id, as a digest's recipients: the
    /// digest's link stops the digest (the user's digest token), the footer's other link
    /// everything (the user's token).
    func dueDigestRecipients(at time: Int64) throws -> [Recipient] {
        try db.map("""
            SELECT u.id, u.email, u.name, u.timezone, u.token, u.digest_token FROM user AS u
            WHERE u.id IN (SELECT user_id FROM digest_item WHERE send_at <= ?) AND u.enabled = 1 ORDER BY u.id
            """, [time]) { row in
            Recipient(userID: try row.int64("id"), email: try row.string("email"), name: try row.string("name"),
                      timezone: try row.string("timezone"), digest: nil, unsubscribeToken: try row.string("digest_token"),
                      unsubscribeSubject: "everything in these digests", stopAllToken: try row.string("token"))
        }
    }

    /// The contents of the user's items due at `time`, read by the table's key.
    func dueDigestContents(userID: Int64, dueAt time: Int64) throws -> [Int64] {
        try db.map("SELECT content_id FROM digest_item WHERE user_id = ? AND send_at <= ?", [userID, time]) { try $0.int64("content_id") }
    }

    /// Deletes the user's items due at `time` (all of them, from one stretch of the table:
    /// its key starts with the reader) and returns their contents, so that a caller that read
    /// them earlier can tell whether they changed in between.
    func removeDueDigestItems(userID: Int64, dueAt time: Int64) throws -> [Int64] {
        try db.map("DELETE FROM digest_item WHERE user_id = ? AND send_at <= ? RETURNING content_id", [userID, time]) {
            try $0.int64("content_id")
        }
    }

    /// Deletes the contents among `ids` that no digest item waits for any more: a content goes
    /// with its last item, whoever removed it (a digest sent, a user removed, a rule stopped).
    /// One statement however many ids: the list is bound as one value.
    func deleteUnreferencedContents(_ ids: [Int64]) throws {
        guard !ids.isEmpty else { return }
        try db.execute("""
            DELETE FROM content WHERE id IN (\(db.elements(of: .integer)))
              AND NOT EXISTS (SELECT 1 FROM digest_item WHERE digest_item.content_id = content.id)
            """, ["[" + Set(ids).sorted().map(String.init).joined(separator: ",") + "]"])
    }

    /// Runs `body` (a tick's digests, a transaction per reader; or the whole filter, whose every
    /// transaction rewrites each reader's last pages) with SQLite checkpointing its
    /// write-ahead log once it holds `pages` pages rather than 1,000 (its default, and the
    /// store's otherwise). Each reader's removal rewrites the same pages of the index of items by
    /// content, and a commit past the limit copies every page in the log back into the database
    /// and syncs it: with the default that was once per reader, with a larger log once per
    /// several. It ends with a checkpoint when `checkpointAtEnd` says so (by default always), so
    /// that what the unit wrote is on disk before the delivery sends it; a unit that queued
    /// nothing to send has nothing to make durable first, and a cron run with nothing to do is
    /// spared the checkpoint's syncs. PostgreSQL has no such setting per session; there `body`
    /// just runs.
    ///
    ///     try store.checkpointingEvery(pages: 10_000) { try sendEveryDigest() }
    func checkpointingEvery<T>(pages: Int, checkpointAtEnd: () -> Bool = { true }, _ body: () throws -> T) throws -> T {
        guard db.dialect == .sqlite else { return try body() }
        // Inside another such unit (the digest stage within the filter), its limit comes back after.
        let previous = try db.scalarInt("PRAGMA wal_autocheckpoint") ?? 1000
        try db.execute("PRAGMA wal_autocheckpoint=\(pages)")
        defer {
            try? db.execute("PRAGMA wal_autocheckpoint=\(previous)")
            // With synchronous=NORMAL the log is synced only by a checkpoint, and these digests
            // leave in this run's delivery: checkpoint now, so that what was sent is on disk
            // before it is sent (a power cut cannot bring its items back for a second digest).
            if !db.isInTransaction, checkpointAtEnd() { _ = try? db.first("PRAGMA wal_checkpoint(PASSIVE)") { _ in true } }
        }
        return try body()
    }

    /// On SQLite outside a transaction, a thread that copies the write-ahead log into the database
    /// file while this connection goes on writing; nil otherwise (PostgreSQL checkpoints in its
    /// server). The filter's commits each add megabytes to the log, and the checkpoints its own
    /// connection ran every 10,000 pages (`checkpointingEvery`) stopped it for the copy and two
    /// syncs, about 0.2 s each (100,000 messages: five of them, a third of the filter's wall
    /// time); beside it they use the machine's other core. Those automatic checkpoints stay as the
    /// bound on the log's size, now finding little left to copy. Delivery over SMTP runs one
    /// beside its recording connection for the same reason (`Outbox.deliverDue`). Call
    /// `stopAndWait()` on it before the checkpoint that ends the unit.
    ///
    ///     let checkpointer = try store.checkpointingBeside()
    ///     defer { checkpointer?.stopAndWait() }
    func checkpointingBeside() throws -> BackgroundCheckpointer? {
        guard let database = db as? Database, !db.isInTransaction else { return nil }
        return try BackgroundCheckpointer(database: database, intervalMilliseconds: 50, writerCheckpoints: true)
    }

    /// Runs `body` (the filter) with SQLite's page cache at `kibibytes` rather than its default
    /// 2,000 KiB, then gives the memory back. A transaction of the filter changes the last pages
    /// of every reader's stretch of the digest tables, besides its contents and events: with
    /// a hundred readers that is more than the default cache holds, so SQLite wrote changed
    /// pages to the log before the commit (and copied them to the statement journal first), and
    /// read them back (strace, 10,000 events x 100 readers: 2.35 million writes and 300,000 reads
    /// with the default, 650,000 and 75,000 with 16 MiB). PostgreSQL has no such setting per
    /// session; there `body` just runs.
    ///
    ///     try store.withPageCache(kibibytes: 16_384) { try filterEveryBatch() }
    func withPageCache<T>(kibibytes: Int, _ body: () throws -> T) throws -> T {
        guard db.dialect == .sqlite else { return try body() }
        try db.execute("PRAGMA cache_size=-\(kibibytes)")
        defer { try? db.execute("PRAGMA cache_size=-2000") }
        return try body()
    }

    /// Records that `node` (and everything below it) was deleted at `time` by event `eventID`, so
    /// waiting digests leave out what happened to it before (in the same second: events before
    /// that one), and keep what was published again after.
    func recordDeletedNode(_ node: String, at time: Int64, eventID: Int64) throws {
        // The larger of two values: SQLite's two-argument max(), PostgreSQL's greatest().
        let larger = db.dialect == .postgresql ? "greatest" : "max"
        try db.execute("""
            INSERT INTO deleted_node(node_id, deleted_at, event_id) VALUES (?, ?, ?)
            ON CONFLICT(node_id) DO UPDATE SET
                event_id = CASE WHEN excluded.deleted_at > deleted_node.deleted_at THEN excluded.event_id
                                WHEN excluded.deleted_at = deleted_node.deleted_at
                                THEN \(larger)(excluded.event_id, coalesce(deleted_node.event_id, 0))
                                ELSE deleted_node.event_id END,
                deleted_at = \(larger)(deleted_node.deleted_at, excluded.deleted_at)
            """, [node, time, eventID])
    }

    /// Forgets deletions older than `cutoff`: by then no digest item from before them still waits.
    func purgeDeletedNodes(before cutoff: Int64) throws {
        try db.execute("DELETE FROM deleted_node WHERE deleted_at < ?", [cutoff])
    }
}
