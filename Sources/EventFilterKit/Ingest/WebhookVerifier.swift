/// Verifies, parses, splits and keys webhook requests: the one code path behind
/// `eventfilter ingest NAME` and `eventfilter cgi`.
///
///     switch WebhookVerifier.process(request, source: source, now: now, bodyLimit: 1 << 20) {
///     case .accepted(let events): store(events)          // then answer 200
///     case .rejected(let status, let reason): answer(status, reason)   // store nothing
///     }
///
/// Pure: no I/O, no clock (`now` is unix seconds, from `--now` or the system clock).
/// Answers: 405 not POST, 413 body over `bodyLimit`, 401 credentials or signature missing (or a
/// Standard Webhooks timestamp outside the window), 403 credentials or signature wrong, 400 a
/// malformed body, 500 a misconfigured source. Credentials are checked before the body is parsed
/// wherever the scheme allows it, so strangers learn nothing about what the parser accepts.
public enum WebhookVerifier {
    public static func process(_ request: HTTPRequest, source: WebhookSource, now: Int64, bodyLimit: Int)
        -> WebhookVerdict
    {
        guard request.method == "POST" else {
            return .rejected(status: 405, reason: "method \(IngestText.quoted(request.method)) not allowed; webhooks are POSTed")
        }
        guard request.body.count <= bodyLimit else {
            return .rejected(status: 413, reason: "body of \(request.body.count) bytes exceeds the limit of \(bodyLimit) bytes")
        }
        if let problem = source.configurationProblem {
            return .rejected(status: 500, reason: "source \(IngestText.quoted(source.name)) is misconfigured: \(problem)")
        }
        do {
            let events: [IncomingEvent]
            switch source.type {
            case .kaltura: events = try KalturaLegacyNotification.events(request, source: source)
            case .kalturaHTTP: events = try KalturaHTTPNotification.events(request, source: source, now: now)
            case .panda: events = try PandaNotification.events(request, source: source)
            case .enablex: events = try EnableXNotification.events(request, source: source)
            case .standard: events = try StandardWebhook.events(request, source: source, now: now)
            }
            return .accepted(events)
        } catch let rejection as WebhookRejection {
            return .rejected(status: rejection.status, reason: rejection.reason)
        } catch {
            return .rejected(status: 400, reason: "\(error)")
        }
    }
}
