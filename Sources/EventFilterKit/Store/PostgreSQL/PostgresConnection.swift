import CPostgreSQL
import Foundation

/// A connection to a PostgreSQL server through libpq, owned by one thread at a time.
///
/// Every value is a bound parameter (`$1`, `$2`, ...), never text spliced into SQL. A SQL text's
/// first run goes to the server as one unnamed statement (parse, bind and execute in one round
/// trip); a text run a second time is prepared then, under a name of its own, and reused for the
/// life of the connection, so a loop that runs the same statement many times has it parsed and
/// planned once, and a statement a process runs once (most of a cron run with nothing to do)
/// costs one round trip rather than three (prepare, describe, execute); the second run prepares
/// and executes, two round trips, the number of parameters being known from the first. Values travel in
/// PostgreSQL's text format, except byte arrays, which go as binary `bytea`.
///
///     let db = try PostgresConnection("postgresql://eventfilter@db.example.com/eventfilter")
///     try db.inTransaction {
///         try db.execute("INSERT INTO account(email, name) VALUES ($1, $2)", ["ann@example.com", "Ann"])
///     }
///     for row in try db.query("SELECT id, email FROM account WHERE name = $1", ["Ann"]) {
///         print(try row.int64("id"), try row.string("email"))
///     }
///
/// A failure throws `PostgresError`, whose `kind` says what to do: `.retryable` (run the whole
/// transaction again), `.connectionLost` (make a new connection), `.uniqueViolation`, `.diskFull`.
public final class PostgresConnection {
    private let handle: OpaquePointer
    /// The connection string this connection was made with, password hidden, for messages.
    public let target: PostgresConnectionString
    /// Prepared statements by SQL text: the server-side name and the number of parameters.
    private var preparedStatements: [String: PreparedStatement] = [:]
    /// SQL texts run once, as unnamed statements: the next run of one prepares it.
    private var runOnce: Set<String> = []
    /// The number of values each text's unnamed run took, when it succeeded: the server refuses
    /// a bind with more or fewer than the text uses, so this is the text's own number, and
    /// preparing the text needs no round trip to describe it.
    private var parameterCounts: [String: Int] = [:]
    private var nextStatementNumber = 1
    /// 0 outside a transaction, 1 inside one, more inside savepoints.
    private var transactionDepth = 0
    /// The SQL of the statement `send` sent whose result is not read yet: it is read, and its
    /// error thrown, before anything else goes to the server (`finishSent`).
    private var sentSQL: String?

    private struct PreparedStatement {
        let name: String
        let parameterCount: Int
    }

    /// How strictly a transaction is kept apart from others running at the same time.
    public enum IsolationLevel: String, Sendable {
        case readCommitted = "READ COMMITTED"
        case repeatableRead = "REPEATABLE READ"
        case serializable = "SERIALIZABLE"
    }

    /// Connects with a libpq connection string: `key=value` pairs (`host=/run/postgresql
    /// dbname=eventfilter user=eventfilter`) or a `postgresql://user:password@host:port/dbname` URI.
    /// Missing values come from libpq's environment (`PGHOST`, `PGPASSWORD`, `~/.pgpass`, ...).
    /// The session's client encoding is UTF-8, Swift's own.
    public init(_ connectionString: String) throws {
        try PostgresLibrary.load()
        target = PostgresConnectionString(connectionString)
        guard let connection = Self.connect(connectionString) else {
            throw PostgresError(kind: .connectionLost, message: "cannot connect to \(target.redacted): out of memory")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let reason = target.redact(String(cString: PQerrorMessage(connection)))
            PQfinish(connection)
            // A string libpq cannot parse is a configuration mistake, not an outage.
            let parses = PQconninfoParse(connectionString, nil).map { PQconninfoFree($0); return true } ?? false
            throw PostgresError(kind: parses ? .connectionLost : .other,
                                message: "cannot connect to \(target.redacted): \(reason)")
        }
        handle = connection
        // libpq prints NOTICE and WARNING messages ("table ... does not exist, skipping") on
        // stderr by default; stderr is for the operator's one-line errors.
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
        guard PQparameterStatus(handle, "client_encoding").map({ String(cString: $0) }) == "UTF8"
                || PQsetClientEncoding(handle, "UTF8") == 0 else {
            let error = connectionError(sql: nil)
            PQfinish(handle)
            throw error
        }
    }

