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
