import CPostgreSQL

/// The outcome of one statement: its rows (read by column name) or the number of rows it changed.
///
///     let result = try db.execute("UPDATE account SET name = $1 WHERE id = $2", ["Ann", 7])
///     result.changedRowCount    // 1
///     let rows = try db.execute("SELECT id, name FROM account").rows
///     try rows[0].string("name")
public final class PostgresResult {
    let handle: OpaquePointer
    /// Column positions by name, as the statement named them (`AS alias` included).
    let columnIndex: [String: Int32]
    /// The columns' names, in order.
    public let columnNames: [String]

    init(_ handle: OpaquePointer) {
        self.handle = handle
        let names = (0..<PQnfields(handle)).map { String(cString: PQfname(handle, $0)) }
        columnNames = names
        // With two columns of one name (a join), the first one wins, as `SELECT *` users expect.
        columnIndex = Dictionary(names.enumerated().map { ($1, Int32($0)) }, uniquingKeysWith: { first, _ in first })
    }

    deinit { PQclear(handle) }

    public var rowCount: Int { Int(PQntuples(handle)) }

    /// The rows, each valid as long as it is kept (a row keeps its result alive).
    public var rows: [PostgresRow] { (0..<PQntuples(handle)).map { PostgresRow(result: self, index: $0) } }

    /// How many rows an INSERT, UPDATE or DELETE changed (0 for other statements).
    public var changedRowCount: Int { Int(String(cString: PQcmdTuples(handle))) ?? 0 }

    /// The command tag the server answered with ("INSERT 0 1", "COMMIT", "ROLLBACK").
    public var commandTag: String { String(cString: PQcmdStatus(handle)) }

    /// The number of parameters of a described prepared statement.
    var parameterCount: Int32 { PQnparams(handle) }
}
