/// The one place a web request is routed, for every front end (`eventfilter cgi` per request,
/// `eventfilter fastcgi` for its whole life), so both answer the same request the same way.
///
///     let router = Router(intake: intake, settings: .available(pages))
///     let answer = router.answer(HTTPRequest(method: "POST", path: "/panda", body: body), now: now)
///     answer.response.status   // 200, 400, 401, 403, 404, 405, 413 or 500
///
/// Paths are relative to where the web server mounts the program:
///
///     /NAME                 a webhook for the source [Source-NAME] of settings/webhooks.ini
///     /unsubscribe/TOKEN    one-click unsubscribe (RFC 8058)
///     /settings[/TOKEN]     the subscriber's settings pages (`SettingsPages`)
///
/// A path reaches only its own handler: it is split into segments and matched whole, never
/// joined to a file name or passed to a command, so `/../x`, `/a/b` or an encoded slash end in 404.
public final class Router {
    public let intake: WebhookIntake
    public let settings: SettingsFront

    /// Whether the settings pages can be served: they need the site's settings (sender, URLs),
    /// which webhooks do not, so a site.ini problem breaks only these pages.
    public enum SettingsFront {
        case available(SettingsPages)
        /// The reason, for the operator's log; the reader sees a 500.
        case misconfigured(String)
        case off
    }

    public init(intake: WebhookIntake, settings: SettingsFront = .off) {
        self.intake = intake
        self.settings = settings
    }

    public func answer(_ request: HTTPRequest, now: Int64) -> WebhookIntake.Answer {
        let segments = request.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        switch segments.first {
        case Self.unsubscribeSegment?:
            guard segments.count == 2 else {
                return WebhookIntake.Answer(HTTPResponse(status: 404, body: "an unsubscribe link is /unsubscribe/TOKEN"))
            }
            return intake.unsubscribe(request, token: segments[1])
        case Self.settingsSegment?:
            return settingsPage(request, segments: Array(segments.dropFirst()), now: now)
        case let name? where segments.count == 1:
            return intake.accept(request, sourceName: name, now: now)
        default:
            return WebhookIntake.Answer(HTTPResponse(
                status: 404, body: "no webhook source at \(IngestText.quoted(request.path)); POST to /NAME"))
        }
    }

    /// True when `answer` hands `request` to the webhook intake (`/NAME`), whose only writes are
    /// the request's events: such requests can share a commit (`GroupCommit`).
    public func routesToIntake(_ request: HTTPRequest) -> Bool {
        let segments = request.path.split(separator: "/", omittingEmptySubsequences: true)
        guard segments.count == 1 else { return false }
        return segments[0] != Substring(Self.unsubscribeSegment) && segments[0] != Substring(Self.settingsSegment)
    }

    /// `response` as it leaves for `path`, whichever part answered: an answer under `/settings`
    /// carries `SettingsPages.securityHeaders` even when it was refused before the router saw it
    /// (a body over the limit, a malformed CONTENT_LENGTH, a store that cannot be opened), since
    /// the address it answers holds a reader's personal token.
    ///
    ///     Router.finish(HTTPResponse(status: 413, body: "too large"), path: "/settings/TOKEN").headers
    ///     // Cache-Control: no-store, Referrer-Policy, X-Frame-Options, Content-Security-Policy
    public static func finish(_ response: HTTPResponse, path: String) -> HTTPResponse {
        guard path.split(separator: "/", omittingEmptySubsequences: true).first == Substring(settingsSegment) else { return response }
        var finished = response
        let present = Set(response.headers.map { $0.name.lowercased() })
        finished.headers += SettingsPages.securityHeaders.filter { !present.contains($0.name.lowercased()) }
        return finished
    }

    static let unsubscribeSegment = "unsubscribe"
    static let settingsSegment = "settings"

    /// The subscriber's settings pages: `/settings` asks for a link by mail, `/settings/TOKEN`
    /// shows the page. No webhook source can be reached as /settings.
    private func settingsPage(_ request: HTTPRequest, segments: [String], now: Int64) -> WebhookIntake.Answer {
        switch settings {
        case .available(let pages):
            return pages.answer(request, segments: segments, now: now)
        case .misconfigured(let reason):
            return WebhookIntake.Answer(
                HTTPResponse(status: 500, body: "the settings pages are misconfigured", headers: SettingsPages.securityHeaders),
                logDetail: reason)
        case .off:
            return WebhookIntake.Answer(HTTPResponse(status: 404, body: "the settings pages are not available on this installation"))
        }
    }
}
