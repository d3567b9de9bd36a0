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
        let finished = Router.finish(response, path: path)
        return (finished, logLine(front: front, method: method, path: path, response: finished, detail: logDetail))
    }

    /// The line for the server's error log when a request was refused: never a secret, never more
    /// of the request than its method and path.
    static func logLine(front: String, method: String, path: String, response: HTTPResponse, detail: String?) -> String? {
        guard response.status >= 400 else { return nil }
        // A page for a person says nothing useful in its first line; its status reason does.
        let summary = response.contentType.hasPrefix("text/html")
            ? response.reason : String(response.body.split(whereSeparator: \.isNewline).first ?? "")
        var line = "\(front): \(loggable(method)) \(loggable(redacted(path))): \(response.status) " + summary
        if let detail { line += " (\(detail))" }
        return line
    }

    /// A path with its secret part cut: `/settings/TOKEN/follow` is logged as `/settings/…` and
    /// `/unsubscribe/TOKEN` as `/unsubscribe/…`, so a personal link never reaches a log file.
    static func redacted(_ path: String) -> String {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        guard let first = segments.first, first == "settings" || first == "unsubscribe", segments.count > 1 else { return path }
        return "/\(first)/…"
    }

    /// Request data in a log line: no control characters (a decoded path may hold a line break
    /// that would forge a log entry), at most 100 characters.
    static func loggable(_ text: String) -> String {
        let scalars = text.unicodeScalars.prefix(100).map { $0.properties.generalCategory == .control ? "?" : $0 }
        return String(String.UnicodeScalarView(scalars)) + (text.unicodeScalars.count > 100 ? "…" : "")
    }
}
