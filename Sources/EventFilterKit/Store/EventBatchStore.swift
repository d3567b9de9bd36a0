/// Many events stored at once (`event import`), with the same outcome as `addEvent` called for
/// each in turn: a dedupe key seen before (in the store, or earlier in the same batch) stores
/// nothing and counts as a duplicate; every other event gets the next id, in input order.
///
/// Rows go in with multi-row `INSERT ... VALUES (?, ...), (?, ...)` statements of up to
/// `rowsPerStatement` rows, every value bound; on PostgreSQL a batch without dedupe keys goes
/// in with `COPY ... FROM STDIN` instead (COPY cannot skip a key stored before). One statement
/// per event would cost far more: SQLite writes a statement journal for each INSERT into a table
/// with AUTOINCREMENT and four indexes (ten page writes per event), and PostgreSQL pays a round
/// trip per statement.
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
            if let postgres = db as? PostgresDatabase, !rows.contains(where: { $0.dedupeKey != nil }) {
                try copyEvents(rows, now: now, into: postgres)
                counts.added = rows.count
                return
            }
            for chunk in rows.slices(of: EventBatchStore.rowsPerStatement) {
                try insertEventChunk(chunk, now: now, seenKeys: &seenKeys, counts: &counts)
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

    /// Rows without keys into PostgreSQL's event table with COPY, 10,000 rows to a COPY so the
    /// text stays small.
    private func copyEvents(_ rows: [EventBatchStore.Row], now: Int64, into postgres: PostgresDatabase) throws {
        let sql = "COPY event(type, params, created_at, not_before) FROM STDIN"
        var data: [UInt8] = []
        for (index, row) in rows.enumerated() {
            try Self.appendCopyText(row.type, to: &data, sql: sql)
            data.append(0x09)
            try Self.appendCopyText(row.serializedParams, to: &data, sql: sql)
            data.append(0x09)
            data.append(contentsOf: String(now).utf8)
            data.append(0x09)
            if let notBefore = row.notBefore { data.append(contentsOf: String(notBefore).utf8) } else { data.append(contentsOf: [0x5C, 0x4E]) }
            data.append(0x0A)
            if (index + 1) % 10_000 == 0 || index == rows.count - 1 {
                try postgres.copyIn(sql, data: data)
                data.removeAll(keepingCapacity: true)
            }
        }
    }

    /// `text` in COPY's text format: backslash, tab, LF and CR escaped; a NUL refused, as
    /// PostgreSQL's text cannot store one (and a bound value with one is refused the same way).
    private static func appendCopyText(_ text: String, to data: inout [UInt8], sql: String) throws {
        for byte in text.utf8 {
            switch byte {
            case 0x5C: data.append(0x5C); data.append(0x5C)
            case 0x09: data.append(0x5C); data.append(UInt8(ascii: "t"))
            case 0x0A: data.append(0x5C); data.append(UInt8(ascii: "n"))
            case 0x0D: data.append(0x5C); data.append(UInt8(ascii: "r"))
            case 0x00: throw PostgresError(message: "a value contains a NUL character, which PostgreSQL text cannot store", sql: sql)
            default: data.append(byte)
            }
        }
    }

    /// `count` copies of `row` separated by commas: "(?, ?), (?, ?)", the rows of a multi-row
    /// `VALUES` of bound values.
    static func placeholders(rows count: Int, _ row: String) -> String {
        var text = ""
        text.reserveCapacity(count * (row.utf8.count + 2))
        for index in 0..<count {
            if index > 0 { text += ", " }
            text += row
        }
        return text
    }
}
