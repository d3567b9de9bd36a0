/// Events: intake, the filter's batches, handler progress.
extension Store {
    /// The result of storing an event: a new id, or the id of the event that already has the key.
    public enum AddResult: Equatable, Sendable {
        case added(Int64)
        case duplicate(Int64)

        public var id: Int64 {
            switch self {
            case .added(let id), .duplicate(let id): return id
            }
        }
    }

    /// Stores an unhandled event. A repeated `dedupeKey` stores nothing and returns the first id.
    ///
    ///     let result = try store.addEvent(type: "ezpublish", params: ["node_id": "77", "path": "/1/2/77/"], now: now)
    @discardableResult
    public func addEvent(type: String, params: JSONValue, notBefore: Int64? = nil, dedupeKey: String? = nil, now: Int64) throws -> AddResult {
        try Store.validateEvent(type: type, params: params)
        return try insertEvent(type: type, serializedParams: params.serialized, notBefore: notBefore, dedupeKey: dedupeKey, now: now)
    }

    /// Stores an event already checked by `validateEvent`, with its params as JSON text.
    func insertEvent(type: String, serializedParams: String, notBefore: Int64?, dedupeKey: String?, now: Int64) throws -> AddResult {
        let insert = "INSERT INTO event(type, params, created_at, not_before, dedupe_key) VALUES (?, ?, ?, ?, ?) RETURNING id"
        // On PostgreSQL an event without a key is one statement, atomic on its own: no
        // transaction around it, one round trip rather than three (every run's tick is one).
        // Inside a caller's transaction it stays a savepoint, so a failure undoes it alone.
        if dedupeKey == nil, db.dialect == .postgresql, !db.isInTransaction {
            return .added(try db.first(insert, [type, serializedParams, now, notBefore, dedupeKey]) { try $0.int64("id") } ?? 0)
        }
        return try db.inTransaction {
            if let dedupeKey {
                try db.execute("INSERT INTO dedupe_key(key, event_id, created_at) VALUES (?, 0, ?) ON CONFLICT(key) DO NOTHING",
                               [dedupeKey, now])
                if db.changes == 0 {
                    let existing = try db.scalarInt("SELECT event_id FROM dedupe_key WHERE key = ?", [dedupeKey]) ?? 0
                    return .duplicate(Int64(existing))
                }
            }
            let id = try db.first(insert, [type, serializedParams, now, notBefore, dedupeKey]) { try $0.int64("id") } ?? 0
            if let dedupeKey {
                try db.execute("UPDATE dedupe_key SET event_id = ? WHERE key = ?", [id, dedupeKey])
            }
            return .added(id)
        }
    }

    /// Whether `addEvent` would take an event of `type` with `params`: throws the usage error it
    /// would throw, so a caller can refuse a whole request before it stores any of it.
    public static func validateEvent(type: String, params: JSONValue) throws {
        try EventType.validate(type)
        try EventValidation.validate(type: type, params: params)
    }

    /// Due unhandled events after `afterID`, oldest first, at most `limit`.
    func dueEvents(after afterID: Int64, now: Int64, limit: Int) throws -> [Event] {
        try db.map("""
            SELECT id, type, params, created_at, not_before FROM event
            WHERE handled_at IS NULL AND id > ? AND (not_before IS NULL OR not_before <= ?)
            ORDER BY id LIMIT ?
            """, [afterID, now, limit]) { try Self.event(from: $0) }
    }

    /// An event from a row with its columns `id`, `type`, `params`, `created_at` and `not_before`.
    /// Params that are not JSON read as none: intake only stores JSON, so this is a hand-edited row.
    static func event(from row: Row) throws -> Event {
        let params = try row.string("params")
        return Event(id: try row.int64("id"), type: try row.string("type"), params: (try? JSONValue.parse(params)) ?? .object([:]),
                     createdAt: try row.int64("created_at"), notBefore: try row.optionalInt64("not_before"))
    }

    /// The handlers already done with each event of an id range.
    func finishedHandlers(from first: Int64, to last: Int64) throws -> [Int64: Set<String>] {
        var result: [Int64: Set<String>] = [:]
        try db.forEach("SELECT event_id, handler FROM event_progress WHERE event_id BETWEEN ? AND ? AND done = 1", [first, last]) {
            result[try $0.int64("event_id"), default: []].insert(try $0.string("handler"))
        }
        return result
    }

