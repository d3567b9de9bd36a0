#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The Common Gateway Interface (RFC 3875): how `eventfilter cgi` learns the request a web server
/// (lighttpd, Apache, nginx + fcgiwrap) received.
///
///     let request = CGI.request(environment: ProcessInfo.processInfo.environment,
///                               body: CGI.readStandardInput, bodyLimit: 1 << 20)
///
/// Headers come from `HTTP_*` variables (`HTTP_X_KALTURA_SIGNATURE` → `X-Kaltura-Signature`),
/// plus `CONTENT_TYPE` and `CONTENT_LENGTH`. Apache passes `Authorization` only with
/// `CGIPassAuth On`; a rewrite to `REDIRECT_HTTP_AUTHORIZATION` is accepted too.
public enum CGI {
    /// Builds the request. Reads exactly `CONTENT_LENGTH` bytes through `body` (RFC 3875 §4.2:
    /// the server need not close the input at the end of the body), and refuses a body over
    /// `bodyLimit` with 413 before reading any of it.
    public static func request(
        environment: [String: String], body: (Int) throws -> [UInt8], bodyLimit: Int
    ) -> Result<HTTPRequest, HTTPResponseError> {
        request(variables: CGIVariables(environment: environment), body: body, bodyLimit: bodyLimit)
    }

    /// `request(environment:body:bodyLimit:)` from the variables it reads (for a FastCGI
    /// request, read straight from its FCGI_PARAMS).
    public static func request(
        variables: CGIVariables, body: (Int) throws -> [UInt8], bodyLimit: Int
    ) -> Result<HTTPRequest, HTTPResponseError> {
        guard let method = variables.method, !method.isEmpty else {
            return .failure(HTTPResponseError(status: 500, reason: "REQUEST_METHOD is not set: run this from a web server as CGI"))
        }
        let length: Int
        switch variables.contentLength.map(IngestText.trim) {
        case nil, "":
            length = 0
        case let text?:
            guard text.utf8.count <= 18, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let value = Int(text) else {
                return .failure(HTTPResponseError(status: 400, reason: "CONTENT_LENGTH \(IngestText.quoted(text)) is not a byte count"))
            }
            length = value
        }
        guard length <= bodyLimit else {
            return .failure(HTTPResponseError(
                status: 413, reason: "body of \(length) bytes exceeds the limit of \(bodyLimit) bytes"))
        }

        let bytes: [UInt8]
        do {
            bytes = length == 0 ? [] : try body(length)
        } catch {
            // The sender may well succeed on its retry: ask for one.
            return .failure(HTTPResponseError(status: 500, reason: "could not read the request body"))
        }
        guard bytes.count == length else {
            return .failure(HTTPResponseError(
                status: 400, reason: "body ended after \(min(bytes.count, length)) of \(length) bytes"))
        }

        var path = variables.pathInfo ?? ""
        if path.isEmpty { path = "/" }
        return .success(HTTPRequest(
            method: method, path: path, query: variables.queryString ?? "",
            headers: headers(variables), body: bytes))
    }

    /// The request headers the environment carries, sorted by name so the order is stable.
    static func headers(_ environment: [String: String]) -> [(name: String, value: String)] {
        headers(CGIVariables(environment: environment))
    }

    /// The request headers the variables carry, sorted by name so the order is stable.
    static func headers(_ variables: CGIVariables) -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = []
        if let type = variables.contentType, !type.isEmpty { headers.append(("Content-Type", type)) }
        if let length = variables.contentLength, !length.isEmpty { headers.append(("Content-Length", length)) }
        for (variable, value) in variables.http {
            let name = headerName(variable)
            // Some servers also export these as HTTP_*; the CGI variables above are authoritative.
            if name == "Content-Type" || name == "Content-Length" { continue }
            headers.append((name, value))
        }
        if variables.http("AUTHORIZATION") == nil, let authorization = variables.redirectAuthorization {
            headers.append(("Authorization", authorization))
        }
        return headers.sorted { $0.name < $1.name }
    }

    /// `X_KALTURA_SIGNATURE` → `X-Kaltura-Signature`.
    static func headerName(_ variable: String) -> String {
        // ASCII, as web servers make these names: one pass over the bytes.
        if variable.utf8.allSatisfy({ $0 < 0x80 }) {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(variable.utf8.count)
            var startOfWord = true
            for byte in variable.utf8 {
                if byte == UInt8(ascii: "_") {
                    bytes.append(UInt8(ascii: "-"))
                    startOfWord = true
                    continue
                }
                let isUpper = byte >= 65 && byte <= 90, isLower = byte >= 97 && byte <= 122
                bytes.append(startOfWord ? (isLower ? byte - 32 : byte) : (isUpper ? byte + 32 : byte))
                startOfWord = false
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        return variable.split(separator: "_", omittingEmptySubsequences: false)
            .map { $0.prefix(1).uppercased() + $0.dropFirst().lowercased() }
            .joined(separator: "-")
    }

    /// Reads up to `count` bytes from standard input, stopping early only at end of input.
    public static func readStandardInput(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let result = bytes.withUnsafeMutableBytes { buffer in
                read(0, buffer.baseAddress! + filled, count - filled)
            }
            if result > 0 {
                filled += result
            } else if result == 0 {
                break
            } else if errno != EINTR {
                throw HTTPResponseError(status: 500, reason: "could not read standard input (errno \(errno))")
            }
        }
        return Array(bytes.prefix(filled))
    }
}
