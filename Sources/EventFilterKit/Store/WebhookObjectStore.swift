/// What intake remembers about one object a webhook sender keeps notifying about: a scheduled
/// session (its start, whether it was cancelled, its one reminder) or a media entry (whether its
/// readiness was announced).
///
///     var session = try store.webhookObject(source: "webinars", type: "schedule_event", id: "4711")
///         ?? WebhookObject(source: "webinars", objectType: "schedule_event", objectID: "4711")
///     session.startDate = 1_767_258_000
///     try store.saveWebhookObject(session, now: now)
public struct WebhookObject: Sendable, Equatable {
    public var source: String
    public var objectType: String
    public var objectID: String
    public var startDate: Int64?
    public var endDate: Int64?
    public var cancelled = false
    public var reminderEventID: Int64?
    /// A session's last announcement, move or cancellation event; while it waits it can be withdrawn.
    public var noticeEventID: Int64?
    /// The start subscribers knew of before that notice; nil when they knew of no live session.
    public var toldStart: Int64?
    public var readyAt: Int64?
    /// The sender's order of the last notification applied (Kaltura's `eventNotificationJobId`).
    public var sequence: Int64?

    public init(source: String, objectType: String, objectID: String) {
        self.source = source
        self.objectType = objectType
        self.objectID = objectID
    }
}

/// Webhook objects, and the waiting events intake moves or withdraws for them.
extension Store {
    public func webhookObject(source: String, type: String, id: String) throws -> WebhookObject? {
        try db.first("""
            SELECT start_date, end_date, cancelled, reminder_event_id, ready_at, sequence, notice_event_id, told_start
            FROM webhook_object
            WHERE source = ? AND object_type = ? AND object_id = ?
            """, [source, type, id]) { row in
            var object = WebhookObject(source: source, objectType: type, objectID: id)
            object.startDate = try row.optionalInt64("start_date")
            object.endDate = try row.optionalInt64("end_date")
            object.cancelled = try row.int("cancelled") != 0
            object.reminderEventID = try row.optionalInt64("reminder_event_id")
            object.readyAt = try row.optionalInt64("ready_at")
            object.sequence = try row.optionalInt64("sequence")
            object.noticeEventID = try row.optionalInt64("notice_event_id")
            object.toldStart = try row.optionalInt64("told_start")
            return object
        }
    }

    public func saveWebhookObject(_ object: WebhookObject, now: Int64) throws {
        try db.execute("""
            INSERT INTO webhook_object(
                source, object_type, object_id, start_date, end_date, cancelled, reminder_event_id, notice_event_id,
                told_start, ready_at, sequence, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(source, object_type, object_id) DO UPDATE SET
                start_date = excluded.start_date, end_date = excluded.end_date, cancelled = excluded.cancelled,
                reminder_event_id = excluded.reminder_event_id, notice_event_id = excluded.notice_event_id,
                told_start = excluded.told_start, ready_at = excluded.ready_at, sequence = excluded.sequence,
                updated_at = excluded.updated_at
            """, [object.source, object.objectType, object.objectID, object.startDate, object.endDate, object.cancelled,
                  object.reminderEventID, object.noticeEventID, object.toldStart, object.readyAt, object.sequence, now])
    }

