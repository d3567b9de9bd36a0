import CSQLite
import Foundation

/// SQLite's `SQLITE_TRANSIENT`, which Swift cannot import as a macro: it tells SQLite to copy
/// a bound value, so temporary C strings made from Swift strings may die after the call.
let SQLITE_TRANSIENT = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// An error reported by SQLite, with its result code and message.
///
///     do { try db.execute("INSERT INTO user(email) VALUES (?)", ["a@example.com"]) }
///     catch let error as DatabaseError where error.kind == .uniqueViolation { ... }
public struct DatabaseError: Error, CustomStringConvertible, Sendable {
    /// The primary result code (`SQLITE_BUSY`, `SQLITE_CONSTRAINT`, ...).
    public let code: Int32
    /// The extended result code, when SQLite gave one.
    public let extendedCode: Int32
    public let message: String
    /// The SQL that failed, for the error message.
    public let sql: String?

    public var description: String {
        var text = "SQLite error \(extendedCode): \(message)"
        // One line: the statement's line breaks and indentation become single spaces.
        if let sql { text += " (in: \(sql.split(whereSeparator: \.isWhitespace).joined(separator: " ").prefix(200)))" }
        return text
    }
}

extension DatabaseError {
    /// The backend-neutral meaning of this SQLite error: callers outside the connection decide by
    /// it, never by SQLite's result codes.
    public var kind: StorageErrorKind {
        switch code {
        case SQLITE_CONSTRAINT:
            // Only a duplicate key is a unique violation; NOT NULL, CHECK and foreign keys are not.
            // SQLITE_CONSTRAINT_UNIQUE and _PRIMARYKEY are macros Swift does not import:
            // the primary code with 8 and 6 in the second byte.
            let unique = SQLITE_CONSTRAINT | (8 << 8), primaryKey = SQLITE_CONSTRAINT | (6 << 8)
            return extendedCode == unique || extendedCode == primaryKey ? .uniqueViolation : .other
        case SQLITE_BUSY, SQLITE_LOCKED: return .retryable
        case SQLITE_FULL: return .diskFull
        default: return .other
        }
    }
}

/// A value that can be bound to a statement parameter.
public enum DatabaseValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

/// Types that bind as a `DatabaseValue`.
public protocol DatabaseValueConvertible {
    var databaseValue: DatabaseValue { get }
}

extension Int: DatabaseValueConvertible { public var databaseValue: DatabaseValue { .integer(Int64(self)) } }
extension Int64: DatabaseValueConvertible { public var databaseValue: DatabaseValue { .integer(self) } }
extension Double: DatabaseValueConvertible { public var databaseValue: DatabaseValue { .real(self) } }
extension String: DatabaseValueConvertible { public var databaseValue: DatabaseValue { .text(self) } }
extension Bool: DatabaseValueConvertible { public var databaseValue: DatabaseValue { .integer(self ? 1 : 0) } }
extension Array: DatabaseValueConvertible where Element == UInt8 {
    public var databaseValue: DatabaseValue { .blob(self) }
}
extension Optional: DatabaseValueConvertible where Wrapped: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue { self?.databaseValue ?? .null }
}
extension DatabaseValue: DatabaseValueConvertible { public var databaseValue: DatabaseValue { self } }

/// A connection to an SQLite database, used from one thread.
///
/// Prepared statements are cached by SQL text for the life of the connection, so a loop that
/// runs the same query many times compiles it once.
///
///     let db = try Database(path: "var/eventfilter.db")
///     try db.inTransaction {
///         try db.execute("INSERT INTO user(email, name) VALUES (?, ?)", ["a@example.com", "Ann"])
///     }
///     let count = try db.scalarInt("SELECT count(*) FROM user")
public final class Database: StoreDatabase {
    let handle: OpaquePointer
    public var dialect: SQLDialect { .sqlite }
    public let path: String
    /// The database file as SQLite opened it (a symbolic link followed), "" in memory; its
    /// write-ahead log is `walFile`.
    var file: String { String(cString: sqlite3_db_filename(handle, "main")) }
    var walFile: String { String(cString: sqlite3_filename_wal(sqlite3_db_filename(handle, "main"))) }
    private var statementCache: [String: Statement] = [:]
    private var transactionDepth = 0
    /// With `EVENTFILTER_AUDIT_QUERY_PLANS=1`, every statement's plan is checked when it is first
    /// prepared, and each one that reads a whole table (`SCAN t`) is reported on stderr: the
    /// filter must find everything through an index, whatever the backlog.
    private let auditQueryPlans = EnvironmentVariable.value("EVENTFILTER_AUDIT_QUERY_PLANS") == "1"

