#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The CGI variables (RFC 3875 §4.1) a request is built from, and no others: the method, the
/// path, the query, the body's type and length, and the `HTTP_*` variables that carry the headers.
///
///     let variables = CGIVariables(environment: ["REQUEST_METHOD": "POST", "PATH_INFO": "/panda"])
///     variables.method   // "POST"
///     let fromFastCGI = CGIVariables(fastCGIParams: paramsBytes)   // the same, read from FCGI_PARAMS
///
/// A web server passes twenty or more variables per request (SERVER_SOFTWARE, REMOTE_ADDR,
/// DOCUMENT_ROOT, ...); read from FastCGI's encoding, the ones no answer depends on are skipped
/// without being made into text. Text is what `String(decoding:as:)` makes of the bytes (bytes
/// that are not UTF-8 become U+FFFD), and a repeated name keeps its last value, as in an
/// environment.
public struct CGIVariables: Sendable {
    /// REQUEST_METHOD.
    public var method: String?
    /// CONTENT_LENGTH, as sent.
    public var contentLength: String?
    /// CONTENT_TYPE.
    public var contentType: String?
    /// PATH_INFO.
    public var pathInfo: String?
    /// QUERY_STRING.
    public var queryString: String?
    /// REDIRECT_HTTP_AUTHORIZATION: Apache's rewrite of the Authorization header.
    public var redirectAuthorization: String?
    /// The `HTTP_*` variables: the name after `HTTP_` (`WEBHOOK_ID`) and the value, in the order
    /// first seen.
    public var http: [(name: String, value: String)] = []

    public init() {}

    /// The variables of a process environment (or any name-value table).
    public init(environment: [String: String]) {
        method = environment["REQUEST_METHOD"]
        contentLength = environment["CONTENT_LENGTH"]
        contentType = environment["CONTENT_TYPE"]
        pathInfo = environment["PATH_INFO"]
        queryString = environment["QUERY_STRING"]
        redirectAuthorization = environment["REDIRECT_HTTP_AUTHORIZATION"]
        for (variable, value) in environment where variable.hasPrefix(Self.httpPrefix) {
            http.append((String(variable.dropFirst(Self.httpPrefix.count)), value))
        }
    }

    /// The variables of FastCGI's name-value pair encoding (FCGI_PARAMS); nil when it is
    /// malformed (a length runs past the end).
    public init?(fastCGIParams bytes: [UInt8]) {
        let complete = bytes.withUnsafeBufferPointer { buffer in
            FastCGIRecord.walkPairs(buffer) { name, value in
                self.take(name: UnsafeBufferPointer(rebasing: buffer[name]), value: UnsafeBufferPointer(rebasing: buffer[value]))
            }
        }
        guard complete else { return nil }
    }

    /// Keeps one variable when a request depends on it.
    private mutating func take(name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) {
        func text() -> String { String(decoding: value, as: UTF8.self) }
        func named(_ wanted: StaticString) -> Bool {
            wanted.utf8CodeUnitCount == name.count && memcmp(wanted.utf8Start, name.baseAddress!, name.count) == 0
        }
        guard let first = name.first else { return }
        switch first {
        case UInt8(ascii: "H"):
            let prefix: StaticString = "HTTP_"
            guard name.count >= prefix.utf8CodeUnitCount, memcmp(prefix.utf8Start, name.baseAddress!, prefix.utf8CodeUnitCount) == 0 else { return }
            let suffix = String(decoding: UnsafeBufferPointer(rebasing: name[prefix.utf8CodeUnitCount...]), as: UTF8.self)
            if let index = http.firstIndex(where: { $0.name == suffix }) {
                http[index].value = text()
            } else {
                http.append((suffix, text()))
            }
        case UInt8(ascii: "R"):
            if named("REQUEST_METHOD") { method = text() } else if named("REDIRECT_HTTP_AUTHORIZATION") { redirectAuthorization = text() }
        case UInt8(ascii: "C"):
            if named("CONTENT_LENGTH") { contentLength = text() } else if named("CONTENT_TYPE") { contentType = text() }
        case UInt8(ascii: "P"):
            if named("PATH_INFO") { pathInfo = text() }
        case UInt8(ascii: "Q"):
            if named("QUERY_STRING") { queryString = text() }
        default:
            return
        }
    }

    /// The value of `HTTP_<name>`.
    public func http(_ name: String) -> String? {
        http.last { $0.name == name }?.value
    }

    static let httpPrefix = "HTTP_"
}
