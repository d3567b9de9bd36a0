/// The store's connection to PostgreSQL: `StoreDatabase` on a `PostgresConnection`, taking the
/// store's SQL as written for both backends (`?` placeholders, the table `user`) and handing the
/// server its PostgreSQL spelling. Each SQL text is translated and prepared once and reused for the
/// life of the connection.
///
///     let db = try PostgresDatabase(connectionString: "host=/run/postgresql dbname=eventfilter")
///     try db.execute("INSERT INTO run_log(started_at) VALUES (?)", [now])
///     let last = try db.first("SELECT id FROM run_log ORDER BY id DESC LIMIT 1") { try $0.int64("id") }
public final class PostgresDatabase: StoreDatabase {
    public let connection: PostgresConnection
    public var dialect: SQLDialect { .postgresql }
    public private(set) var changes = 0
    public var isInTransaction: Bool { connection.isInTransaction }
    private var translations: [String: String] = [:]

    public init(connection: PostgresConnection) {
        self.connection = connection
    }

    public convenience init(connectionString: String) throws {
        self.init(connection: try PostgresConnection(connectionString))
    }

    /// The connection string with its password hidden, for messages.
    public var target: String { connection.target.redacted }

    private func translated(_ sql: String) -> String {
        if let text = translations[sql] { return text }
        let text = PostgresSQL.translate(sql)
        translations[sql] = text
        return text
    }

    /// `lastval()`: the value the session's last identity insert drew.
    public var lastInsertRowID: Int64 {
        (try? connection.first("SELECT lastval() AS id")?.int64("id")) ?? 0
    }

    public func execute(_ sql: String, _ arguments: [DatabaseValueConvertible]) throws {
        if arguments.isEmpty && sql.contains(";") {
            try connection.executeScript(translated(sql))
            changes = 0
            return
        }
        changes = try connection.execute(translated(sql), arguments).changedRowCount
    }

    /// Sends one write without waiting for the server (`PostgresConnection.send`): its error is
    /// thrown by the next statement or by the transaction's end, before anything commits.
    ///
    ///     try db.send("UPDATE outbox SET state = 'sent' WHERE id = ?", [id])
    public func send(_ sql: String, _ arguments: [DatabaseValueConvertible]) throws {
        changes = 0
        try connection.send(translated(sql), arguments)
    }

    /// Reads the result of the write `send` sent, if any, and throws its error.
    public func finishSent() throws {
        try connection.finishSent()
    }

    public func forEach(_ sql: String, _ arguments: [DatabaseValueConvertible], _ body: (Row) throws -> Void) throws {
        let result = try connection.execute(translated(sql), arguments)
        changes = result.changedRowCount
        for row in result.rows { try body(Row(postgres: row)) }
    }

    /// `map` with the columns sent in the server's binary format: for rows whose `bytea` columns
    /// are large (message bodies), which the text format spells in twice as many hex digits.
    ///
    ///     let bodies = try db.mapBinary("SELECT message FROM outbox_message WHERE outbox_id = ?", [7]) { try $0.bytes("message") }
    public func mapBinary<T>(_ sql: String, _ arguments: [DatabaseValueConvertible], _ transform: (Row) throws -> T) throws -> [T] {
        let result = try connection.execute(translated(sql), arguments, binaryResults: true)
        changes = result.changedRowCount
        return try result.rows.map { try transform(Row(postgres: $0)) }
    }

    public func first<T>(_ sql: String, _ arguments: [DatabaseValueConvertible], _ transform: (Row) throws -> T) throws -> T? {
        let result = try connection.execute(translated(sql), arguments)
        changes = result.changedRowCount
        return try result.rows.first.map { try transform(Row(postgres: $0)) }
    }

    /// `COPY ... FROM STDIN` with `data` in COPY's text format (see `PostgresConnection.copyIn`).
    public func copyIn(_ sql: String, data: [UInt8]) throws {
        changes = 0
        try connection.copyIn(sql, data: data)
    }

    /// `copyIn` without waiting for the server (`PostgresConnection.sendCopyIn`): its error is
    /// thrown by the next statement or by the transaction's end, before anything commits.
    public func sendCopyIn(_ sql: String, data: [UInt8]) throws {
        changes = 0
        try connection.sendCopyIn(sql, data: data)
    }

    @discardableResult
    public func inTransaction<T>(_ body: () throws -> T) throws -> T {
        try connection.inTransaction(nil, body)
    }

    public func inSavepoint<T>(_ body: () throws -> T) throws -> T {
        try connection.inSavepoint(body)
    }

    public func inRolledBackTransaction<T>(_ body: () throws -> T) throws -> T {
        try connection.inRolledBackTransaction(body)
    }
}