    /// How `Database.init` opens the file.
    public enum OpenMode: Sendable {
        /// Read and write; the file is created when missing.
        case create
        /// Read and write an existing file; a missing one is an error, never created.
        case readWrite
        /// Read only: nothing is written, not even the WAL's shared-memory index, when it exists.
        case readOnly
        /// Read only, and the file is taken as unchanging (SQLite's `immutable=1`): no locks and
        /// no `-shm`/`-wal` files, so it works in a directory nobody may write. Only right when
        /// no write-ahead log holds commits the file lacks.
        case immutable
    }

    /// Opens the database at `path`, with `synchronous=NORMAL` and foreign keys on; in a writing
    /// mode also in WAL mode, unless `writeAheadLog` is false (the caller checks first what the
    /// file is, then calls `useWriteAheadLog()`). `busyTimeout` is how long a writer waits for
    /// another process's write lock (an ingest during a run, say) before failing.
    public init(path: String, busyTimeout: Int32 = 10_000, mode: OpenMode = .create, writeAheadLog: Bool = true) throws {
        var db: OpaquePointer?
        let flags: Int32
        var name = path
        switch mode {
        case .create: flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        case .readWrite: flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX
        case .readOnly: flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX
        case .immutable:
            flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI
            name = "file:" + Self.uriPath(path) + "?immutable=1"
        }
        let rc = sqlite3_open_v2(name, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { sqlite3_close_v2(db) }
            throw DatabaseError(code: rc & 0xff, extendedCode: rc, message: "cannot open \(path): \(message)", sql: nil)
        }
        self.handle = db
        self.path = path
        sqlite3_extended_result_codes(db, 1)
        // SQLite's own busy handler (sqlite3_busy_timeout) sleeps 1, 2, 5, 10 ms... between tries,
        // so a writer that waits for a commit of a fraction of a millisecond (another FastCGI
        // worker's) loses milliseconds. This one retries every 0.1 ms for the first 2 ms, then
        // every millisecond, and gives up after `busyTimeout` ms all the same.
        sqlite3_busy_handler(db, { context, tries in
            let limitMicroseconds = Int64(Int(bitPattern: context)) * 1000
            let waited = tries < 20 ? Int64(tries) * 100 : 2000 + Int64(tries - 20) * 1000
            guard waited < limitMicroseconds else { return 0 }
            usleep(tries < 20 ? 100 : 1000)
            return 1
        }, UnsafeMutableRawPointer(bitPattern: Int(max(0, busyTimeout))))
        if writeAheadLog && (mode == .create || mode == .readWrite) {
            try useWriteAheadLog()
        }
        try execute("PRAGMA synchronous=NORMAL")
        // A big batch grows the WAL; let a checkpoint shrink it back instead of keeping it forever.
        try execute("PRAGMA journal_size_limit=67108864")
        try execute("PRAGMA foreign_keys=ON")
    }

    /// Puts the file in WAL mode (a write to its header when it was not yet): readers never
    /// wait for the writer.
    public func useWriteAheadLog() throws {
        try execute("PRAGMA journal_mode=WAL")
    }

