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