    /// Makes the caller's transaction the only one reading and changing these objects until it
    /// ends, so notifications about one object taken at once (a sender's retry reaching two hosts)
    /// take turns: the later one finds what the first stored. On PostgreSQL, whose transactions do
    /// not exclude each other, a transaction-scoped advisory lock per object, taken in a fixed
    /// order (two requests never wait for each other in a circle); nothing else waits, no table is
    /// locked, and the run never takes these locks. On SQLite the write transaction already
    /// excludes every other writer.
    ///
    ///     try store.inTransaction {
    ///         try store.lockWebhookObjects([(source: "webinars", type: "schedule_event", id: "4711")])
    ///         ...  // read the object, store events, save the object
    ///     }
    func lockWebhookObjects(_ objects: [(source: String, type: String, id: String)]) throws {
        guard db.dialect == .postgresql, !objects.isEmpty else { return }
        precondition(db.isInTransaction, "an object lock lasts until the end of the caller's transaction")
        // One key per object (a unit separator between the parts), as the 32-bit hash PostgreSQL
        // makes of it: two objects sharing a hash only take turns needlessly.
        let keys = Set(objects.map { "\($0.source)\u{1F}\($0.type)\u{1F}\($0.id)" })
        for key in keys.sorted() {
            try db.execute("SELECT pg_advisory_xact_lock(CAST(? AS integer), hashtext(?))", [Self.webhookObjectLockClass, key])
        }
    }

    /// The first half of the objects' advisory lock keys ("EvOb"), apart from the schema's lock.
    static let webhookObjectLockClass = 0x4576_4F62

    /// The event stored under a dedupe key, if any: a sender's retry finds what it stored before.
    public func eventID(dedupeKey: String) throws -> Int64? {
        try db.first("SELECT event_id FROM dedupe_key WHERE key = ?", [dedupeKey]) { try $0.int64("event_id") }
    }

    /// The newest waiting event whose dedupe key starts with `prefix` (which ends in `:`), with its params.
    public func waitingEvent(dedupeKeyPrefix prefix: String) throws -> (id: Int64, params: JSONValue)? {
        precondition(prefix.hasSuffix(":"), "the prefix ends at a separator")
        // Keys from prefix up to (not including) the prefix with its ':' raised to ';': a range on the key.
        return try db.first("""
            SELECT e.id AS id, e.params AS params FROM dedupe_key AS d JOIN event AS e ON e.id = d.event_id
            WHERE d.key >= ? AND d.key < ? AND e.handled_at IS NULL
            ORDER BY e.id DESC LIMIT 1
            """, [prefix, prefix.dropLast() + ";"]) { row in
            let params = try row.string("params")
            return (try row.int64("id"), (try? JSONValue.parse(params)) ?? .object([:]))
        }
    }

    /// Gives a waiting (unhandled) event a new due time and params; false when it is no longer waiting.
    public func moveWaitingEvent(_ id: Int64, notBefore: Int64, params: JSONValue) throws -> Bool {
        try db.execute("UPDATE event SET not_before = ?, params = ? WHERE id = ? AND handled_at IS NULL",
                       [notBefore, params.serialized, id])
        return db.changes > 0
    }

    /// Marks a waiting event handled without handling it, with `withdrawn` in its params so
    /// `event list` tells why; false when it is no longer waiting.
    public func withdrawWaitingEvent(_ id: Int64, now: Int64) throws -> Bool {
        let withdrawn = db.dialect == .postgresql
            ? "(params::jsonb || '{\"withdrawn\": true}'::jsonb)::text"
            : "json_set(params, '$.withdrawn', json('true'))"
        try db.execute("UPDATE event SET handled_at = ?, params = \(withdrawn) WHERE id = ? AND handled_at IS NULL", [now, id])
        guard db.changes > 0 else { return false }
        try db.execute("DELETE FROM event_progress WHERE event_id = ?", [id])
        return true
    }

    /// The notice a (withdrawn) session notice superseded, from its `supersedes_event`.
    func supersededNotice(of id: Int64) throws -> Int64? {
        try db.first("SELECT CAST(json_extract(params, '$.supersedes_event') AS INTEGER) AS superseded FROM event WHERE id = ?", [id]) {
            try $0.optionalInt64("superseded")
        } ?? nil
    }

    /// Takes what event `id` put into digests out of every digest still waiting for it: a
    /// session's announcement once a move or cancellation of it is mailed.
    func withdrawDigestItems(ofEvent id: Int64) throws {
        try db.execute("DELETE FROM digest_item WHERE content_id IN (SELECT id FROM content WHERE event_id = ?)", [id])
        try db.execute("""
            DELETE FROM content WHERE event_id = ? AND NOT EXISTS (SELECT 1 FROM digest_item WHERE digest_item.content_id = content.id)
            """, [id])
    }

