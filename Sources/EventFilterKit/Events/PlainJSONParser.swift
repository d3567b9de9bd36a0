/// A parser for the plain JSON most webhook bodies are: ASCII text, strings without escapes,
/// integers of up to 15 digits, `true`, `false`, `null`, objects without repeated keys. On such
/// text it gives exactly what `JSONValue.parse` gets from Foundation's JSONSerialization,
/// without building Foundation objects and bridging them back (a third of a webhook's parsing
/// time). On anything else (an escape, a fraction or an exponent, a longer number, a byte
/// outside printable ASCII, a repeated key, a syntax error, deep nesting) it answers nil and
/// the caller asks Foundation, so every accepted or refused body stays accepted or refused alike.
///
///     PlainJSONParser.parse(Array(#"{"type":"invoice.paid","n":3}"#.utf8))
///     // .object(["type": .string("invoice.paid"), "n": .number(3)])
///     PlainJSONParser.parse(Array(#"{"name":"caf\u00e9"}"#.utf8))   // nil: Foundation decides
final class PlainJSONParser {
    private let bytes: [UInt8]
    private var index = 0
    private var depth = 0
    /// Nesting deeper than this is left to Foundation, which has its own limit.
    private static let maximumDepth = 64

    private init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The value, or nil when the text is outside the plain subset (or not JSON at all).
    static func parse(_ bytes: [UInt8]) -> JSONValue? {
        let parser = PlainJSONParser(bytes)
        parser.skipSpace()
        guard let value = parser.value() else { return nil }
        parser.skipSpace()
        return parser.index == bytes.count ? value : nil
    }

    private func skipSpace() {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 {
            index += 1
        }
    }

    private func value() -> JSONValue? {
        guard index < bytes.count else { return nil }
        switch bytes[index] {
        case UInt8(ascii: "{"): return object()
        case UInt8(ascii: "["): return array()
        case UInt8(ascii: "\""): return string().map(JSONValue.string)
        case UInt8(ascii: "t"): return literal("true", .bool(true))
        case UInt8(ascii: "f"): return literal("false", .bool(false))
        case UInt8(ascii: "n"): return literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return integer()
        default: return nil
        }
    }

    private func literal(_ word: StaticString, _ value: JSONValue) -> JSONValue? {
        let count = word.utf8CodeUnitCount
        guard bytes.count - index >= count else { return nil }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return nil }
        index += count
        return value
    }

    /// `-?(0|[1-9][0-9]{0,14})` not followed by a fraction or an exponent; "-0" is left to Foundation.
    private func integer() -> JSONValue? {
        let negative = bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        let start = index
        var magnitude: Int64 = 0
        while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
            magnitude = magnitude * 10 + Int64(bytes[index] - 48)
            index += 1
            guard index - start <= 15 else { return nil }
        }
        let digits = index - start
        guard digits > 0, !(bytes[start] == 48 && (digits > 1 || negative)) else { return nil }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") || bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            return nil
        }
        return .number(Double(negative ? -magnitude : magnitude))
    }

    /// Printable ASCII between quotes, no backslash.
    private func string() -> String? {
        index += 1   // the opening quote
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return String(decoding: bytes[start..<index - 1], as: UTF8.self)
            }
            guard byte >= 0x20, byte < 0x7F, byte != UInt8(ascii: "\\") else { return nil }
            index += 1
        }
        return nil
    }

    private func array() -> JSONValue? {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maximumDepth else { return nil }
        index += 1
        var elements: [JSONValue] = []
        skipSpace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            skipSpace()
            guard let element = value() else { return nil }
            elements.append(element)
            skipSpace()
            guard index < bytes.count else { return nil }
            if bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            guard bytes[index] == UInt8(ascii: ",") else { return nil }
            index += 1
        }
    }

    private func object() -> JSONValue? {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maximumDepth else { return nil }
        index += 1
        var members: [String: JSONValue] = [:]
        skipSpace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\""), let key = string() else { return nil }
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
            index += 1
            skipSpace()
            guard let member = value(), members.updateValue(member, forKey: key) == nil else { return nil }
            skipSpace()
            guard index < bytes.count else { return nil }
            if bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(members)
            }
            guard bytes[index] == UInt8(ascii: ",") else { return nil }
            index += 1
        }
    }
}
