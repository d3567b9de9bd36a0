/// One FastCGI record (FastCGI 1.0 specification §3.3): an 8-byte header (version 1, type,
/// request id, content length, padding length, a reserved byte), the content and the padding.
///
///     let bytes = FastCGIRecord(type: .stdout, requestID: 1, content: Array("Status: 200 OK\r\n\r\n".utf8)).bytes
///     // [1, 6, 0, 1, 0, 18, 6, 0, ...content, 0, 0, 0, 0, 0, 0]   (padded to a multiple of 8)
public struct FastCGIRecord: Sendable, Equatable {
    /// The record types of the specification (§8). Types 1–11 are known; others are kept raw.
    public struct Kind: RawRepresentable, Sendable, Equatable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        public static let beginRequest = Kind(rawValue: 1)
        public static let abortRequest = Kind(rawValue: 2)
        public static let endRequest = Kind(rawValue: 3)
        public static let params = Kind(rawValue: 4)
        public static let stdin = Kind(rawValue: 5)
        public static let stdout = Kind(rawValue: 6)
        public static let stderr = Kind(rawValue: 7)
        public static let data = Kind(rawValue: 8)
        public static let getValues = Kind(rawValue: 9)
        public static let getValuesResult = Kind(rawValue: 10)
        public static let unknownType = Kind(rawValue: 11)
    }

    /// The `protocolStatus` of FCGI_END_REQUEST.
    public enum ProtocolStatus: UInt8, Sendable {
        case requestComplete = 0
        case cantMultiplexConnection = 1
        case overloaded = 2
        case unknownRole = 3
    }

    public static let version: UInt8 = 1
    public static let headerLength = 8
    /// The content length is a 16-bit field.
    public static let maximumContentLength = 65535
    /// FCGI_RESPONDER, the only role served here.
    public static let responderRole: UInt16 = 1
    /// FCGI_KEEP_CONN: the web server keeps the connection open after the request.
    public static let keepConnectionFlag: UInt8 = 1

    public var type: Kind
    public var requestID: UInt16
    public var content: [UInt8]

    public init(type: Kind, requestID: UInt16, content: [UInt8] = []) {
        precondition(content.count <= Self.maximumContentLength, "a record holds at most 65535 bytes")
        self.type = type
        self.requestID = requestID
        self.content = content
    }

    /// The record on the wire, padded to a multiple of 8 bytes as the specification recommends.
    public var bytes: [UInt8] {
        let padding = (8 - content.count % 8) % 8
        var out: [UInt8] = [
            Self.version, type.rawValue, UInt8(requestID >> 8), UInt8(requestID & 0xFF),
            UInt8(content.count >> 8), UInt8(content.count & 0xFF), UInt8(padding), 0,
        ]
        out.reserveCapacity(out.count + content.count + padding)
        out += content
        out += [UInt8](repeating: 0, count: padding)
        return out
    }

    /// A stream (FCGI_STDOUT, FCGI_STDERR) as records of at most 65535 bytes each, followed by the
    /// empty record that ends the stream.
    public static func stream(_ type: Kind, requestID: UInt16, _ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var start = 0
        while start < bytes.count {
            let end = min(start + maximumContentLength, bytes.count)
            out += FastCGIRecord(type: type, requestID: requestID, content: Array(bytes[start..<end])).bytes
            start = end
        }
        out += FastCGIRecord(type: type, requestID: requestID).bytes
        return out
    }

    /// FCGI_END_REQUEST: the application's exit status and the protocol status.
    public static func endRequest(requestID: UInt16, appStatus: UInt32 = 0, _ status: ProtocolStatus) -> [UInt8] {
        let content: [UInt8] = [
            UInt8(appStatus >> 24), UInt8((appStatus >> 16) & 0xFF), UInt8((appStatus >> 8) & 0xFF), UInt8(appStatus & 0xFF),
            status.rawValue, 0, 0, 0,
        ]
        return FastCGIRecord(type: .endRequest, requestID: requestID, content: content).bytes
    }

    // MARK: Name-value pairs (§3.4)

    /// Encodes name-value pairs: each length in 1 byte when under 128, else in 4 bytes with the
    /// top bit set.
    public static func encodePairs(_ pairs: [(name: [UInt8], value: [UInt8])]) -> [UInt8] {
        var out: [UInt8] = []
        func length(_ count: Int) {
            if count < 128 {
                out.append(UInt8(count))
            } else {
                out += [UInt8((count >> 24) & 0x7F) | 0x80, UInt8((count >> 16) & 0xFF), UInt8((count >> 8) & 0xFF), UInt8(count & 0xFF)]
            }
        }
        for pair in pairs {
            length(pair.name.count)
            length(pair.value.count)
            out += pair.name
            out += pair.value
        }
        return out
    }

    /// Decodes name-value pairs as text (bytes that are not UTF-8 become U+FFFD), a repeated name
    /// keeping its last value; nil when a length runs past the end of `bytes`. The same reading
    /// as `decodePairs`, without a copy of each name and value on the way.
    public static func decodeParams(_ bytes: [UInt8]) -> [String: String]? {
        var params: [String: String] = [:]
        let complete = bytes.withUnsafeBufferPointer { buffer in
            walkPairs(buffer) { name, value in
                params[String(decoding: buffer[name], as: UTF8.self)] = String(decoding: buffer[value], as: UTF8.self)
            }
        }
        return complete ? params : nil
    }

    /// Decodes name-value pairs; nil when a length runs past the end of `bytes`.
    public static func decodePairs(_ bytes: [UInt8]) -> [(name: [UInt8], value: [UInt8])]? {
        var pairs: [(name: [UInt8], value: [UInt8])] = []
        let complete = bytes.withUnsafeBufferPointer { buffer in
            walkPairs(buffer) { name, value in pairs.append((Array(buffer[name]), Array(buffer[value]))) }
        }
        return complete ? pairs : nil
    }

    /// True when `bytes` is a well-formed list of name-value pairs (no length runs past the end).
    public static func pairsAreWellFormed(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { walkPairs($0) { _, _ in } }
    }

    /// Walks the name-value pairs of FastCGI's encoding (each length one byte below 0x80, else four
    /// bytes with the top bit set), handing `body` the byte ranges of each name and value; false
    /// when a length runs past the end of `bytes`.
    static func walkPairs(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>, Range<Int>) -> Void) -> Bool {
        var index = 0
        func length() -> Int? {
            guard index < bytes.count else { return nil }
            if bytes[index] < 0x80 {
                index += 1
                return Int(bytes[index - 1])
            }
            guard index + 4 <= bytes.count else { return nil }
            let value = Int(bytes[index] & 0x7F) << 24 | Int(bytes[index + 1]) << 16 | Int(bytes[index + 2]) << 8 | Int(bytes[index + 3])
            index += 4
            return value
        }
        while index < bytes.count {
            guard let nameLength = length(), let valueLength = length(),
                  nameLength <= bytes.count - index, valueLength <= bytes.count - index - nameLength else { return false }
            let name = index..<index + nameLength
            let value = name.upperBound..<name.upperBound + valueLength
            body(name, value)
            index = value.upperBound
        }
        return true
    }
}
