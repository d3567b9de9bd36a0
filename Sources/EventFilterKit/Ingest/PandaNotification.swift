/// Panda (pandastream) notifications: one form POST per event (`video-created`, `video-encoded`,
/// `encoding-progress`, `encoding-complete`) with `video_id`, `encoding_id`, `encoding_ids[N]`, `progress`.
///
/// Panda signs nothing, so the notification URL carries a per-source token: `?token=SECRET` in
/// the URL, or an `X-Eventfilter-Token` header from a proxy. It is compared in constant time.
/// `encoding-progress` arrives about every 10 s; it is stored with `quiet: true` (for status, not
/// mail) unless the source sets `MailProgress=true`.
enum PandaNotification {
    static let tokenHeader = "X-Eventfilter-Token"

    /// Ids each known event must carry; other event names are stored as they come.
    private static let requiredIDs: [String: String] = [
        "video-created": "video_id", "video-encoded": "video_id",
        "encoding-progress": "encoding_id", "encoding-complete": "encoding_id",
    ]

    static func events(_ request: HTTPRequest, source: WebhookSource) throws -> [IncomingEvent] {
        try authenticate(request, source: source)

        let fields: [String: JSONValue]
        if request.mediaType == "application/json" || WebhookParsing.looksLikeJSONObject(request.body) {
            fields = try WebhookParsing.jsonObject(request.body)
        } else {
            fields = try WebhookParsing.formFields(request.body, allowArrays: true)
        }
        guard let event = WebhookParsing.text(fields["event"]) else {
            throw WebhookRejection.malformed("missing event field")
        }
        guard Names.isName(event, allowingDot: false) else {
            throw WebhookRejection.malformed("unusable event name \(IngestText.quoted(event))")
        }
        if let required = requiredIDs[event], WebhookParsing.text(fields[required]) == nil {
            throw WebhookRejection.malformed("\(event) notification without \(required)")
        }

        let videoID = WebhookParsing.text(fields["video_id"])
        var params = fields
        params["path"] = .string(try WebhookParsing.path(source, videoID.map { [("video_id", $0)] } ?? []))
        if let videoID { params["node_id"] = .string(videoID) }
        if event == "encoding-progress", !source.mailProgress { params["quiet"] = .bool(true) }
        // Only ever the source's own template, never a field the sender chose.
        params["watch_url"] = videoID.flatMap { source.watchURL(["video_id": $0]) }
        // An encoded video is announced once, however often Panda says so.
        let lifecycle = event == "video-encoded" ? videoID.map { LifecycleNotice.ready(objectType: "video", objectID: $0) } : nil
        return [IncomingEvent(
            type: "panda.\(event)", params: .object(params),
            dedupeKey: WebhookParsing.bodyHashKey(source, request.body), lifecycle: lifecycle)]
    }

    private static func authenticate(_ request: HTTPRequest, source: WebhookSource) throws {
        let fromHeader = request.header(tokenHeader)
        let fromQuery = request.queryParameters?.last { $0.name == "token" }?.value
        guard let token = fromHeader ?? fromQuery, !token.isEmpty else {
            throw WebhookRejection.unauthenticated("missing token: add ?token=… to the notification URL")
        }
        guard Crypto.secretsMatch(presented: Array(token.utf8), expected: Array(source.secret.utf8)) else {
            throw WebhookRejection.forbidden("token does not match")
        }
    }
}
