import Foundation

/// `eventfilter db copy`: an SQLite store copied into an empty PostgreSQL database, every table
/// and row with its ids, in one transaction on each side.
///
///     let copy = try StoreCopy.sqliteToPostgreSQL(path: "var/eventfilter.db", to: "host=/run/postgresql dbname=eventfilter")
///     print(copy.summary)   // "copied 1234 rows in 21 tables from var/eventfilter.db to host=/run/postgresql dbname=eventfilter"
///
/// The target must be empty (no table at all): the copy never merges into or replaces a store.
/// It gets PostgreSQL's schema first, then the rows, parents before the rows that refer to them;
/// each identity sequence is set past the highest id copied, and past the highest id SQLite ever
/// handed out for its AUTOINCREMENT tables, so an id is never used twice. The source is read
/// while holding its write lock, so the copy is one consistent state and no write lands in the
/// source meanwhile (writers wait, as they wait for a run; but a delivery's acceptance log takes
/// no lock, which is one reason to stop cron first). Nothing is written to the target unless
/// everything is.
public struct StoreCopy: Sendable {
    public let source: String
    public let target: String
    public let tables: Int
    public let rows: Int

    public var summary: String {
        "copied \(rows) row\(rows == 1 ? "" : "s") in \(tables) tables from \(source) to \(target)"
    }

    /// Tables others refer to, copied first (foreign keys are checked row by row).
    static let parents = ["user", "event", "content"]

    public static func sqliteToPostgreSQL(path: String, to connectionString: String) throws -> StoreCopy {
        guard FileManager.default.fileExists(atPath: path) else {
            throw EventFilterError.failure("\(path) does not exist: there is no store to copy")
        }
        // The source is brought to this eventfilter's schema first, which the target gets too.
        let store = try Store(path: path, access: .readWrite)
        guard let source = store.db as? Database else { throw EventFilterError.failure("\(path) is not an SQLite store") }
        let target = try PostgresDatabase(connectionString: connectionString)
        var copiedRows = 0
        var copiedTables = 0
        try source.inTransaction {
            try target.inTransaction {
                try target.execute("SELECT pg_advisory_xact_lock(?::bigint)", [PostgresMigrations.lockKey])
                let existing = try PostgresMigrations.tables(target)
                guard existing.isEmpty else {
                    throw EventFilterError.failure(
                        "\(target.target) is not empty (tables: \(existing.prefix(3).joined(separator: ", "))\(existing.count > 3 ? ", ..." : "")); "
                        + "db copy only fills an empty database")
                }
                try PostgresMigrations.migrate(target)
                let names = try source.map("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name") {
                    try $0.string("name")
                }
                let ordered = parents.filter(names.contains) + names.filter { !parents.contains($0) }
                for table in ordered {
                    copiedRows += try copy(table: table, from: source, to: target)
                    copiedTables += 1
                }
                // Acceptances a delivery recorded that no settle has marked sent yet (a run killed
                // mid-delivery) go too, as rows the target's next run settles; the store's id for
                // that log does not (see `Store.acceptanceLog(recording:)`).
                copiedRows += try Store.carryingAcceptances(try store.acceptanceLog(recording: false)?.entries() ?? [], into: target)
                try advanceSequences(from: source, to: target)
            }
        }
        return StoreCopy(source: path, target: target.target, tables: copiedTables, rows: copiedRows)
    }

