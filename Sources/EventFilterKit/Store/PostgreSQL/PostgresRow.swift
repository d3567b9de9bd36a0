import CPostgreSQL

/// One row of a `PostgresResult`, its columns read by name. A missing column, a NULL where a
/// value is required, or text that is not of the asked type throws a `PostgresError` naming the column.
///
///     let row = try db.first("SELECT id, email, active, avatar FROM account WHERE id = $1", [7])!
///     let id: Int64 = try row.int64("id")
///     let email: String = try row.string("email")
///     let active: Bool = try row.bool("active")
///     let avatar: [UInt8]? = try row.optionalBytes("avatar")
public struct PostgresRow {
    let result: PostgresResult
    let index: Int32

    /// PostgreSQL's type OIDs (`pg_type.oid`) of the columns `value(_:)` decodes by type.
    private enum TypeOID {
        static let bool: UInt32 = 16, bytea: UInt32 = 17, int8: UInt32 = 20, int2: UInt32 = 21, int4: UInt32 = 23
        static let float4: UInt32 = 700, float8: UInt32 = 701
    }

    public var columnNames: [String] { result.columnNames }

    public func isNull(_ column: String) throws -> Bool {
        PQgetisnull(result.handle, index, try position(of: column)) == 1
    }

    /// The column's text, or nil when it is NULL.
    public func optionalString(_ column: String) throws -> String? {
        let field = try position(of: column)
        guard PQgetisnull(result.handle, index, field) == 0 else { return nil }
        return try text(of: field, column: column)
    }

    /// The text of a non-NULL field. A binary result (`PostgresConnection.execute(_:_:binaryResults:)`)
    /// holds a text column's bytes as they are and an integer in network byte order: the
    /// integer is spelled in decimal, as the text format does.
    private func text(of field: Int32, column: String) throws -> String {
        guard isBinary(field) else { return String(cString: PQgetvalue(result.handle, index, field)) }
        if let integer = try binaryInteger(field, column: column) { return String(integer) }
        let bytes = binaryBytes(field)
        switch PQftype(result.handle, field) {
        case TypeOID.bool:
            return bytes.first == 1 ? "t" : "f"
        case TypeOID.float4 where bytes.count == 4:
            return String(Float(bitPattern: bytes.reduce(0) { $0 << 8 | UInt32($1) }))
        case TypeOID.float8 where bytes.count == 8:
            return String(Double(bitPattern: bytes.reduce(0) { $0 << 8 | UInt64($1) }))
        default:
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    private func isBinary(_ field: Int32) -> Bool { PQfformat(result.handle, field) == 1 }

    /// The field's bytes as the binary format sends them.
    private func binaryBytes(_ field: Int32) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: PQgetvalue(result.handle, index, field), count: Int(PQgetlength(result.handle, index, field)))
    }

    /// An integer column of a binary result (big-endian, of its type's width); nil for other types.
    private func binaryInteger(_ field: Int32, column: String) throws -> Int64? {
        let width: Int
        switch PQftype(result.handle, field) {
        case TypeOID.int2: width = 2
        case TypeOID.int4: width = 4
        case TypeOID.int8: width = 8
        default: return nil
        }
        let bytes = binaryBytes(field)
        guard bytes.count == width else { throw PostgresError(message: "column \"\(column)\" holds \(bytes.count) bytes, not a \(width)-byte integer") }
        var value: Int64 = bytes[0] >= 0x80 ? -1 : 0  // sign-extended
        for byte in bytes { value = value << 8 | Int64(byte) }
        return value
    }

    public func string(_ column: String) throws -> String {
        guard let text = try optionalString(column) else { throw nullError(column) }
        return text
    }

    public func optionalInt64(_ column: String) throws -> Int64? {
        let field = try position(of: column)
        guard PQgetisnull(result.handle, index, field) == 0 else { return nil }
        if isBinary(field), let integer = try binaryInteger(field, column: column) { return integer }
        let text = try text(of: field, column: column)
        guard let value = Int64(text) else { throw typeError(column, text, "an integer") }
        return value
    }

