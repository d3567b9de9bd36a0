import Foundation

/// A JSON value: event params, handler protocol lines, webhook bodies.
///
///     let params = try JSONValue.parse(#"{"node_id": "77", "path": "/1/2/60/77/"}"#)
///     params["path"]?.stringValue   // "/1/2/60/77/"
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    /// An integer a `Double` cannot hold exactly (beyond ±2^53, such as 9007199254740993 or
    /// 12345678901234567890), kept as its decimal digits so it leaves exactly as it came.
    case bigInteger(String)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public struct ParseError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Parses JSON text. Top-level scalars are accepted.
    public static func parse(_ text: String) throws -> JSONValue {
        try parse(Array(text.utf8))
    }

    public static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        if let value = JSONReader.read(bytes) { return value }
        return try parseWithFoundation(bytes)
    }

    /// What Foundation's JSONSerialization makes of `bytes`: the reference `JSONReader` agrees with, and the
    /// judge of whatever the reader leaves (every error message among them).
    static func parseWithFoundation(_ bytes: [UInt8]) throws -> JSONValue {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        } catch {
            // Foundation's localized description is the same stock sentence for every mistake
            // ("The operation could not be completed..."); the debug description says where.
            let detail = ((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String)?
                .replacingOccurrences(of: " in Swift", with: "")
            throw ParseError(description: "invalid JSON: " + (detail ?? "not well-formed"))
        }
        return try JSONValue(foundation: object)
    }

    init(foundation object: Any) throws {
        switch object {
        case is NSNull: self = .null
        case let number as NSNumber:
            // JSONSerialization gives booleans as NSNumber too; tell them apart by their type id.
            if String(cString: number.objCType) == "c" {
                self = .bool(number.boolValue)
            } else {
                self = JSONValue(exactly: number)
            }
        case let string as String: self = .string(string)
        case let array as [Any]: self = .array(try array.map { try JSONValue(foundation: $0) })
        case let dictionary as [String: Any]:
            self = .object(try dictionary.mapValues { try JSONValue(foundation: $0) })
        default:
            throw ParseError(description: "unsupported JSON value \(type(of: object))")
        }
    }

    /// Integers keep every digit: one a `Double` holds exactly becomes `.number`, a larger one
    /// `.bigInteger`. JSONSerialization reports 64-bit integers as `q`/`Q` and longer ones as
    /// `NSDecimalNumber`; everything else is a binary floating-point number.
    private init(exactly number: NSNumber) {
        let type = String(cString: number.objCType)
        if number is NSDecimalNumber {
            let digits = number.stringValue
            let body = digits.hasPrefix("-") ? digits.dropFirst() : Substring(digits)
            if !body.isEmpty, body.allSatisfy(\.isASCII), body.allSatisfy(\.isNumber) {
                self = .bigInteger(digits)
                return
            }
        } else if type == "Q" {
            let value = number.uint64Value
            self = UInt64(exactly: Double(value)) == value && Double(value) <= Self.largestExactInteger
                ? .number(Double(value)) : .bigInteger(String(value))
            return
        } else if ["q", "l", "i", "s"].contains(type) {
            let value = number.int64Value
            self = abs(Double(value)) <= Self.largestExactInteger && Int64(exactly: Double(value)) == value
                ? .number(Double(value)) : .bigInteger(String(value))
            return
        }
        self = .number(number.doubleValue)
    }

    /// 2^53: every integer up to this magnitude has an exact `Double`.
    static let largestExactInteger: Double = 9_007_199_254_740_992

    public subscript(key: String) -> JSONValue? {
        if case .object(let dictionary) = self { return dictionary[key] }
        return nil
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let dictionary) = self { return dictionary }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let array) = self { return array }
        return nil
    }

    /// The value as text: strings as they are, numbers without a needless ".0", booleans as
    /// true/false. Nil for null, arrays and objects.
    public var stringValue: String? {
        switch self {
        case .string(let string): return string
        case .number(let number):
            if number.rounded() == number, abs(number) <= Self.largestExactInteger { return String(Int64(number)) }
            return String(number)
        case .bigInteger(let digits): return digits
        case .bool(let bool): return bool ? "true" : "false"
        default: return nil
        }
    }

    public var boolValue: Bool? {
        switch self {
        case .bool(let bool): return bool
        case .string(let string): return ["true", "1", "yes"].contains(string.lowercased())
        case .number(let number): return number != 0
        case .bigInteger: return true  // never zero: zero fits in a Double
        default: return nil
        }
    }

    /// Compact JSON text with sorted keys, so equal values serialize equally.
    public var serialized: String {
        var out: [UInt8] = []
        out.reserveCapacity(128)
        write(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the compact JSON text to UTF-8 bytes.
    func write(to out: inout [UInt8]) {
        switch self {
        case .null: Self.append("null", to: &out)
        case .bool(let bool): Self.append(bool ? "true" : "false", to: &out)
        case .number(let number):
            if number.rounded() == number, abs(number) <= Self.largestExactInteger {
                out.append(contentsOf: String(Int64(number)).utf8)
            } else {
                out.append(contentsOf: String(number).utf8)
            }
        case .bigInteger(let digits): out.append(contentsOf: digits.utf8)
        case .string(let string): JSONValue.writeString(string, to: &out)
        case .array(let array):
            out.append(UInt8(ascii: "["))
            for (index, element) in array.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                element.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let dictionary):
            out.append(UInt8(ascii: "{"))
            for (index, key) in dictionary.keys.sorted().enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONValue.writeString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                dictionary[key]!.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func append(_ word: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount))
    }

    /// A string between quotes: `"` and `\` escaped, LF, CR and tab by name, other control
    /// characters as `\u00XX`; everything else (including all of non-ASCII text) copied in runs.
    private static func writeString(_ string: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { bytes in
            var runStart = 0
            for (index, byte) in bytes.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
                runStart = index + 1
                switch byte {
                case UInt8(ascii: "\""): append("\\\"", to: &out)
                case UInt8(ascii: "\\"): append("\\\\", to: &out)
                case 0x0A: append("\\n", to: &out)
                case 0x0D: append("\\r", to: &out)
                case 0x09: append("\\t", to: &out)
                default:
                    let hex: StaticString = "0123456789abcdef"
                    append("\\u00", to: &out)
                    out.append(hex.utf8Start[Int(byte >> 4)])
                    out.append(hex.utf8Start[Int(byte & 0xF)])
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart...]))
        }
        out.append(UInt8(ascii: "\""))
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByDictionaryLiteral, ExpressibleByArrayLiteral,
    ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}