    /// Whether a waiting event is still unhandled and due when it was when read. (`IS NOT
    /// DISTINCT FROM` is equality where NULL equals NULL, on both backends.)
    ///
    /// On PostgreSQL the row stays locked until the caller's transaction ends: intake in another
    /// process (a move or withdrawal of this event) then waits for it and finds the event
    /// handled, rather than change it while its mail is being made and have the handled mark,
    /// written at the transaction's end, overwrite the change (a reminder moved, or a notice
    /// withdrawn, that went out all the same). On SQLite the filter's transaction holds the
    /// store's one write lock, which excludes intake already.
    func isStillWaiting(_ id: Int64, notBefore: Int64?) throws -> Bool {
        if let ahead = lockedAhead, ahead.asked.contains(id) {
            guard let found = ahead.waiting[id] else { return false }
            return found == notBefore
        }
        let lock = db.dialect == .postgresql ? " FOR NO KEY UPDATE" : ""
        return try db.scalarInt("SELECT 1 FROM event WHERE id = ? AND handled_at IS NULL AND not_before IS NOT DISTINCT FROM CAST(? AS BIGINT)\(lock)", [id, notBefore]) != nil
    }

    /// Runs `body` (one transaction of the filter) with `readAhead(_:)` answering
    /// `isStillWaiting` and the path readers of the events it was given from what it read: on
    /// PostgreSQL each is otherwise a round trip per event, in series with composing its mail.
    /// What was read ahead goes with the transaction: an event read ahead but handled in the
    /// next transaction is read again there.
    ///
    ///     try store.inTransaction { try store.readingAhead { try store.readAhead(events); try handle(events) } }
    func readingAhead<T>(_ body: () throws -> T) rethrows -> T {
        let outer = lockedAhead
        lockedAhead = outer ?? ([], [:])
        defer { lockedAhead = outer }
        return try body()
    }

    /// On PostgreSQL, inside `readingAhead` (and `cachingSubscribers`): locks those of `events`
    /// still waiting, as `isStillWaiting` does one at a time (so intake waits for this
    /// transaction rather than change them under it), and reads the readers of their paths'
    /// nodes, a statement for each. Elsewhere nothing: a SQLite statement costs no round trip.
    func readAhead(_ events: some Collection<Event>) throws {
        guard db.dialect == .postgresql, lockedAhead != nil, !events.isEmpty else { return }
        let ids = events.map(\.id)
        var waiting: [Int64: Int64?] = [:]
        for chunk in ids.slices(of: Self.pathNodesPerQuery) {
            let placeholders = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
            try db.forEach("""
                SELECT id, not_before FROM event WHERE id IN (\(placeholders)) AND handled_at IS NULL ORDER BY id FOR NO KEY UPDATE
                """, chunk.map { $0 as DatabaseValueConvertible }) { row in
                waiting[try row.int64("id")] = .some(try row.optionalInt64("not_before"))
            }
        }
        lockedAhead?.asked.formUnion(ids)
        lockedAhead?.waiting.merge(waiting) { _, new in new }
        try readSubscribersAhead(ofNodes: events.flatMap(\.pathNodes))
    }

    /// Sessions silent since `cutoff` that ended before it: nothing can still depend on them.
    /// Media announced as ready is kept (one small row per object): an entry edited a year later
    /// is still "ready" in the sender's notification, and must not be announced again.
    func purgeWebhookObjects(before cutoff: Int64) throws {
        try db.execute("""
            DELETE FROM webhook_object WHERE updated_at < ? AND (end_date IS NULL OR end_date < ?) AND ready_at IS NULL
            """, [cutoff, cutoff])
    }
}
