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
        // A header must never carry a line break: it would let text end the header block. CR
        // and LF are single bytes in UTF-8, never part of another character's bytes, so the
        // lines are made on bytes and those two bytes become spaces.
        var out: [UInt8] = []
        out.reserveCapacity(64 + contentType.utf8.count + body.utf8.count)
        func line(_ parts: String...) {
            for part in parts {
                for byte in part.utf8 { out.append(byte == 0x0D || byte == 0x0A ? 0x20 : byte) }
            }
            out += [0x0D, 0x0A]
        }
        line("Status: ", String(status), " ", reason)
        line("Content-Type: ", contentType)
        for header in headers { line(header.name, ": ", header.value) }
        out += [0x0D, 0x0A]
        out += body.utf8
        out.append(0x0A)
        return out
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
}