    func markHandlerDone(event: Int64, handler: String, now: Int64) throws {
        try db.execute("""
            INSERT INTO event_progress(event_id, handler, done, attempts, updated_at) VALUES (?, ?, 1, 1, ?)
            ON CONFLICT(event_id, handler) DO UPDATE SET done = 1, attempts = event_progress.attempts + 1, last_error = NULL, updated_at = excluded.updated_at
            """, [event, handler, now])
    }

    func markHandlerFailed(event: Int64, handler: String, error: String, now: Int64) throws {
        try db.execute("""
            INSERT INTO event_progress(event_id, handler, done, attempts, last_error, updated_at) VALUES (?, ?, 0, 1, ?, ?)
            ON CONFLICT(event_id, handler) DO UPDATE SET done = 0, attempts = event_progress.attempts + 1, last_error = excluded.last_error, updated_at = excluded.updated_at
            """, [event, handler, error, now])
    }

    /// Every handler is done: the event leaves the unhandled set and its progress rows go. Inside
    /// `deferringHandledMarks` the mark is written with the others at its end, in the same
    /// transaction.
    func markEventHandled(_ id: Int64, now: Int64) throws {
        if deferredHandledMarks != nil {
            deferredHandledMarks?.append(id)
            return
        }
        try db.execute("UPDATE event SET handled_at = ? WHERE id = ?", [now, id])
        try db.execute("DELETE FROM event_progress WHERE event_id = ?", [id])
    }

    /// Runs `body` (one transaction of the filter, many events) with its handled marks written
    /// at its end by two statements for all of them, not two per event: the marks still commit
    /// with the items, in the caller's transaction. Until then `isSuperseded` counts a marked
    /// event as handled, as it would once written.
    ///
    ///     try store.inTransaction { try store.deferringHandledMarks(now: now) { try handleEvents() } }
    func deferringHandledMarks<T>(now: Int64, _ body: () throws -> T) throws -> T {
        if let outer = deferredHandledMarks {
            // Inside another such unit, which writes them; undone with this one if it throws.
            do {
                return try body()
            } catch {
                deferredHandledMarks = Array((deferredHandledMarks ?? []).prefix(outer.count))
                throw error
            }
        }
        deferredHandledMarks = []
        defer { deferredHandledMarks = nil }
        let result = try body()
        let ids = deferredHandledMarks ?? []
        deferredHandledMarks = nil
        guard !ids.isEmpty else { return result }
        let list = "[" + ids.map(String.init).joined(separator: ",") + "]"
        try db.execute("UPDATE event SET handled_at = ? WHERE id IN (\(db.elements(of: .integer)))", [now, list])
        try db.execute("DELETE FROM event_progress WHERE event_id IN (\(db.elements(of: .integer)))", [list])
        return result
    }

    /// Whether a later version of the same node is also waiting: then this one is superseded.
    func isSuperseded(_ event: Event, now: Int64) throws -> Bool {
        guard let node = event.param("node_id") else { return false }
        let version = Int(event.param("version") ?? "") ?? 0
        // Marked handled in this transaction but not written yet: handled all the same. One
        // more row than there are such marks is enough to find one that is not.
        let marked = deferredHandledMarks ?? []
        let later = try db.map("""
            SELECT id FROM event
            WHERE node_id = ? AND handled_at IS NULL AND type = 'ezpublish' AND id <> ?
              AND (not_before IS NULL OR not_before <= ?)
              AND (coalesce(CAST(json_extract(params, '$.version') AS INTEGER), 0) > ?
                   OR (coalesce(CAST(json_extract(params, '$.version') AS INTEGER), 0) = ? AND id > ?))
            LIMIT ?
            """, [node, event.id, now, version, version, event.id, marked.count + 1]) { try $0.int64("id") }
        return later.contains { !marked.contains($0) }
    }

    /// Handled events older than the retention go; they have nothing left to do.
    func purgeHandledEvents(before cutoff: Int64) throws {
        try db.execute("DELETE FROM event WHERE handled_at IS NOT NULL AND handled_at < ?", [cutoff])
    }

