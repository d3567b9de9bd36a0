import Foundation

/// EnableX video notifications: raw JSON bodies (`roomdrop`, `recording`, `transcoded`,
/// `file-transfer`) carrying `app_id`, `room_id`, `conf_num`, `trans_date`, behind HTTP Basic
/// authentication (the project's "HTTP Authentication" user and password = the source's secret).
///
/// Recording and file URLs become `links`, a list of `{title, url}` the mail templates print:
/// `recording` (a list for `recording`, one URL for `transcoded`) and `files[].url` (`file-transfer`).
/// Only http and https URLs become links; `has_links` is set when there is at least one.
enum EnableXNotification {
    static func events(_ request: HTTPRequest, source: WebhookSource) throws -> [IncomingEvent] {
        try authenticate(request, source: source)

        let body = try WebhookParsing.jsonObject(request.body)
        guard let type = WebhookParsing.text(body["type"]) else { throw WebhookRejection.malformed("missing type field") }
        guard Names.isName(type, allowingDot: false) else {
            throw WebhookRejection.malformed("unusable type \(IngestText.quoted(type))")
        }
        guard let appID = WebhookParsing.text(body["app_id"]) else { throw WebhookRejection.malformed("missing app_id field") }
        let roomID = WebhookParsing.text(body["room_id"])

        var segments = [(field: "app_id", value: appID)]
        if let roomID { segments.append(("room_id", roomID)) }
        var params = body
        params["path"] = .string(try WebhookParsing.path(source, segments))
        params["node_id"] = .string(roomID ?? appID)
        let found = links(body)
        params["links"] = .array(found.map { .object(["title": .string($0.title), "url": .string($0.url)]) })
        // Templates render a list section once per link; a heading above the list needs a flag.
        if !found.isEmpty { params["has_links"] = .string("true") }
        // Only ever the source's own template, never a field the sender chose.
        params["watch_url"] = source.watchURL(
            ["app_id": appID, "room_id": roomID, "conf_num": WebhookParsing.text(body["conf_num"])])
        return [IncomingEvent(
            type: "enablex.\(type)", params: .object(params),
            dedupeKey: WebhookParsing.bodyHashKey(source, request.body))]
    }

    private static func authenticate(_ request: HTTPRequest, source: WebhookSource) throws {
        guard let authorization = request.header("Authorization").map(IngestText.trim), !authorization.isEmpty else {
            throw WebhookRejection.unauthenticated("missing HTTP Basic credentials")
        }
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "basic",
            let credentials = Crypto.base64Decode(IngestText.trim(parts[1]))
        else {
            throw WebhookRejection.unauthenticated("Authorization is not HTTP Basic credentials")
        }
        guard Crypto.secretsMatch(presented: credentials, expected: Array(source.secret.utf8)) else {
            throw WebhookRejection.forbidden("HTTP Basic credentials do not match")
        }
    }

    /// The recording and file URLs, titled by their file names ("Recording 1" when a URL has none).
    static func links(_ body: [String: JSONValue]) -> [(title: String, url: String)] {
        var urls: [String] = []
        switch body["recording"] {
        case .string(let url)?: urls.append(url)
        case .array(let list)?: urls += list.compactMap(\.stringValue)
        default: break
        }
        for file in body["files"]?.arrayValue ?? [] {
            if let url = file["url"]?.stringValue { urls.append(url) } else if let url = file.stringValue { urls.append(url) }
        }
        return urls.filter(isWebURL).enumerated().map { offset, url in
            (title: fileName(url) ?? "Recording \(offset + 1)", url: url)
        }
    }

    private static func isWebURL(_ url: String) -> Bool {
        let lower = url.lowercased()
        return (lower.hasPrefix("https://") || lower.hasPrefix("http://"))
            && !url.unicodeScalars.contains { $0.properties.generalCategory == .control || $0 == " " }
    }

    /// The last path segment of a URL, without query or fragment: `room-a.mp4`.
    private static func fileName(_ url: String) -> String? {
        let withoutScheme = url.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false).dropFirst(2).first ?? ""
        guard let slash = withoutScheme.firstIndex(of: "/") else { return nil }
        let path = withoutScheme[slash...].split(whereSeparator: { $0 == "?" || $0 == "#" }).first ?? ""
        guard let last = path.split(separator: "/").last, !last.isEmpty else { return nil }
        if let decoded = last.removingPercentEncoding,
            !decoded.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        {
            return decoded
        }
        return String(last)
    }
}
