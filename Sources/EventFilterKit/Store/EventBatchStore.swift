/// Many events stored at once (`event import`), with the same outcome as `addEvent` called for
/// each in turn: a dedupe key seen before (in the store, or earlier in the same batch) stores
/// nothing and counts as a duplicate; every other event gets the next id, in input order.
///
/// Rows go in with multi-row `INSERT ... VALUES (?, ...), (?, ...)` statements of up to
/// `rowsPerStatement` rows, every value bound. One statement per event would cost far more:
/// SQLite writes a statement journal for each INSERT into a table with AUTOINCREMENT and four
/// indexes (ten page writes per event), and PostgreSQL pays a round trip per statement.
///
///     let counts = try store.insertEvents([EventBatchStore.Row(type: "ezpublish", serializedParams: #"{"node_id":"77"}"#,
///                                                                notBefore: nil, dedupeKey: "node-77-v3")], now: now)
///     counts.added   // 1, or 0 with counts.duplicates 1 when node-77-v3 was stored before
public enum EventBatchStore {
    /// An event already checked by `Store.validateEvent`, with its params as JSON text.
    public struct Row: Sendable, Equatable {
        public var type: String
        public var serializedParams: String
        public var notBefore: Int64?
        public var dedupeKey: String?

        public init(type: String, serializedParams: String, notBefore: Int64?, dedupeKey: String?) {
            self.type = type
            self.serializedParams = serializedParams
            self.notBefore = notBefore
            self.dedupeKey = dedupeKey
        }
    }

    public struct Counts: Sendable, Equatable {
        public var added = 0
        public var duplicates = 0
    }

    /// Rows per statement: 500 events are 2,500 bound values, well inside both SQLite's (32,766)
    /// and PostgreSQL's (65,535) limits, and large enough that per-statement costs vanish.
    static let rowsPerStatement = 500
}

extension Store {
    /// Stores `rows` in one transaction (joining the caller's, if any); see `EventBatchStore`.
    public func insertEvents(_ rows: [EventBatchStore.Row], now: Int64) throws -> EventBatchStore.Counts {
        var counts = EventBatchStore.Counts()
        var seenKeys = Set<String>()
        try db.inTransaction {
            var start = 0
            while start < rows.count {
                let end = min(start + EventBatchStore.rowsPerStatement, rows.count)
                try insertEventChunk(rows[start..<end], now: now, seenKeys: &seenKeys, counts: &counts)
                start = end
            }
        }
        return counts
    }

    private func insertEventChunk(_ rows: ArraySlice<EventBatchStore.Row>, now: Int64, seenKeys: inout Set<String>,
                                  counts: inout EventBatchStore.Counts) throws {
        // Keys first: a key repeated within this import, or refused by the table (stored before),
        // makes its event a duplicate.
        var newKeys: [String] = []
        for row in rows {
            if let key = row.dedupeKey, seenKeys.insert(key).inserted { newKeys.append(key) }
        }
        var freshKeys = Set<String>()
        if !newKeys.isEmpty {
            var arguments: [DatabaseValueConvertible] = []
            arguments.reserveCapacity(newKeys.count * 2)
            for key in newKeys { arguments.append(key); arguments.append(now) }
            try db.forEach("INSERT INTO dedupe_key(key, event_id, created_at) VALUES " + Self.placeholders(rows: newKeys.count, "(?, 0, ?)")
                           + " ON CONFLICT(key) DO NOTHING RETURNING key", arguments) {
                freshKeys.insert(try $0.string("key"))
            }
        }
        var arguments: [DatabaseValueConvertible] = []
        arguments.reserveCapacity(rows.count * 5)
        var stored = 0
        for row in rows {
            if let key = row.dedupeKey, !freshKeys.contains(key) {
                counts.duplicates += 1
                continue
            }
            if let key = row.dedupeKey { freshKeys.remove(key) }   // a second line with the key is a duplicate
            arguments.append(row.type)
            arguments.append(row.serializedParams)
            arguments.append(now)
            arguments.append(row.notBefore)
            arguments.append(row.dedupeKey)
            stored += 1
        }
        guard stored > 0 else { return }
        let insert = "INSERT INTO event(type, params, created_at, not_before, dedupe_key) VALUES "
            + Self.placeholders(rows: stored, "(?, ?, ?, ?, ?)")
        counts.added += stored
        guard !seenKeys.isEmpty, rows.contains(where: { $0.dedupeKey != nil }) else {
            try db.execute(insert, arguments)
            return
        }
        var first = Int64.max, last = Int64.min
        try db.forEach(insert + " RETURNING id", arguments) {
            let id = try $0.int64("id")
            first = min(first, id)
            last = max(last, id)
        }
        // Each new key points at its event: the one event that carries it, in this range. (Driven
        // by the id range, each key found by its primary key.)
        try db.execute("""
            UPDATE dedupe_key SET event_id = event.id FROM event
            WHERE event.id BETWEEN ? AND ? AND event.dedupe_key = dedupe_key.key
            """, [first, last])
    }

    /// `count` copies of `row` separated by commas: "(?, ?), (?, ?)".
    private static func placeholders(rows count: Int, _ row: String) -> String {
        var text = ""
        text.reserveCapacity(count * (row.utf8.count + 2))
        for index in 0..<count {
            if index > 0 { text += ", " }
            text += row
        }
        return text
    }
}