    /// Connects asking for UTF-8 in the start-up message itself (`client_encoding`), so that no
    /// `SET client_encoding` round trip follows. The connection string is expanded by libpq as
    /// `dbname` (`expand_dbname`), which reads a `key=value` string or a URI exactly as
    /// `PQconnectdb` does; a string that is neither (a bare word, which libpq would then take for a
    /// database name) goes to `PQconnectdb`, so that it is refused as before.
    private static func connect(_ connectionString: String) -> OpaquePointer? {
        let expandable = connectionString.isEmpty || connectionString.contains("=")
            || connectionString.hasPrefix("postgresql://") || connectionString.hasPrefix("postgres://")
        guard expandable else { return PQconnectdb(connectionString) }
        // Later keywords override what the expanded string says: the encoding is always UTF-8.
        let keywords = ["dbname", "client_encoding"], values = [connectionString, "UTF8"]
        let keywordPointers = keywords.map { strdup($0) }, valuePointers = values.map { strdup($0) }
        defer { (keywordPointers + valuePointers).forEach { free($0) } }
        let keywordArray = keywordPointers.map { UnsafePointer($0) } + [nil]
        let valueArray = valuePointers.map { UnsafePointer($0) } + [nil]
        return PQconnectdbParams(keywordArray, valueArray, 1)
    }

    deinit { PQfinish(handle) }

    /// True while the socket to the server is usable; false after the server ended the session.
    public var isConnected: Bool { PQstatus(handle) == CONNECTION_OK }

    /// The server process serving this connection (`pg_backend_pid()`).
    public var backendPID: Int32 { PQbackendPID(handle) }

    /// How many statements this connection has prepared so far (one per distinct SQL text run
    /// more than once).
    public var preparedStatementCount: Int { preparedStatements.count }

    /// True inside `inTransaction` (and `inSavepoint`).
    public var isInTransaction: Bool { transactionDepth > 0 }

    // MARK: Statements