    /// `path` for a `file:` URI: everything but unreserved characters and `/` percent-encoded.
    private static func uriPath(_ path: String) -> String {
        var out = ""
        for byte in path.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "/"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    deinit {
        statementCache.removeAll()
        sqlite3_close_v2(handle)
    }

    func error(_ rc: Int32, sql: String?) -> DatabaseError {
        DatabaseError(code: rc & 0xff, extendedCode: rc, message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }

    /// A prepared statement for `sql`, from the cache when it was prepared before.
    public func statement(_ sql: String) throws -> Statement {
        if let cached = statementCache[sql] {
            cached.reset()
            return cached
        }
        let statement = try Statement(database: self, sql: sql)
        statementCache[sql] = statement
        if auditQueryPlans { try auditPlan(of: sql) }
        return statement
    }

    /// Runs one statement (or, without arguments, several separated by `;`).
    public func execute(_ sql: String, _ arguments: [DatabaseValueConvertible]) throws {
        // On bytes: Foundation's `contains` on the text cost more than SQLite's BEGIN or SAVEPOINT.
        if arguments.isEmpty && sql.utf8.contains(UInt8(ascii: ";")) {
            var message: UnsafeMutablePointer<CChar>?
            let rc = sqlite3_exec(handle, sql, nil, nil, &message)
            if rc != SQLITE_OK {
                let text = message.map { String(cString: $0) } ?? "unknown error"
                sqlite3_free(message)
                throw DatabaseError(code: rc & 0xff, extendedCode: rc, message: text, sql: sql)
            }
            return
        }
        try statement(sql).execute(arguments)
    }

    /// Iterates the rows of a query; the row is only valid inside `body`.
    public func forEach(_ sql: String, _ arguments: [DatabaseValueConvertible], _ body: (Row) throws -> Void) throws {
        let statement = try self.statement(sql)
        try statement.bind(arguments)
        defer { statement.reset() }
        while try statement.step() {
            try body(Row(statement: statement))
        }
    }

    /// The first row of a query, mapped, or nil when it has none.
    public func first<T>(_ sql: String, _ arguments: [DatabaseValueConvertible], _ transform: (Row) throws -> T) throws -> T? {
        let statement = try self.statement(sql)
        try statement.bind(arguments)
        defer { statement.reset() }
        return try statement.step() ? transform(Row(statement: statement)) : nil
    }

    private func auditPlan(of sql: String) throws {
        let trimmed = sql.trimmingCharacters(in: .whitespacesAndNewlines).uppercased()
        guard ["SELECT", "UPDATE", "DELETE", "INSERT", "WITH"].contains(where: trimmed.hasPrefix) else { return }
        var plan: OpaquePointer?
        guard sqlite3_prepare_v2(handle, "EXPLAIN QUERY PLAN " + sql, -1, &plan, nil) == SQLITE_OK, let plan else { return }
        defer { sqlite3_finalize(plan) }
        // A subquery or WITH table materialized earlier in the plan: scanning it reads rows its
        // own plan lines (checked too) produced, such as a bound VALUES list, not a stored table.
        var materialized: Set<String> = []
        while sqlite3_step(plan) == SQLITE_ROW {
            let detail = String(cString: sqlite3_column_text(plan, 3))
            if detail.hasPrefix("MATERIALIZE ") { materialized.insert(String(detail.dropFirst("MATERIALIZE ".count))) }
            // A virtual table is json_each over a bound list (a path's nodes, some ids): small by construction.
            // "SCAN 2 CONSTANT ROWS" is a multi-row VALUES list, no table at all.
            if detail.hasPrefix("SCAN ") && !detail.contains("VIRTUAL TABLE") && !detail.hasPrefix("SCAN CONSTANT")
                && !detail.hasSuffix(" CONSTANT ROWS") && !materialized.contains(String(detail.dropFirst("SCAN ".count))) {
                FileHandle.standardError.write(Data("query plan: \(detail) in: \(sql.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " "))\n".utf8))
            }
        }
    }

    /// Copies one snapshot of this database into a new database file at `path` with SQLite's
    /// online backup API: one read transaction, so writers go on meanwhile (WAL). Retries while
    /// the source is locked (a checkpoint, a schema change) up to `attempts` times, 50 ms apart.
    /// The copy uses a rollback journal, so it is one self-contained file. Errors call the copy
    /// `destination` (the file the caller links it to), not by its temporary path.
    func backup(into path: String, naming destination: String, attempts: Int) throws {
        var target: OpaquePointer?
        guard sqlite3_open_v2(path, &target, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil) == SQLITE_OK, let target else {
            let reason = target.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(target)
            throw EventFilterError.failure("cannot create \(destination): \(reason)")
        }
        defer { sqlite3_close_v2(target) }
        guard let backup = sqlite3_backup_init(target, "main", handle, "main") else {
            throw EventFilterError.failure("cannot back up to \(destination): \(String(cString: sqlite3_errmsg(target)))")
        }
        // All pages in one step: one read transaction, so one snapshot. Stepping in parts would
        // restart whenever another process commits, and a busy store might never finish.
        var rc: Int32 = SQLITE_OK
        for _ in 0..<attempts {
            rc = sqlite3_backup_step(backup, -1)
            guard rc == SQLITE_BUSY || rc == SQLITE_LOCKED else { break }
            sqlite3_sleep(50)
        }
        sqlite3_backup_finish(backup)
        guard rc == SQLITE_DONE else {
            throw EventFilterError.failure("backup to \(destination) failed: \(String(cString: sqlite3_errstr(rc)))")
        }
        // The copy is one self-contained file: no WAL to carry along or to forget.
        guard sqlite3_exec(target, "PRAGMA journal_mode = DELETE", nil, nil, nil) == SQLITE_OK else {
            throw EventFilterError.failure("backup to \(destination) failed: \(String(cString: sqlite3_errmsg(target)))")
        }
    }

    /// True when no transaction is open (none was begun, or SQLite rolled it back after an error).
    var isAutocommit: Bool { sqlite3_get_autocommit(handle) != 0 }

    public var isInTransaction: Bool { !isAutocommit }

    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }
    public var changes: Int { Int(sqlite3_changes(handle)) }

    /// Runs `body` inside the current transaction as a unit of its own: when `body` throws, its
    /// writes are undone and the transaction goes on. The filter runs each (event, handler)
    /// pair in one, so a handler that fails leaves nothing half-written.
    public func inSavepoint<T>(_ body: () throws -> T) throws -> T {
        precondition(transactionDepth > 0, "a savepoint needs a transaction")
        try execute("SAVEPOINT handler")
        do {
            let result = try body()
            try execute("RELEASE handler")
            return result
        } catch {
            // After some errors (a full disk, an I/O error) SQLite has already rolled back the
            // whole transaction, savepoint included: the error to report is that one, not the
            // "no such savepoint" a rollback to it would add.
            guard !isAutocommit else { throw error }
            try execute("ROLLBACK TO handler")
            try execute("RELEASE handler")
            throw error
        }
    }

    /// Runs `body` in a transaction that is always rolled back: `run --dry-run` does all the
    /// work and keeps none of it.
    public func inRolledBackTransaction<T>(_ body: () throws -> T) throws -> T {
        precondition(transactionDepth == 0, "a dry run cannot nest in a transaction")
        try execute("BEGIN IMMEDIATE")
        let locked = ContinuousClock.now
        transactionDepth = 1
        defer {
            transactionDepth = 0
            try? execute("ROLLBACK")
            traceWriteLock(since: locked, outcome: "rolled back")
        }
        return try body()
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    /// Nested calls join the outer transaction. `IMMEDIATE` takes the write lock at once, so two
    /// writers never deadlock upgrading from a read.
    @discardableResult
    public func inTransaction<T>(_ body: () throws -> T) throws -> T {
        if transactionDepth > 0 {
            transactionDepth += 1
            defer { transactionDepth -= 1 }
            return try body()
        }
        try execute("BEGIN IMMEDIATE")
        let locked = ContinuousClock.now
        transactionDepth = 1
        do {
            let result = try body()
            transactionDepth = 0
            try execute("COMMIT")
            traceWriteLock(since: locked, outcome: "committed")
            return result
        } catch {
            transactionDepth = 0
            try? execute("ROLLBACK")
            traceWriteLock(since: locked, outcome: "rolled back")
            throw error
        }
    }

    /// With `EVENTFILTER_TRACE_WRITE_LOCK=1`, each transaction reports on stderr how long it held
    /// the write lock (`write lock: 12.345 ms committed`): every other writer (`ingest`, `cgi`,
    /// `event add`) waits at most that long for it. For measurements and tests; off by default.
    private let traceWriteLocks = EnvironmentVariable.value("EVENTFILTER_TRACE_WRITE_LOCK") == "1"

    private func traceWriteLock(since start: ContinuousClock.Instant, outcome: String) {
        guard traceWriteLocks else { return }
        let held = ContinuousClock.now - start
        let milliseconds = Double(held.components.seconds) * 1000 + Double(held.components.attoseconds) / 1e15
        FileHandle.standardError.write(Data("write lock: \(String(format: "%.3f", milliseconds)) ms \(outcome)\n".utf8))
    }
}

/// A compiled SQL statement. Obtain one from `Database.statement(_:)`.
public final class Statement {
    let handle: OpaquePointer
    unowned let database: Database
    public let sql: String

    init(database: Database, sql: String) throws {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(database.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw database.error(rc, sql: sql) }
        self.handle = stmt
        self.database = database
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    /// The result columns' positions by name, looked up once per statement.
    private lazy var columnPositions: [String: Int32] = {
        var positions: [String: Int32] = [:]
        for position in 0..<sqlite3_column_count(handle) {
            if let name = sqlite3_column_name(handle, position) {
                positions[String(cString: name)] = positions[String(cString: name)] ?? position
            }
        }
        return positions
    }()

    /// The position of the result column called `name` (its `AS` alias, or the column's name).
    func position(ofColumn name: String) throws -> Int32 {
        guard let position = columnPositions[name] else {
            throw DatabaseError(code: SQLITE_RANGE, extendedCode: SQLITE_RANGE,
                                message: "no result column named \(name)", sql: sql)
        }
        return position
    }

    public func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    /// Binds positional arguments (1-based in SQL, 0-based here).
    public func bind(_ arguments: [DatabaseValueConvertible]) throws {
        let expected = Int(sqlite3_bind_parameter_count(handle))
        guard expected == arguments.count else {
            throw DatabaseError(code: SQLITE_RANGE, extendedCode: SQLITE_RANGE,
                                message: "expected \(expected) arguments, got \(arguments.count)", sql: sql)
        }
        for (index, argument) in arguments.enumerated() {
            let position = Int32(index + 1)
            let rc: Int32
            switch argument.databaseValue {
            case .null: rc = sqlite3_bind_null(handle, position)
            case .integer(let value): rc = sqlite3_bind_int64(handle, position, value)
            case .real(let value): rc = sqlite3_bind_double(handle, position, value)
            case .text(let value): rc = sqlite3_bind_text(handle, position, value, -1, SQLITE_TRANSIENT)
            case .blob(let bytes):
                rc = bytes.withUnsafeBytes { raw in
                    sqlite3_bind_blob(handle, position, raw.baseAddress, Int32(raw.count), SQLITE_TRANSIENT)
                }
            }
            guard rc == SQLITE_OK else { throw database.error(rc, sql: sql) }
        }
    }

    /// Advances to the next row; false when done.
    public func step() throws -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw database.error(rc, sql: sql)
        }
    }

    /// Binds and runs a statement that returns no rows.
    public func execute(_ arguments: [DatabaseValueConvertible] = []) throws {
        try bind(arguments)
        defer { reset() }
        while try step() {}
    }
}

/// The current row of a query, its columns read by name (the column or its `AS` alias) or by
/// 0-based position, from either backend: an SQLite statement being stepped or a PostgreSQL result.
///
///     try db.forEach("SELECT id, email FROM user") { row in
///         print(try row.int64("id"), try row.string("email"))
///     }
///
/// Read by position, NULL reads as 0 or "" (SQLite's own conversion), on both backends.
public struct Row {
    private enum Source {
        case sqlite(Statement)
        case postgres(PostgresRow)
    }
    private let source: Source

