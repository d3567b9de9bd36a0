import CPostgreSQL

/// Statement parameters as libpq takes them: one C buffer per value, its length and its format.
///
/// Text format for every value but byte arrays, which go in binary format (the bytes
/// themselves), so a `bytea` needs no escaping. The server infers each parameter's type from the
/// statement; where it cannot (`SELECT $1`), the value is text, and the SQL casts it (`$1::bigint`).
///
///     let values = try PostgresParameters(["ann@example.com", 7, [0x00, 0xff] as [UInt8]], sql: sql)
///     values.withUnsafeArguments { values, lengths, formats in PQexecPrepared(...) }
final class PostgresParameters {
    private var buffers: [UnsafeMutablePointer<CChar>?] = []
    private var lengths: [Int32] = []
    private var formats: [Int32] = []

    init(_ parameters: [DatabaseValueConvertible], sql: String) throws {
        for (index, parameter) in parameters.enumerated() {
            switch parameter.databaseValue {
            case .null:
                append(nil, format: 0)
            case .integer(let value):
                append(Array(String(value).utf8), format: 0)
            case .real(let value):
                append(Array(Self.text(of: value).utf8), format: 0)
            case .text(let value):
                // libpq reads text up to its first NUL; PostgreSQL's text type cannot hold one.
                guard !value.utf8.contains(0) else {
                    throw PostgresError(message: "parameter $\(index + 1) contains a NUL character, which PostgreSQL text cannot store", sql: sql)
                }
                append(Array(value.utf8), format: 0)
            case .blob(let bytes):
                append(bytes, format: 1)
            }
        }
    }

    deinit { buffers.forEach { $0?.deallocate() } }

    private func append(_ bytes: [UInt8]?, format: Int32) {
        guard let bytes else {
            buffers.append(nil)
            lengths.append(0)
            formats.append(format)
            return
        }
        // A terminating NUL for text values, which libpq reads as C strings.
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
        bytes.withUnsafeBytes { raw in
            UnsafeMutableRawPointer(buffer).copyMemory(from: raw.baseAddress ?? UnsafeRawPointer(buffer), byteCount: bytes.count)
        }
        buffer[bytes.count] = 0
        buffers.append(buffer)
        lengths.append(Int32(bytes.count))
        formats.append(format)
    }

    /// PostgreSQL's spelling of a double: Swift's shortest round-tripping form, and the special
    /// values as float8 input accepts them.
    private static func text(of value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
        return String(value)
    }

    /// Calls `body` with the arrays `PQexecParams` and `PQexecPrepared` take.
    func withUnsafeArguments<R>(_ body: (UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?) -> R) -> R {
        let values = buffers.map { $0.map { UnsafePointer($0) } }
        return values.withUnsafeBufferPointer { values in
            lengths.withUnsafeBufferPointer { lengths in
                formats.withUnsafeBufferPointer { formats in
                    body(values.baseAddress, lengths.baseAddress, formats.baseAddress)
                }
            }
        }
    }
}