    /// Runs one statement with its parameters bound to `$1`, `$2`, ... and returns its result
    /// (rows, or the number of rows it changed).
    ///
    ///     try db.execute("UPDATE account SET name = $1 WHERE id = $2", ["Ann", 7])
    ///
    /// A statement prepared before its table changed shape (a migration added a column that a
    /// `SELECT *` returns) fails on the server with "cached plan must not change result type";
    /// it is then prepared anew: at once outside a transaction, and inside one the error is
    /// `.retryable`, since the transaction aborted and succeeds when run again.
    ///
    /// `binaryResults`: the server sends the columns in its binary format (a `bytea` as its bytes,
    /// not as twice as many hex digits to spell and to read back); `PostgresRow` reads both.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [DatabaseValueConvertible] = [], binaryResults: Bool = false) throws -> PostgresResult {
        try finishSent()
        let format: Int32 = binaryResults ? 1 : 0
        do {
            return try executePrepared(sql, parameters, resultFormat: format)
        } catch let error as PostgresError where error.sqlState == "0A000" && error.message == "cached plan must not change result type" {
            guard let stale = preparedStatements.removeValue(forKey: sql) else { throw error }
            guard PQtransactionStatus(handle) == PQTRANS_IDLE else {
                // The stale statement stays on the server under its name, which is never used again.
                throw PostgresError(kind: .retryable, sqlState: error.sqlState, message: error.message, sql: sql)
            }
            try executeScript("DEALLOCATE \(stale.name)")
            return try executePrepared(sql, parameters, resultFormat: format)
        }
    }

    private func executePrepared(_ sql: String, _ parameters: [DatabaseValueConvertible], resultFormat: Int32) throws -> PostgresResult {
        if preparedStatements[sql] == nil, runOnce.insert(sql).inserted {
            return try executeUnnamed(sql, parameters, resultFormat: resultFormat)
        }
        let statement = try prepared(sql)
        let values = try bind(parameters, to: statement, sql: sql)
        let result = values.withUnsafeArguments { values, lengths, formats in
            PQexecPrepared(handle, statement.name, Int32(parameters.count), values, lengths, formats, resultFormat)
        }
        return try check(result, sql: sql)
    }

    /// Sends one statement (prepared first, if it is not yet) and returns without waiting for
    /// the server: the caller goes on (composing the next rows) while the server runs it. Its
    /// result is read before the next statement, transaction end or savepoint goes to the server,
    /// and its error is thrown there, so a transaction whose statement failed never commits.
    /// For writes whose result nobody reads (no rows, no count).
    ///
    ///     try db.send("INSERT INTO item(name) VALUES ($1), ($2)", ["ann", "bob"])
    ///     try db.execute("UPDATE item SET seen = true")   // reads the insert's result first
    public func send(_ sql: String, _ parameters: [DatabaseValueConvertible]) throws {
        try finishSent()
        let statement = try prepared(sql)
        let values = try bind(parameters, to: statement, sql: sql)
        // libpq copies the values into its output buffer before this returns.
        let sent = values.withUnsafeArguments { values, lengths, formats in
            PQsendQueryPrepared(handle, statement.name, Int32(parameters.count), values, lengths, formats, 0)
        }
        guard sent == 1 else { throw connectionError(sql: sql) }
        sentSQL = sql
    }

    /// Reads the result of the statement `send` sent, if any; throws its error. A unique
    /// violation or a lost race comes back as a plain error: whoever catches it catches it
    /// around another statement, which did not cause it.
    public func finishSent() throws {
        guard let sql = sentSQL else { return }
        sentSQL = nil
        var outcome: Result<Void, Error> = .success(())
        // The statement's result, then nil: libpq's end of the results.
        while let result = PQgetResult(handle) {
            guard case .success = outcome else {
                PQclear(result)
                continue
            }
            do {
                _ = try check(result, sql: sql)
            } catch let error as PostgresError where error.kind == .uniqueViolation || error.kind == .retryable {
                // A lost race (deadlock, serialization failure) too: a caller that runs its own
                // statement again on a retryable error would go on as if this one had worked.
                outcome = .failure(PostgresError(kind: .other, sqlState: error.sqlState, message: error.message,
                                                 detail: error.detail, constraint: error.constraint, sql: sql))
            } catch {
                outcome = .failure(error)
            }
        }
        try outcome.get()
    }

    /// A text's first run: PQexecParams sends parse, bind, describe and execute together. The
    /// server counts the parameters the text uses; a call with another number of values gets the
    /// same one-line error as a prepared statement's check gives.
    private func executeUnnamed(_ sql: String, _ parameters: [DatabaseValueConvertible], resultFormat: Int32) throws -> PostgresResult {
        let values = try PostgresParameters(parameters, sql: sql)
        let result = values.withUnsafeArguments { values, lengths, formats in
            PQexecParams(handle, sql, Int32(parameters.count), nil, values, lengths, formats, resultFormat)
        }
        do {
            let checked = try check(result, sql: sql)
            parameterCounts[sql] = parameters.count
            return checked
        } catch let error as PostgresError where error.sqlState == "08P01" {
            // "bind message supplies 1 parameters, but prepared statement "" requires 2"
            guard let required = error.message.split(separator: " ").last.flatMap({ Int($0) }),
                  error.message.hasPrefix("bind message supplies") else { throw error }
            throw PostgresError(message: "expected \(required) parameters, got \(parameters.count)", sql: sql)
        }
    }

    /// The rows of a query.
    public func query(_ sql: String, _ parameters: [DatabaseValueConvertible] = []) throws -> [PostgresRow] {
        try execute(sql, parameters).rows
    }

    /// The first row of a query, or nil when it has none.
    public func first(_ sql: String, _ parameters: [DatabaseValueConvertible] = []) throws -> PostgresRow? {
        try execute(sql, parameters).rows.first
    }

    /// Runs `COPY ... FROM STDIN` (`sql`, written in the code) and sends `data`, COPY's text
    /// format: one line per row, columns separated by tabs, `\N` for NULL, backslash, tab, LF
    /// and CR escaped with a backslash (or, with `(FORMAT binary)`, `PostgresCopyRows`). Throws the server's error (a row it refuses) after ending
    /// the copy, so the connection is ready for the next statement.
    ///
    ///     try connection.copyIn("COPY item(name, n) FROM STDIN", data: Array("ann\t1\nbob\t\\N\n".utf8))
    public func copyIn(_ sql: String, data: [UInt8]) throws {
        let ended = try startCopy(sql, data: data)
        // The copy's outcome, then the end of the results (nil), as libpq requires.
        var outcome: Result<Void, Error> = ended ? .success(()) : .failure(connectionError(sql: sql))
        while let result = PQgetResult(handle) {
            if case .success = outcome {
                do { _ = try check(result, sql: sql).changedRowCount } catch { outcome = .failure(error) }
            } else {
                PQclear(result)
            }
        }
        try outcome.get()
    }

    /// `copyIn` without waiting for the server to store the rows: the copy starts (one round
    /// trip: the server says it is ready), the data and its end go out, and this returns while the
    /// server inserts them. Their result is read, and an error thrown, before anything else goes
    /// to the server (`finishSent`), so a transaction whose copy failed never commits.
    ///
    ///     try connection.sendCopyIn("COPY item(name) FROM STDIN (FORMAT binary)", data: rows.finished())
    ///     try connection.execute("UPDATE item SET seen = true")   // reads the copy's result first
    public func sendCopyIn(_ sql: String, data: [UInt8]) throws {
        guard try startCopy(sql, data: data) else {
            let error = connectionError(sql: sql)
            while let result = PQgetResult(handle) { PQclear(result) }
            throw error
        }
        sentSQL = sql
    }

    /// Starts `COPY ... FROM STDIN`, sends `data` and ends the copy; false when libpq could not
    /// send (the copy was then ended with an error, and its results remain to be read).
    private func startCopy(_ sql: String, data: [UInt8]) throws -> Bool {
        try finishSent()
        guard let start = PQexec(handle, sql) else { throw connectionError(sql: sql) }
        guard PQresultStatus(start) == PGRES_COPY_IN else {
            _ = try check(start, sql: sql)   // an error: thrown here
            throw PostgresError(message: "expected COPY FROM STDIN", sql: sql)
        }
        PQclear(start)
        var sent = true
        data.withUnsafeBufferPointer { buffer in
            // In pieces of 1 MiB: libpq copies each into its output buffer before sending it.
            var offset = 0
            while offset < buffer.count, sent {
                let length = min(1 << 20, buffer.count - offset)
                sent = buffer.baseAddress!.advanced(by: offset).withMemoryRebound(to: CChar.self, capacity: length) {
                    PQputCopyData(handle, $0, Int32(length)) == 1
                }
                offset += length
            }
        }
        return PQputCopyEnd(handle, sent ? nil : "eventfilter stopped sending") == 1
    }

    /// Runs several statements separated by `;` (a schema, say) without parameters and without
    /// preparing them. Only for SQL written in the code: it binds nothing.
    public func executeScript(_ sql: String) throws {
        try finishSent()
        _ = try check(PQexec(handle, sql), sql: sql)
    }

    /// `parameters` as libpq takes them for `statement`; refused, naming both numbers, when
    /// their number is not the statement's.
    private func bind(_ parameters: [DatabaseValueConvertible], to statement: PreparedStatement, sql: String) throws -> PostgresParameters {
        guard parameters.count == statement.parameterCount else {
            throw PostgresError(message: "expected \(statement.parameterCount) parameters, got \(parameters.count)", sql: sql)
        }
        return try PostgresParameters(parameters, sql: sql)
    }

    private func prepared(_ sql: String) throws -> PreparedStatement {
        if let statement = preparedStatements[sql] { return statement }
        let name = "eventfilter_\(nextStatementNumber)"
        nextStatementNumber += 1
        _ = try check(PQprepare(handle, name, sql, 0, nil), sql: sql)
        // The server inferred the parameters' number and types. Known from the text's unnamed
        // run, or else asked for, so a call with the wrong number of values fails here with a clear message.
        let parameterCount = try parameterCounts[sql] ?? Int(check(PQdescribePrepared(handle, name), sql: sql).parameterCount)
        let statement = PreparedStatement(name: name, parameterCount: parameterCount)
        preparedStatements[sql] = statement
        return statement
    }

    /// The result when the statement succeeded; else the server's error, thrown.
    private func check(_ result: OpaquePointer?, sql: String?) throws -> PostgresResult {
        guard let result else { throw connectionError(sql: sql) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return PostgresResult(result)
        default:
            defer { PQclear(result) }
            func field(_ code: Character) -> String? {
                PQresultErrorField(result, Int32(code.asciiValue!)).map { String(cString: $0) }
            }
            let sqlState = field("C")   // PG_DIAG_SQLSTATE
            let message = field("M") ?? String(cString: PQresultErrorMessage(result))
            let lost = PQstatus(handle) != CONNECTION_OK
            throw PostgresError(
                kind: lost ? .connectionLost : nil, sqlState: sqlState, message: target.redact(message),
                detail: field("D"), constraint: field("n"), sql: sql)
        }
    }

    /// The connection's own error (no result at all: out of memory, or the socket is gone).
    private func connectionError(sql: String?) -> PostgresError {
        let message = target.redact(String(cString: PQerrorMessage(handle)))
        return PostgresError(kind: isConnected ? .other : .connectionLost,
                             message: message.isEmpty ? "no result from the server" : message, sql: sql)
    }

    // MARK: Transactions

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    /// Inside another transaction it runs as a savepoint, so its failure undoes only its own writes.
    /// A transaction in which a statement failed is never committed, even when `body` caught the
    /// error: PostgreSQL would turn that COMMIT into a silent ROLLBACK, and this throws instead.
    ///
    ///     try db.inTransaction(.serializable) {
    ///         let row = try db.first("SELECT balance FROM account WHERE id = $1", [7])
    ///         ...
    ///     }
    @discardableResult
    public func inTransaction<T>(_ isolation: IsolationLevel? = nil, _ body: () throws -> T) throws -> T {
        if transactionDepth > 0 {
            guard isolation == nil else {
                throw PostgresError(message: "cannot set the isolation level inside a transaction")
            }
            return try inSavepoint(body)
        }
        try executeScript(isolation.map { "BEGIN ISOLATION LEVEL \($0.rawValue)" } ?? "BEGIN")
        transactionDepth = 1
        defer { transactionDepth = 0 }
        let result: T
        do {
            result = try body()
            try finishSent()
        } catch {
            rollBack()
            throw error
        }
        if PQtransactionStatus(handle) == PQTRANS_INERROR {
            rollBack()
            throw PostgresError(message: "the transaction was rolled back: a statement in it failed")
        }
        let commit = try check(PQexec(handle, "COMMIT"), sql: "COMMIT")
        // A COMMIT the server could not honour reports "ROLLBACK" as its command tag.
        guard commit.commandTag == "COMMIT" else {
            throw PostgresError(message: "the transaction was rolled back by the server (\(commit.commandTag))")
        }
        return result
    }

    /// Runs `body` as a unit of its own inside the current transaction (opening one when none is
    /// open): when `body` throws, its writes are undone and the transaction goes on.
    @discardableResult
    public func inSavepoint<T>(_ body: () throws -> T) throws -> T {
        guard transactionDepth > 0 else { return try inTransaction(nil, body) }
        transactionDepth += 1
        defer { transactionDepth -= 1 }
        let name = "eventfilter_savepoint_\(transactionDepth)"
        try executeScript("SAVEPOINT \(name)")
        do {
            let result = try body()
            try executeScript("RELEASE SAVEPOINT \(name)")
            return result
        } catch {
            try executeScript("ROLLBACK TO SAVEPOINT \(name); RELEASE SAVEPOINT \(name)")
            throw error
        }
    }

    /// Runs `body` in a transaction that is always rolled back: all the work, none of it kept
    /// (`run --dry-run`).
    public func inRolledBackTransaction<T>(_ body: () throws -> T) throws -> T {
        guard transactionDepth == 0 else { throw PostgresError(message: "a rolled-back transaction cannot nest in another") }
        try executeScript("BEGIN")
        transactionDepth = 1
        defer {
            transactionDepth = 0
            rollBack()
        }
        return try body()
    }

    /// Ends the transaction without keeping anything. A lost connection has already ended it.
    private func rollBack() {
        try? finishSent()  // its error, if any, is why the transaction goes
        if let result = PQexec(handle, "ROLLBACK") { PQclear(result) }
    }
}