    init(statement: Statement) { source = .sqlite(statement) }
    init(postgres row: PostgresRow) { source = .postgres(row) }

    public func isNull(_ column: String) throws -> Bool {
        switch source {
        case .sqlite(let statement): return isNull(try statement.position(ofColumn: column))
        case .postgres(let row): return try row.isNull(column)
        }
    }
    public func int(_ column: String) throws -> Int { Int(try int64(column)) }
    public func int64(_ column: String) throws -> Int64 {
        switch source {
        case .sqlite(let statement): return int64(try statement.position(ofColumn: column))
        case .postgres(let row): return try row.optionalInt64(column) ?? 0
        }
    }
    public func double(_ column: String) throws -> Double {
        switch source {
        case .sqlite(let statement): return double(try statement.position(ofColumn: column))
        case .postgres(let row): return try row.isNull(column) ? 0 : row.double(column)
        }
    }
    public func optionalInt(_ column: String) throws -> Int? { try optionalInt64(column).map { Int($0) } }
    public func optionalInt64(_ column: String) throws -> Int64? {
        try isNull(column) ? nil : int64(column)
    }
    public func string(_ column: String) throws -> String { try optionalString(column) ?? "" }
    public func optionalString(_ column: String) throws -> String? {
        switch source {
        case .sqlite(let statement): return optionalString(try statement.position(ofColumn: column))
        case .postgres(let row): return try row.optionalString(column)
        }
    }
    public func bytes(_ column: String) throws -> [UInt8] {
        switch source {
        case .sqlite(let statement): return bytes(try statement.position(ofColumn: column))
        case .postgres(let row): return try row.optionalBytes(column) ?? []
        }
    }

