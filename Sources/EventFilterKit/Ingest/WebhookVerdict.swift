/// The outcome of verifying one request.
///
///     if let refusal = verdict.rejectionResponse(for: source) { answer(refusal) }
public enum WebhookVerdict: Sendable, Equatable {
    /// Genuine: store these events (one request may carry several), then answer 200.
    case accepted([IncomingEvent])
    /// Refused: answer `status` with `reason` (one line, no secrets) and store nothing.
    case rejected(status: Int, reason: String)

    /// The answer to send for a rejection, with the headers its status calls for; nil when accepted
    /// (the caller answers 200 once the events are stored, or 500 when storing failed).
    public func rejectionResponse(for source: WebhookSource?) -> HTTPResponse? {
        guard case .rejected(let status, let reason) = self else { return nil }
        var headers: [HTTPHeader] = []
        if status == 401, source?.type == .enablex {
            // RFC 9110 §11.6.1: a 401 names the scheme to use; only EnableX uses HTTP authentication.
            headers.append(HTTPHeader("WWW-Authenticate", "Basic realm=\"eventfilter\", charset=\"UTF-8\""))
        }
        return HTTPResponse(status: status, body: reason, headers: headers)
    }
}
