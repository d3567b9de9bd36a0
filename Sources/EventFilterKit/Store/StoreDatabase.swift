/// The SQL a backend speaks, for the few statements that must be written twice (JSON functions,
/// catalog queries); everything else is written once and runs on both.
public enum SQLDialect: String, Sendable {
    case sqlite
    case postgresql
}

/// One connection the store's SQL runs on, SQLite's `Database` or PostgreSQL's
/// `PostgresDatabase`. SQL uses `?` placeholders on both (the PostgreSQL side numbers them);
/// every value is bound; rows are read by column name (`try row.string("email")`).
///
///     let db: any StoreDatabase = store.db
///     try db.inTransaction {
///         try db.execute("UPDATE run_log SET error = ? WHERE id = ?", ["stopped", 7])
///     }
///     let emails = try db.map("SELECT email FROM user ORDER BY email") { try $0.string("email") }
///     if db.dialect == .postgresql { ... }   // only where the two must differ
///
/// Errors are `DatabaseError` (SQLite) or `PostgresError`; both have a backend-neutral `kind`.
public protocol StoreDatabase: AnyObject {
    var dialect: SQLDialect { get }
    /// How many rows the last INSERT, UPDATE or DELETE changed.
    var changes: Int { get }
    /// The id of the last row inserted into a table with an id column. Prefer `RETURNING id`,
    /// which says which table and works inside any statement.
    var lastInsertRowID: Int64 { get }
    /// True while a transaction is open on this connection.
    var isInTransaction: Bool { get }

    /// Runs one statement (or, without arguments, several separated by `;`).
    func execute(_ sql: String, _ arguments: [DatabaseValueConvertible]) throws
    /// Calls `body` with each row of a query; a row is only valid inside `body`.
    func forEach(_ sql: String, _ arguments: [DatabaseValueConvertible], _ body: (Row) throws -> Void) throws
    /// The first row of a query, mapped, or nil when it has none.
    func first<T>(_ sql: String, _ arguments: [DatabaseValueConvertible], _ transform: (Row) throws -> T) throws -> T?

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    /// Nested calls join the outer transaction.
    @discardableResult
    func inTransaction<T>(_ body: () throws -> T) throws -> T
    /// Runs `body` inside the current transaction as a unit of its own: when it throws, its
    /// writes are undone and the transaction goes on.
    func inSavepoint<T>(_ body: () throws -> T) throws -> T
    /// Runs `body` in a transaction that is always rolled back (`run --dry-run`).
    func inRolledBackTransaction<T>(_ body: () throws -> T) throws -> T
}

extension StoreDatabase {
    public func execute(_ sql: String) throws {
        try execute(sql, [])
    }

    public func forEach(_ sql: String, _ body: (Row) throws -> Void) throws {
        try forEach(sql, [], body)
    }

    /// Maps every row of a query.
    public func map<T>(_ sql: String, _ arguments: [DatabaseValueConvertible] = [], _ transform: (Row) throws -> T) throws -> [T] {
        var result: [T] = []
        try forEach(sql, arguments) { result.append(try transform($0)) }
        return result
    }

    public func first<T>(_ sql: String, _ transform: (Row) throws -> T) throws -> T? {
        try first(sql, [], transform)
    }

    /// The first column of the first row as an integer, or nil.
    public func scalarInt(_ sql: String, _ arguments: [DatabaseValueConvertible] = []) throws -> Int? {
        try first(sql, arguments) { $0.isNull(0) ? nil : $0.int(0) } ?? nil
    }
}

/// The type of the elements `StoreDatabase.elements(of:)` lists.
public enum SQLListElement: Sendable {
    case integer
    case text
}

extension StoreDatabase {
    /// A subquery listing the elements of a JSON array bound to its one `?`, in a column called
    /// `value`: a list of any length as one bound value, on either backend (SQLite's `json_each`,
    /// PostgreSQL's `json_array_elements_text`).
    ///
    ///     let sql = "DELETE FROM digest_item WHERE id IN (\(db.elements(of: .integer)))"
    ///     try db.execute(sql, [JSONValue.array(ids.map { .number(Double($0)) }).serialized])
    public func elements(of type: SQLListElement) -> String {
        switch (dialect, type) {
        case (.sqlite, _): return "SELECT value FROM json_each(?)"
        case (.postgresql, .integer): return "SELECT list.value::bigint AS value FROM json_array_elements_text(?::json) AS list(value)"
        case (.postgresql, .text): return "SELECT list.value AS value FROM json_array_elements_text(?::json) AS list(value)"
        }
    }
}

extension StoreDatabase {
    /// An ORDER BY term sorting the text `expression` as SQLite does, by its bytes (and with
    /// `ignoringCase`, by its bytes with ASCII letters lowercased, SQLite's NOCASE), whatever the
    /// PostgreSQL database's locale or the column's ICU collation would say: `user list` lists
    /// `ann1@`, `ann@`, `ann_b@` in that order on both backends, where ICU puts punctuation first.
    ///
    ///     let sql = "SELECT email FROM user ORDER BY \(db.textOrder("email", ignoringCase: true))"
    public func textOrder(_ expression: String, ignoringCase: Bool = false) -> String {
        switch (dialect, ignoringCase) {
        case (.sqlite, false): return expression
        case (.sqlite, true): return "\(expression) COLLATE NOCASE"
        case (.postgresql, false): return "\(expression) COLLATE \"C\""
        case (.postgresql, true):
            return "translate(\(expression), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') COLLATE \"C\""
        }
    }
}