    /// Dedupe keys are kept much longer than events: a replay within this time stores nothing.
    func purgeDedupeKeys(before cutoff: Int64) throws {
        try db.execute("DELETE FROM dedupe_key WHERE created_at < ?", [cutoff])
    }

    public struct EventRow: Sendable {
        public let event: Event
        public let handledAt: Int64?
        public let dedupeKey: String?
        public let failedHandlers: [(handler: String, error: String)]
        /// Custom handlers that gave up on the event (`HandlerGiveUpAfter`), with why.
        public let gaveUpHandlers: [(handler: String, error: String)]
    }

    /// Stored events, newest first: all, or only the unhandled ones, or only one type.
    public func listEvents(unhandledOnly: Bool, type: String? = nil, limit: Int = 1000) throws -> [EventRow] {
        var clauses: [String] = []
        var arguments: [DatabaseValueConvertible] = []
        if unhandledOnly { clauses.append("handled_at IS NULL") }
        if let type {
            clauses.append("type = ?")
            arguments.append(type)
        }
        arguments.append(limit)
        let filter = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
        let sql = "SELECT id, type, params, created_at, not_before, handled_at, dedupe_key FROM event \(filter) ORDER BY id DESC LIMIT ?"
        let rows = try db.map(sql, arguments) { row in
            (try Self.event(from: row), try row.optionalInt64("handled_at"), try row.optionalString("dedupe_key"))
        }
        return try rows.map { event, handledAt, key in
            let failed = try db.map("SELECT handler, coalesce(last_error, '') AS error FROM event_progress WHERE event_id = ? AND done = 0",
                                    [event.id]) { (try $0.string("handler"), try $0.string("error")) }
            let gaveUp = try db.map("SELECT handler, error FROM handler_gave_up WHERE event_id = ? ORDER BY \(db.textOrder("handler"))",
                                    [event.id]) { (try $0.string("handler"), try $0.string("error")) }
            return EventRow(event: event, handledAt: handledAt, dedupeKey: key, failedHandlers: failed, gaveUpHandlers: gaveUp)
        }
    }
}

/// The params each built-in event type needs, checked at intake so a bad event is refused
/// with a clear message instead of failing at every later run: what is accepted can always
/// become mail.
enum EventValidation {
    static func validate(type: String, params: JSONValue) throws {
        guard let object = params.objectValue else {
            throw EventFilterError.usage("event params must be a JSON object")
        }
        // Node ids and path elements are what subscriptions name (`subscribe EMAIL NODE_ID`),
        // so they follow the same rule, whatever the event type.
        if let node = object["node_id"] {
            guard let text = node.stringValue else {
                throw EventFilterError.usage("node_id must be a string or a number")
            }
            try Store.validateNode(text)
        }
        if let pathValue = object["path"] {
            guard case .string(let path) = pathValue else {
                throw EventFilterError.usage("path must be a string like /1/2/60/77/")
            }
            guard path.hasPrefix("/") && path.hasSuffix("/") && path.count > 2 else {
                throw EventFilterError.usage("path '\(Store.printable(path))' must look like /1/2/60/77/")
            }
            for element in path.dropFirst().dropLast().split(separator: "/", omittingEmptySubsequences: false) {
                do { try Store.validateNode(String(element)) } catch {
                    throw EventFilterError.usage("path '\(Store.printable(path))': \(error)")
                }
            }
        }
        switch type {
        case EventType.publish:
            guard object["path"] != nil || object["node_id"] != nil else {
                throw EventFilterError.usage("an ezpublish event needs path=/1/2/.../ or node_id=N")
            }
        case EventType.collaboration:
            guard object["identifier"]?.stringValue != nil else {
                throw EventFilterError.usage("an ezcollaboration event needs identifier=NAME (e.g. ezapprove)")
            }
            guard let participants = object["participants"]?.arrayValue,
                  participants.allSatisfy({ $0["email"]?.stringValue != nil }) else {
                throw EventFilterError.usage("an ezcollaboration event needs participants: a JSON list of {\"email\":..., \"role\":...}")
            }
        default:
            break
        }
    }
}
