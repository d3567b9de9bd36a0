import Foundation

/// Rows for `COPY ... FROM STDIN (FORMAT binary)`, built column by column. The binary format
/// needs no escaping at all: every value travels as its length and its bytes (text as UTF-8,
/// `bigint` as 8 bytes big-endian, `bytea` as the bytes themselves), so a tab, a newline, a
/// backslash or a byte that is not text cannot be taken for anything else, and the server reads
/// a body without decoding hex digits. The columns added to a row must be, in order and type,
/// the ones the COPY statement names; the server checks each value's length against its type and
/// refuses text that is not UTF-8 (or holds a NUL), so a mistake is an error, never a wrong row.
///
///     var rows = PostgresCopyRows(columns: 2)
///     rows.append(text: "ann\tsmith")
///     rows.append(bigint: 7)
///     try connection.copyIn("COPY item(name, n) FROM STDIN (FORMAT binary)", data: rows.finished())
public struct PostgresCopyRows {
    /// The binary format's signature, flags (none) and header extension length (none).
    private static let header: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00] + [0, 0, 0, 0] + [0, 0, 0, 0]

    /// Values in each row: the COPY statement's columns.
    public let columns: Int
    private var data: [UInt8]
    /// Values added to the row being built.
    private var valuesInRow = 0
    /// Rows complete so far.
    public private(set) var count = 0

    public init(columns: Int, reservingBytes: Int = 0) {
        precondition(columns > 0 && columns <= Int(Int16.max), "a COPY row has 1 to 32,767 columns")
        self.columns = columns
        data = []
        data.reserveCapacity(Self.header.count + reservingBytes + 2)
        data += Self.header
    }

    /// True when no row was added.
    public var isEmpty: Bool { count == 0 && valuesInRow == 0 }

    /// Bytes of the rows so far, header included.
    public var byteCount: Int { data.count }

    public mutating func append(text: String) {
        var text = text
        text.withUTF8 { appendField($0) }
    }

    public mutating func append(bigint value: Int64) {
        startField(length: 8)
        appendBigEndian(UInt64(bitPattern: value), bytes: 8)
    }

    public mutating func append(bytea bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { appendField($0) }
    }

    /// SQL NULL in the next column.
    public mutating func appendNull() {
        startField(length: nil)
    }

    /// The data to send: the rows and the format's trailer. Every row must be complete.
    public func finished() -> [UInt8] {
        precondition(valuesInRow == 0, "a COPY row is missing \(columns - valuesInRow) of its \(columns) values")
        return data + [0xFF, 0xFF]
    }

    private mutating func appendField(_ bytes: UnsafeBufferPointer<UInt8>) {
        startField(length: bytes.count)
        data.append(contentsOf: bytes)
    }

    /// The row's value count when a row begins, then the field's length (-1: NULL).
    private mutating func startField(length: Int?) {
        if valuesInRow == 0 { appendBigEndian(UInt64(columns), bytes: 2) }
        precondition(length ?? 0 <= Int(Int32.max), "a COPY value holds at most 2 GiB")
        appendBigEndian(UInt64(bitPattern: Int64(length ?? -1)), bytes: 4)
        valuesInRow += 1
        if valuesInRow == columns {
            valuesInRow = 0
            count += 1
        }
    }

    private mutating func appendBigEndian(_ value: UInt64, bytes: Int) {
        for shift in stride(from: (bytes - 1) * 8, through: 0, by: -8) {
            data.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }
}
