/// Reads JSON text (RFC 8259) from UTF-8 bytes straight into a `JSONValue`: objects, arrays,
/// strings with every escape (`\"` `\\` `\/` `\b` `\f` `\n` `\r` `\t` and `\uXXXX`, surrogate pairs
/// joined), numbers, `true`, `false`, `null`, at any depth up to `maximumDepth`.
///
/// It gives exactly what Foundation's JSONSerialization gives, without building Foundation objects
/// and bridging them back (on Linux, testing a value read by JSONSerialization bridges every
/// dictionary to an NSDictionary, recursively). Where the two could part, the reader answers nil
/// and the caller asks Foundation, so every text is accepted or refused as before, with the same
/// message:
/// - anything that is not JSON: Foundation words the error (and takes a few things RFC 8259 does
///   not, such as a trailing comma or a byte order mark, which stay Foundation's to read);
/// - a number with more than 15 digits before its exponent, or more than 18 digits for an integer
///   (Foundation reads those as a decimal number, with its own rounding), one with a capital `E`
///   (the same), or one out of a `Double`'s range (Foundation refuses it);
/// - a lone surrogate escape, or a string that is not valid UTF-8;
/// - nesting deeper than `maximumDepth`.
///
///     JSONReader.read(Array(#"{"name":"caf\u00e9","n":3}"#.utf8))
///     // .object(["name": .string("café"), "n": .number(3)])
///     JSONReader.read(Array(#"[1,]"#.utf8))   // nil: Foundation decides
///
/// A value type on purpose: its cursor stays in a register, where a class's stored property would
/// pay an exclusivity check on every byte.
struct JSONReader {
    /// Deeper nesting is Foundation's to judge (it refuses beyond its own limit).
    static let maximumDepth = 512

    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0
    private var depth = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// The value, or nil when Foundation must decide (see the type's description).
    static func read(_ bytes: [UInt8]) -> JSONValue? {
        bytes.withUnsafeBufferPointer { read($0) }
    }

    static func read(_ bytes: UnsafeBufferPointer<UInt8>) -> JSONValue? {
        var reader = JSONReader(bytes)
        reader.skipSpace()
        guard let value = reader.value() else { return nil }
        reader.skipSpace()
        return reader.index == bytes.count ? value : nil
    }

    private mutating func skipSpace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    private mutating func value() -> JSONValue? {
        guard index < bytes.count else { return nil }
        switch bytes[index] {
        case UInt8(ascii: "{"): return object()
        case UInt8(ascii: "["): return array()
        case UInt8(ascii: "\""): return string().map(JSONValue.string)
        case UInt8(ascii: "t"): return literal("true", .bool(true))
        case UInt8(ascii: "f"): return literal("false", .bool(false))
        case UInt8(ascii: "n"): return literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return number()
        default: return nil
        }
    }

    private mutating func literal(_ word: StaticString, _ value: JSONValue) -> JSONValue? {
        let count = word.utf8CodeUnitCount
        guard bytes.count - index >= count else { return nil }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return nil }
        index += count
        return value
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte &- 48 < 10 }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`. Integers become `.number` when a `Double`
    /// holds them exactly and `.bigInteger` otherwise, as `JSONValue` makes of Foundation's answer.
    private mutating func number() -> JSONValue? {
        let start = index
        let negative = bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        let digitsStart = index
        var magnitude: Int64 = 0
        while index < bytes.count, Self.isDigit(bytes[index]) {
            if index - digitsStart < 18 { magnitude = magnitude * 10 + Int64(bytes[index] - 48) }
            index += 1
        }
        let integerDigits = index - digitsStart
        guard integerDigits > 0, !(bytes[digitsStart] == 48 && integerDigits > 1) else { return nil }
        var fractionDigits = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            while index < bytes.count, Self.isDigit(bytes[index]) { index += 1; fractionDigits += 1 }
            guard fractionDigits > 0 else { return nil }
        }
        var exponentDigits = -1
        // Foundation reads a capital E through its decimal numbers, with their own rounding.
        if index < bytes.count, bytes[index] == UInt8(ascii: "E") { return nil }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            exponentDigits = 0
            while index < bytes.count, Self.isDigit(bytes[index]) { index += 1; exponentDigits += 1 }
            guard exponentDigits > 0 else { return nil }
        }
        if fractionDigits == 0, exponentDigits < 0 {
            guard integerDigits <= 18 else { return nil }
            let value = negative ? -magnitude : magnitude
            let double = Double(value)
            return abs(double) <= JSONValue.largestExactInteger && Int64(exactly: double) == value
                ? .number(double) : .bigInteger(String(value))
        }
        guard integerDigits + fractionDigits <= 15, exponentDigits <= 4 else { return nil }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        guard let double = Double(text), double.isFinite else { return nil }
        return .number(double)
    }

    /// The string whose opening quote is at `index`. Runs without escapes are copied whole.
    private mutating func string() -> String? {
        index += 1   // the opening quote
        var start = index
        var ascii = true
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let run = UnsafeBufferPointer(rebasing: bytes[start..<index])
                index += 1
                return ascii ? String(decoding: run, as: UTF8.self) : String(validating: run, as: UTF8.self)
            }
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { return nil }
            if byte >= 0x80 { ascii = false }
            index += 1
        }
        guard index < bytes.count else { return nil }
        // An escape: gather the string's UTF-8 in a buffer.
        var text: [UInt8] = []
        text.reserveCapacity(index - start + 16)
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                text.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
                index += 1
                return ascii ? String(decoding: text, as: UTF8.self) : String(validating: text, as: UTF8.self)
            case UInt8(ascii: "\\"):
                text.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
                index += 1
                guard index < bytes.count else { return nil }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): text.append(escape)
                case UInt8(ascii: "b"): text.append(0x08)
                case UInt8(ascii: "f"): text.append(0x0C)
                case UInt8(ascii: "n"): text.append(0x0A)
                case UInt8(ascii: "r"): text.append(0x0D)
                case UInt8(ascii: "t"): text.append(0x09)
                case UInt8(ascii: "u"):
                    guard let scalar = unicodeEscape() else { return nil }
                    if scalar < 0x80 {
                        text.append(UInt8(scalar))
                    } else {
                        ascii = false
                        text.append(contentsOf: UTF8.encode(Unicode.Scalar(scalar)!)!)
                    }
                default: return nil
                }
                start = index
            default:
                guard byte >= 0x20 else { return nil }
                if byte >= 0x80 { ascii = false }
                index += 1
            }
        }
        return nil
    }

    /// The code point of `XXXX` after `\u` (index just past the `u`), joining a surrogate pair;
    /// nil for a lone surrogate or a bad hex digit.
    private mutating func unicodeEscape() -> UInt32? {
        guard let first = hex4() else { return nil }
        switch first {
        case 0xD800...0xDBFF:
            guard bytes.count - index >= 2, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else { return nil }
            index += 2
            guard let second = hex4(), (0xDC00...0xDFFF).contains(second) else { return nil }
            return 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
        case 0xDC00...0xDFFF:
            return nil
        default:
            return first
        }
    }

    private mutating func hex4() -> UInt32? {
        guard bytes.count - index >= 4 else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - 48
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - 87
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - 55
            default: return nil
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    private mutating func array() -> JSONValue? {
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

    /// A repeated name keeps its last value, as Foundation does.
    private mutating func object() -> JSONValue? {
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
            guard let member = value() else { return nil }
            members[key] = member
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