    public func int64(_ column: String) throws -> Int64 {
        guard let value = try optionalInt64(column) else { throw nullError(column) }
        return value
    }

    public func int(_ column: String) throws -> Int { Int(try int64(column)) }

    public func optionalInt(_ column: String) throws -> Int? { try optionalInt64(column).map { Int($0) } }

    public func double(_ column: String) throws -> Double {
        let text = try string(column)
        guard let value = Self.double(text) else { throw typeError(column, text, "a number") }
        return value
    }

    /// A `boolean` column, which the text format spells `t` and `f`.
    public func bool(_ column: String) throws -> Bool {
        switch try string(column) {
        case "t": return true
        case "f": return false
        case let text: throw typeError(column, text, "a boolean")
        }
    }

    /// A `bytea` column's bytes, or nil when it is NULL.
    public func optionalBytes(_ column: String) throws -> [UInt8]? {
        let field = try position(of: column)
        guard PQgetisnull(result.handle, index, field) == 0 else { return nil }
        if isBinary(field) { return Array(binaryBytes(field)) }
        // The text format spells bytea as "\x" and hex digits (or, with bytea_output=escape,
        // backslash escapes); libpq's unescaping reads both.
        var count = 0
        guard let bytes = PQunescapeBytea(PQgetvalue(result.handle, index, field), &count) else {
            throw PostgresError(message: "column \"\(column)\" is not a bytea value")
        }
        defer { PQfreemem(bytes) }
        return Array(UnsafeBufferPointer(start: bytes, count: count))
    }

    public func bytes(_ column: String) throws -> [UInt8] {
        guard let bytes = try optionalBytes(column) else { throw nullError(column) }
        return bytes
    }

    /// The column as a backend-neutral value, decoded by the column's type: integers, floating
    /// point, booleans (as 1 and 0, the way SQLite stores them), bytea as bytes, the rest as text.
    public func value(_ column: String) throws -> DatabaseValue {
        let field = try position(of: column)
        guard PQgetisnull(result.handle, index, field) == 0 else { return .null }
        switch PQftype(result.handle, field) {
        case TypeOID.int2, TypeOID.int4, TypeOID.int8: return .integer(try int64(column))
        case TypeOID.float4, TypeOID.float8: return .real(try double(column))
        case TypeOID.bool: return .integer(try bool(column) ? 1 : 0)
        case TypeOID.bytea: return .blob(try bytes(column))
        default: return .text(try string(column))
        }
    }

    // MARK: By position (0-based), for the store's `Row`

    /// The text of the column at `field`, nil when NULL or past the last column.
    func text(at field: Int32) -> String? {
        guard field >= 0, field < PQnfields(result.handle), PQgetisnull(result.handle, index, field) == 0 else { return nil }
        return try? text(of: field, column: columnNames[Int(field)])
    }

    /// The bytes of the `bytea` column at `field`; empty when NULL.
    func bytes(at field: Int32) -> [UInt8] {
        guard let name = columnNames.indices.contains(Int(field)) ? columnNames[Int(field)] : nil else { return [] }
        return ((try? optionalBytes(name)) ?? nil) ?? []
    }

    /// The column at `field` as a backend-neutral value, decoded by its type (see `value(_:)`).
    func value(at field: Int32) -> DatabaseValue {
        guard columnNames.indices.contains(Int(field)) else { return .null }
        return (try? value(columnNames[Int(field)])) ?? .null
    }

    private func position(of column: String) throws -> Int32 {
        guard let field = result.columnIndex[column] else {
            throw PostgresError(message: "no column \"\(column)\" in the result (columns: \(result.columnNames.joined(separator: ", ")))")
        }
        return field
    }

    private func nullError(_ column: String) -> PostgresError {
        PostgresError(message: "column \"\(column)\" is NULL")
    }

    private func typeError(_ column: String, _ text: String, _ expected: String) -> PostgresError {
        PostgresError(message: "column \"\(column)\" holds \"\(text.prefix(40))\", not \(expected)")
    }

    /// float8's text output, including its special values.
    private static func double(_ text: String) -> Double? {
        switch text {
        case "NaN": return .nan
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        default: return Double(text)
        }
    }
}