    public func isNull(_ column: Int32) -> Bool {
        switch source {
        case .sqlite(let statement): return sqlite3_column_type(statement.handle, column) == SQLITE_NULL
        case .postgres(let row): return row.text(at: column) == nil
        }
    }
    public func int(_ column: Int32) -> Int { Int(int64(column)) }
    public func int64(_ column: Int32) -> Int64 {
        switch source {
        case .sqlite(let statement): return sqlite3_column_int64(statement.handle, column)
        case .postgres(let row): return row.text(at: column).flatMap { Int64($0) } ?? 0
        }
    }
    public func double(_ column: Int32) -> Double {
        switch source {
        case .sqlite(let statement): return sqlite3_column_double(statement.handle, column)
        case .postgres(let row): return row.text(at: column).flatMap { Double($0) } ?? 0
        }
    }
    public func optionalInt(_ column: Int32) -> Int? { isNull(column) ? nil : int(column) }

    public func string(_ column: Int32) -> String { optionalString(column) ?? "" }

    public func optionalString(_ column: Int32) -> String? {
        switch source {
        case .sqlite(let statement):
            guard sqlite3_column_type(statement.handle, column) != SQLITE_NULL,
                  let text = sqlite3_column_text(statement.handle, column) else { return nil }
            return String(cString: text)
        case .postgres(let row): return row.text(at: column)
        }
    }

    public func bytes(_ column: Int32) -> [UInt8] {
        switch source {
        case .sqlite(let statement):
            let count = Int(sqlite3_column_bytes(statement.handle, column))
            guard count > 0, let pointer = sqlite3_column_blob(statement.handle, column) else { return [] }
            return Array(UnsafeRawBufferPointer(start: pointer, count: count))
        case .postgres(let row): return row.bytes(at: column)
        }
    }

    /// The column as a backend-neutral value of its stored type (for copying rows between
    /// backends).
    public func value(_ column: Int32) -> DatabaseValue {
        switch source {
        case .sqlite(let statement):
            switch sqlite3_column_type(statement.handle, column) {
            case SQLITE_NULL: return .null
            case SQLITE_INTEGER: return .integer(sqlite3_column_int64(statement.handle, column))
            case SQLITE_FLOAT: return .real(sqlite3_column_double(statement.handle, column))
            case SQLITE_BLOB: return .blob(bytes(column))
            default: return .text(string(column))
            }
        case .postgres(let row): return row.value(at: column)
        }
    }
}
