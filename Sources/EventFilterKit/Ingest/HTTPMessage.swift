/// One HTTP request as the webhook layer sees it, whether it came through CGI or `eventfilter ingest`.
///
///     let request = HTTPRequest(method: "POST", path: "/panda", query: "token=abc",
///                               headers: [("Content-Type", "application/x-www-form-urlencoded")],
///                               body: Array("event=video-encoded&video_id=v1".utf8))
///     request.header("content-type")   // "application/x-www-form-urlencoded"
public struct HTTPRequest: Sendable {
    public var method: String
    /// The path below the program, e.g. `/kaltura` (CGI's PATH_INFO), already percent-decoded.
    public var path: String
    /// The raw query string, without the `?`.
    public var query: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(
        method: String = "POST", path: String = "/", query: String = "",
        headers: [(name: String, value: String)] = [], body: [UInt8] = []
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }

    /// The first header with this name, compared case-insensitively.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { Self.sameLowercased($0.name, wanted) }?.value
    }

    /// `name.lowercased() == lowercase`, without making a lowercased copy when both are ASCII.
    private static func sameLowercased(_ name: String, _ lowercase: String) -> Bool {
        let a = name.utf8, b = lowercase.utf8
        guard a.allSatisfy({ $0 < 0x80 }), b.allSatisfy({ $0 < 0x80 }) else { return name.lowercased() == lowercase }
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { ($0 >= 65 && $0 <= 90 ? $0 + 32 : $0) == $1 }
    }

    public var contentType: String? { header("Content-Type") }

    /// The content type without parameters, lowercased: `application/json` for
    /// `Application/JSON; charset=utf-8`.
    public var mediaType: String? {
        guard let contentType else { return nil }
        let bare = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let trimmed = IngestText.trim(bare).lowercased()
        return trimmed.isEmpty ? nil : trimmed
    }

    /// The first segment of the path: `kaltura` for `/kaltura` and `/kaltura/`. Nil when the path
    /// is empty or has more than one segment, so `/a/b` never reaches a source called `a`.
    public var sourceName: String? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        guard segments.count == 1 else { return nil }
        return String(segments[0])
    }

    /// The decoded query parameters (`token=abc&x=1`). Nil when the query is not valid form encoding.
    public var queryParameters: [(name: String, value: String)]? {
        guard let pairs = try? FormDecoder.decode(Array(query.utf8)) else { return nil }
        return pairs.map { (name: $0.name, value: $0.value) }
    }
}

/// A header line of a response: `HTTPHeader("Allow", "POST")`.
public struct HTTPHeader: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// The answer to a webhook sender: a status, its reason phrase and a one-line text body.
///
///     HTTPResponse(status: 403, body: "signature does not match").cgiBytes
///     // "Status: 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nsignature does not match\n"
public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    /// The reason phrase of the status line ("OK", "Forbidden").
    public var reason: String
    /// Plain text for the sender's logs. Rejections keep it to one line without secrets.
    public var body: String
    /// Extra header fields, e.g. `Allow` on 405 and `WWW-Authenticate` on a Basic-auth 401.
    public var headers: [HTTPHeader]
    /// Plain text for webhook senders; `text/html` only for the page a person opens in a browser.
    public var contentType: String

    public init(
        status: Int, reason: String? = nil, body: String, headers: [HTTPHeader] = [],
        contentType: String = "text/plain; charset=utf-8"
    ) {
        self.status = status
        self.reason = reason ?? HTTPResponse.reasonPhrase(for: status)
        self.body = body
        self.headers = headers
        self.contentType = contentType
        if status == 405, !headers.contains(where: { $0.name.lowercased() == "allow" }) {
            // RFC 9110 §15.5.6: a 405 must say which methods would work.
            self.headers.append(HTTPHeader("Allow", "POST"))
        }
    }

    /// The CGI response (RFC 3875 §6): a `Status` header, the content type, any extra headers,
    /// a blank line and the body followed by a newline.
    public var cgiBytes: [UInt8] {
        var text = "Status: \(status) \(HTTPResponse.singleLine(reason))\r\n"
        text += "Content-Type: \(HTTPResponse.singleLine(contentType))\r\n"
        for header in headers {
            text += "\(HTTPResponse.singleLine(header.name)): \(HTTPResponse.singleLine(header.value))\r\n"
        }
        text += "\r\n"
        text += body
        text += "\n"
        return Array(text.utf8)
    }

    public static func reasonPhrase(for status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 202: return "Accepted"
        case 204: return "No Content"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 411: return "Length Required"
        case 413: return "Content Too Large"
        case 415: return "Unsupported Media Type"
        case 500: return "Internal Server Error"
        case 503: return "Service Unavailable"
        default: return "Status \(status)"
        }
    }

    /// Header values must never carry a line break: it would let text end the header block.
    static func singleLine(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { $0 == "\r" || $0 == "\n" ? " " : $0 }))
    }
}

/// A request that could not even be read (CGI environment, body length), as the response to send.
///
///     switch CGI.request(environment: env, body: CGI.readStandardInput, bodyLimit: limit) {
///     case .success(let request): handle(request)
///     case .failure(let error): FileHandle.standardOutput.write(Data(error.response.cgiBytes))
///     }
public struct HTTPResponseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var response: HTTPResponse

    public init(status: Int, reason: String) {
        response = HTTPResponse(status: status, body: reason)
    }

    public var status: Int { response.status }
    public var reason: String { response.body }
    public var description: String { "\(response.status) \(response.body)" }
}
