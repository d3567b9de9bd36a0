import EventFilterKit

/// What `cgi` and `fastcgi` share around the router: one request in, one response and one log
/// line out, so the two front ends answer and log alike.
///
///     let (response, logLine) = WebFront.respond(router: router, request: CGI.request(...), now: now, front: "cgi")
enum WebFront {
    static func respond(
        router: Router, request: Result<HTTPRequest, HTTPResponseError>, now: Int64, front: String,
        method: String, path: String
    ) -> (response: HTTPResponse, logLine: String?) {
        var logDetail: String?
        let response: HTTPResponse
        switch request {
        case .failure(let error):
            response = error.response
        case .success(let request):
            let answer = router.answer(request, now: now)
            response = answer.response
            logDetail = answer.logDetail
        }
        return finish(WebhookIntake.Answer(response, logDetail: logDetail), front: front, method: method, path: path)
    }

    /// The response as it leaves for `path`, and its log line, for an answer already made.
    static func finish(_ answer: WebhookIntake.Answer, front: String, method: String, path: String) -> (response: HTTPResponse, logLine: String?) {
        let finished = Router.finish(answer.response, path: path)
        return (finished, logLine(front: front, method: method, path: path, response: finished, detail: answer.logDetail))
    }

    /// The line for the server's error log when a request was refused: never a secret, never more
    /// of the request than its method and path.
    static func logLine(front: String, method: String, path: String, response: HTTPResponse, detail: String?) -> String? {
        guard response.status >= 400 else { return nil }
        let (shown, cut) = redaction(path)
        // A page for a person says nothing useful in its first line; its status reason does. The
        // unsubscribe and settings refusals never quote the path; any other refusal may (even
        // shortened), so when a secret was cut from its path it is shown by its reason too.
        let ownRoute = path.split(separator: "/", omittingEmptySubsequences: true).first
            .map { $0 == "settings" || $0 == "unsubscribe" } ?? false
        let summary = response.contentType.hasPrefix("text/html") || (!cut.isEmpty && !ownRoute)
            ? response.reason : String(response.body.split(whereSeparator: \.isNewline).first ?? "")
        var line = "\(front): \(loggable(method)) \(loggable(shown)): \(response.status) " + summary
        if let detail { line += " (\(detail))" }
        return line
    }

    /// A path with its secret part cut: `/settings/TOKEN/follow` is logged as `/settings/…` and
    /// `/unsubscribe/TOKEN` as `/unsubscribe/…`, so a personal link never reaches a log file;
    /// so are such links below a wrong prefix (`/x/settings/TOKEN`), and any segment shaped like
    /// a settings token (a web server mounted on the settings URL itself passes `/TOKEN`).
    static func redacted(_ path: String) -> String {
        redaction(path).shown
    }

    /// The path as logged and the segments cut from it.
    private static func redaction(_ path: String) -> (shown: String, cut: [Substring]) {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        var kept: [Substring] = [], cut: [Substring] = []
        for (index, segment) in segments.enumerated() {
            if Store.isSettingsToken(String(segment)) {
                kept.append("…")
                cut.append(segment)
                continue
            }
            kept.append(segment)
            if segment == "settings" || segment == "unsubscribe", index + 1 < segments.count {
                kept.append("…")
                cut += segments[(index + 1)...]
                break
            }
        }
        guard !cut.isEmpty else { return (path, []) }
        return ("/" + kept.joined(separator: "/"), cut)
    }

    /// Request data in a log line: no control characters (a decoded path may hold a line break
    /// that would forge a log entry), at most 100 characters.
    static func loggable(_ text: String) -> String {
        let scalars = text.unicodeScalars.prefix(100).map { $0.properties.generalCategory == .control ? "?" : $0 }
        return String(String.UnicodeScalarView(scalars)) + (text.unicodeScalars.count > 100 ? "…" : "")
    }
}
