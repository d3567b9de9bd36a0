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
        headers.first { Self.sameIgnoringCase($0.name, name) }?.value
    }

    /// `a.lowercased() == b.lowercased()`, byte by byte without lowercased copies when both are
    /// ASCII (header names are: RFC 9110 §5.1 makes them tokens).
    private static func sameIgnoringCase(_ a: String, _ b: String) -> Bool {
        var a = a, b = b
        let ascii: Bool? = a.withUTF8 { x in
            b.withUTF8 { y -> Bool? in
                guard !x.contains(where: { $0 >= 0x80 }), !y.contains(where: { $0 >= 0x80 }) else { return nil }
                guard x.count == y.count else { return false }
                for index in 0..<x.count where x[index] != y[index] {
                    let folded = x[index] | 0x20
                    guard folded == y[index] | 0x20, folded >= 97, folded <= 122 else { return false }
                }
                return true
            }
        }
        return ascii ?? (a.lowercased() == b.lowercased())
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