    /// `name` as a quoted identifier, the same on both backends (names come from the schema).
    private static func quoted(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// The columns of `table` PostgreSQL stores (not the ones it computes), in order.
    private static func storedColumns(_ table: String, _ postgres: PostgresDatabase) throws -> [String] {
        try postgres.map("""
            SELECT column_name FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = ? AND is_generated = 'NEVER'
            ORDER BY ordinal_position
            """, [table]) { try $0.string("column_name") }
    }

    /// Copies one table's rows, the columns PostgreSQL stores (not the ones it computes).
    private static func copy(table: String, from source: Database, to target: PostgresDatabase) throws -> Int {
        let columns = try storedColumns(table, target)
        guard !columns.isEmpty else {
            throw EventFilterError.failure("the SQLite store's table \(table) has no counterpart in PostgreSQL's schema")
        }
        return try copyRows(table, columns, from: source, to: target)
    }

    /// Every row of `table` in `columns`, read from one backend and written to the other.
    private static func copyRows(_ table: String, _ columns: [String], from source: any StoreDatabase, to target: any StoreDatabase) throws -> Int {
        let list = columns.map(quoted).joined(separator: ", ")
        let insert = "INSERT INTO \(quoted(table)) (\(list)) VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))"
        var count = 0
        try source.forEach("SELECT \(list) FROM \(quoted(table))", []) { row in
            let values: [DatabaseValueConvertible] = (0..<Int32(columns.count)).map { row.value($0) }
            try target.execute(insert, values)
            count += 1
        }
        return count
    }

    /// Each identity sequence past the highest id copied and, for AUTOINCREMENT tables, past the
    /// highest id SQLite ever gave out (rows purged since included).
    private static func advanceSequences(from source: Database, to target: PostgresDatabase) throws {
        var handedOut: [String: Int64] = [:]
        try source.forEach("SELECT name, seq FROM sqlite_sequence", []) { handedOut[try $0.string("name")] = try $0.int64("seq") }
        let identities = try target.map("""
            SELECT table_name, column_name FROM information_schema.columns
            WHERE table_schema = current_schema() AND is_identity = 'YES'
            """) { (try $0.string("table_name"), try $0.string("column_name")) }
        for (table, column) in identities {
            let highest = Int64(try target.scalarInt("SELECT coalesce(max(\(quoted(column))), 0) FROM \(quoted(table))") ?? 0)
            let last = max(highest, handedOut[table] ?? 0)
            // setval(seq, n, true): the next id is n + 1; (seq, 1, false): the next is 1.
            try target.execute("SELECT setval(pg_get_serial_sequence(?, ?), ?::bigint, ?::boolean)",
                               [quoted(table), column, max(last, 1), last > 0 ? "true" : "false"])
        }
    }

    /// `db copy --from`: a PostgreSQL store copied into a new SQLite store at `path`, which must
    /// not exist yet. The copy is built under a temporary name and linked into place only when
    /// complete; the source is read in one snapshot (REPEATABLE READ), after being brought up to
    /// date. AUTOINCREMENT tables go on after the highest id PostgreSQL's sequences handed out.
    public static func postgreSQLToSQLite(from connectionString: String, path: String) throws -> StoreCopy {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw EventFilterError.failure("\(path) already exists; db copy --from makes a new SQLite store, so move it away first")
        }
        guard let source = try Store(postgreSQL: connectionString, access: .readWrite).db as? PostgresDatabase else {
            throw EventFilterError.failure("the source is not a PostgreSQL store")
        }
        return try postgreSQLToSQLite(from: source, path: path)
    }

    /// A PostgreSQL store, open on `source`, copied into a new SQLite store at `path` (see
    /// `postgreSQLToSQLite(from:path:)`): also what `backup` writes for a PostgreSQL store.
    static func postgreSQLToSQLite(from source: PostgresDatabase, path: String) throws -> StoreCopy {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let temporary = path + ".copy-\(getpid())-\(Crypto.hexEncode(Crypto.randomBytes(4)))"
        defer { for suffix in ["", "-wal", "-shm", "-journal"] { unlink(temporary + suffix) } }
        var copiedRows = 0
        var copiedTables = 0
        do {
            let target = try Database(path: temporary, mode: .create)
            try target.execute("PRAGMA application_id = \(Store.applicationID)")
            try Migrations.migrate(target)
            try source.connection.inTransaction(.repeatableRead) {
                try target.inTransaction {
                    let tables = try PostgresMigrations.tables(source).filter { $0 != "eventfilter_schema" }
                    for table in parents.filter(tables.contains) + tables.filter({ !parents.contains($0) }) {
                        copiedRows += try copyRows(table, try storedColumns(table, source), from: source, to: target)
                        copiedTables += 1
                    }
                    let identities = try source.map("""
                        SELECT table_name, column_name FROM information_schema.columns
                        WHERE table_schema = current_schema() AND is_identity = 'YES'
                        """) { (try $0.string("table_name"), try $0.string("column_name")) }
                    for (table, column) in identities {
                        let last = Int64(try source.scalarInt(
                            "SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence(?, ?)::regclass), 0)", [quoted(table), column]) ?? 0)
                        // SQLite remembers the highest id handed out only for its AUTOINCREMENT tables.
                        let autoincrement = try target.scalarInt(
                            "SELECT count(*) FROM sqlite_master WHERE name = ? AND sql LIKE '%AUTOINCREMENT%'", [table]) ?? 0
                        guard autoincrement > 0 && last > 0 else { continue }
                        try target.execute("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", [last, table])
                        if target.changes == 0 {
                            try target.execute("INSERT INTO sqlite_sequence(name, seq) VALUES (?, ?)", [table, last])
                        }
                    }
                    // A new store file: it draws its own id for its acceptance log.
                    copiedRows += try Store.carryingAcceptances([], into: target)
                }
            }
            try target.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        }
        guard link(temporary, path) == 0 else {
            throw EventFilterError.failure(errno == EEXIST
                ? "\(path) already exists; db copy --from makes a new SQLite store, so move it away first"
                : "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        return StoreCopy(source: source.target, target: path, tables: copiedTables, rows: copiedRows)
    }
}
