import Foundation

/// The subscriber's own settings pages, reached through `Router` under `/settings`:
///
///     GET  /settings                 a form that mails a fresh personal link to a known address
///     POST /settings                 queues that mail; answers the same for unknown addresses
///     GET  /settings/TOKEN           what the reader follows, how mail reaches them, stop buttons
///     POST /settings/TOKEN           one change (action=delivery|stop|stop-collaboration|stop-all)
///     GET  /settings/TOKEN/follow?node=ID   a "Keep me updated" button; POST follows the node
///     GET  /settings/follow?email=…&node=…&expires=…&sig=…   the same from a signed link
///
///     let pages = SettingsPages(store: store, site: site, templates: library, bodyLimit: 1 << 20)
///     pages.answer(HTTPRequest(method: "GET", path: "/settings/\(token)"), segments: [token], now: now)
///
/// Every POST carries a CSRF token (an HMAC of the page's token with a per-installation key) or,
/// for a signed link, the site's signature; GETs change nothing. A wrong or revoked token gets
/// the same 404 as an unknown path, and every answer forbids caching, framing and referrers.
public final class SettingsPages {
    public let store: Store
    public let site: SiteConfiguration
    public let templates: TemplateLibrary
    public let bodyLimit: Int
    /// Webhook sources by name (`[Source-NAME]`) with their type: a rule on one follows the whole source.
    public let sources: [String: String]

    public init(store: Store, site: SiteConfiguration, templates: TemplateLibrary, bodyLimit: Int,
                sources: [String: String] = [:]) {
        self.store = store
        self.site = site
        self.templates = templates
        self.bodyLimit = bodyLimit
        self.sources = sources
    }

    /// The pages of the installation at `root`: its site settings, and templates from its active
    /// extensions before the built-in ones.
    public convenience init(root: URL, settings: Settings, store: Store, bodyLimit: Int, sources: [String: String] = [:]) throws {
        let templates = TemplateLibrary(
            root: root, extensions: try settings.activeExtensions(),
            builtins: SettingsTemplates.all.merging(BuiltinTemplates.all) { own, _ in own })
        self.init(store: store, site: try SiteConfiguration.load(settings), templates: templates, bodyLimit: bodyLimit,
                  sources: sources)
    }

    /// The headers on every settings answer: pages with a personal key in their address must not
    /// be cached, framed, sent on as a Referer or run script.
    public static let securityHeaders = [
        HTTPHeader("Cache-Control", "no-store"),
        HTTPHeader("Referrer-Policy", "no-referrer"),
        HTTPHeader("X-Frame-Options", "DENY"),
        HTTPHeader("Content-Security-Policy",
                   "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"),
    ]

    /// One answer for every path or token that leads nowhere, so a wrong token looks like no page.
    public static let notFound = HTTPResponse(status: 404, body: "not found", headers: securityHeaders)

    static let followSegment = "follow"
    /// Seconds after a new link during which the form mails no other.
    public static let linkInterval: Int64 = 600

    public func answer(_ request: HTTPRequest, segments: [String], now: Int64) -> WebhookIntake.Answer {
        guard request.body.count <= bodyLimit else {
            return WebhookIntake.Answer(HTTPResponse(
                status: 413, body: "body of \(request.body.count) bytes exceeds the limit of \(bodyLimit) bytes",
                headers: Self.securityHeaders))
        }
        do {
            switch segments.count {
            case 0: return try linkRequest(request, now: now)
            case 1 where segments[0] == Self.followSegment: return try signedFollow(request, now: now)
            case 1, 2:
                if segments.count == 2 && segments[1] != Self.followSegment { return WebhookIntake.Answer(Self.notFound) }
                guard let user = try store.settingsUser(token: segments[0]) else { return WebhookIntake.Answer(Self.notFound) }
                let csrf = try csrfToken(for: segments[0])
                return segments.count == 1
                    ? try settingsPage(request, user: user, csrf: csrf, now: now)
                    : try tokenFollow(request, user: user, csrf: csrf, now: now)
            default:
                return WebhookIntake.Answer(Self.notFound)
            }
        } catch {
            return WebhookIntake.Answer(
                HTTPResponse(status: 500, body: "the settings could not be read or saved now; please try again",
                             headers: Self.securityHeaders),
                logDetail: "settings: " + String(describing: error).split(whereSeparator: \.isNewline).joined(separator: " "))
        }
    }

    // MARK: The page

    private func settingsPage(_ request: HTTPRequest, user: User, csrf: String, now: Int64) throws -> WebhookIntake.Answer {
        switch request.method {
        case "GET", "HEAD":
            return try page(user: user, csrf: csrf)
        case "POST":
            guard let form = form(request), verify(csrf: form["csrf"], expected: csrf) else {
                var answer = try page(user: user, csrf: csrf, error: "This form has expired. Please try again.", status: 403)
                answer.logDetail = "the form's CSRF token does not match the page"
                return answer
            }
            let change: SettingsChange
            do {
                change = try Self.change(from: form)
            } catch {
                return try page(user: user, csrf: csrf, error: "\(error)", status: 400)
            }
            try store.applySettings(change, user: user, now: now)
            let updated = try store.user(email: user.email) ?? user
            return try page(user: updated, csrf: csrf, notice: try notice(for: change, user: updated))
        default:
            return WebhookIntake.Answer(HTTPResponse(
                status: 405, body: "use GET or POST", headers: Self.securityHeaders + [HTTPHeader("Allow", "GET, HEAD, POST")]))
        }
    }

    /// What a form asks for, checked before anything changes.
    static func change(from form: [String: String]) throws -> SettingsChange {
        switch form["action"] ?? "" {
        case "delivery":
            let timezone = form["timezone"] ?? ""
            guard (try? Zone.named(timezone)) != nil else { throw EventFilterError.usage("Choose a time zone from the list.") }
            let frequency: DigestSchedule.Frequency
            switch form["delivery"] ?? "" {
            case "immediate": return .delivery(nil, timezone: timezone)
            case "daily": frequency = .daily
            case "weekly":
                guard let day = Int(form["weekday"] ?? ""), (1...7).contains(day) else {
                    throw EventFilterError.usage("Choose a weekday.")
                }
                frequency = .weekly(weekday: day)
            case "monthly":
                guard let day = Int(form["monthday"] ?? ""), (1...31).contains(day) else {
                    throw EventFilterError.usage("Choose a day of the month from 1 to 31.")
                }
                frequency = .monthly(day: day)
            default: throw EventFilterError.usage("Choose how mail should reach you.")
            }
            let clock = (form["time"] ?? "").split(separator: ":", omittingEmptySubsequences: false)
            guard clock.count == 2, clock.allSatisfy({ $0.count == 2 }), let hour = Int(clock[0]), let minute = Int(clock[1]),
                  (0...23).contains(hour), (0...59).contains(minute) else {
                throw EventFilterError.usage("Enter the time as HH:MM, e.g. 07:30.")
            }
            return .delivery(try DigestSchedule(frequency: frequency, hour: hour, minute: minute), timezone: timezone)
        case "stop":
            guard let node = form["node"], !node.isEmpty else { throw EventFilterError.usage("Nothing to stop was named.") }
            return .stopFollowing(node: node)
        case "stop-collaboration":
            guard let identifier = form["identifier"], !identifier.isEmpty else {
                throw EventFilterError.usage("Nothing to stop was named.")
            }
            return .stopCollaboration(identifier: identifier)
        case "stop-all":
            return .stopAll
        default:
            throw EventFilterError.usage("This form asks for nothing this page knows.")
        }
    }

    private func notice(for change: SettingsChange, user: User) throws -> String {
        switch change {
        case .delivery(let schedule, _): return "Saved. Mail now comes " + Self.deliveryText(schedule, timezone: user.timezone) + "."
        case .stopFollowing(let node): return "You no longer get mail about node \(node)."
        case .stopCollaboration(let identifier): return "You no longer get \(Self.collaborationLabel(identifier))."
        case .stopAll: return "You get no more mail from \(site.siteName)."
        case .follow(let node): return "You now get mail when node \(node) changes."
        }
    }

    private func page(user: User, csrf: String, notice: String? = nil, error: String? = nil,
                      status: Int = 200) throws -> WebhookIntake.Answer {
        let overview = try store.settingsOverview(user: user)
        var context: [String: TemplateValue] = [
            "site_name": .text(site.siteName), "name": .text(user.name.isEmpty ? user.email : user.name),
            "email": .text(user.email), "csrf": .text(csrf),
            "notice": .text(notice ?? ""), "error": .text(error ?? ""),
            "delivery_text": .text(Self.deliveryText(overview.schedule, timezone: user.timezone)),
            "follows": .list(overview.follows.map { follow in
                let source = sources[follow.node].map { type in "Everything from the \(follow.node) source (\(type))" }
                return ["node": .text(follow.node), "name": .text(source ?? follow.name ?? ""), "path": .text(follow.path ?? "")]
            }),
            "collaborations": .list(overview.collaborations.map {
                ["identifier": .text($0), "label": .text(Self.collaborationLabel($0).capitalizedFirst)]
            }),
        ]
        let schedule = overview.schedule
        context["immediate"] = .bool(schedule == nil)
        var weekday = 1, monthday = 1
        switch schedule?.frequency {
        case .daily?: context["daily"] = .bool(true)
        case .weekly(let day)?: context["weekly"] = .bool(true); weekday = day
        case .monthly(let day)?: context["monthly"] = .bool(true); monthday = day
        case nil: break
        }
        context["weekdays"] = .list(Self.weekdayNames.enumerated().map { index, name in
            ["value": .text(String(index + 1)), "label": .text(name), "selected": .bool(index + 1 == weekday)]
        })
        context["monthdays"] = .list((1...31).map {
            ["value": .text(String($0)), "label": .text(String($0)), "selected": .bool($0 == monthday)]
        })
        context["time"] = .text(schedule.map { Self.clock($0.hour, $0.minute) } ?? "08:00")
        context["zones"] = .list(Self.zoneIdentifiers(including: user.timezone).map {
            ["id": .text($0), "selected": .bool($0 == user.timezone)]
        })
        return try html("settings/page.html", context, status: status)
    }

    // MARK: Asking for a link

    private func linkRequest(_ request: HTTPRequest, now: Int64) throws -> WebhookIntake.Answer {
        switch request.method {
        case "GET", "HEAD":
            return try html("settings/request.html", [:])
        case "POST":
            let address = form(request)?["email"].map { IngestText.trim($0) } ?? ""
            guard address.contains("@"), (try? Mailbox(address: address, name: nil)) != nil else {
                return try html("settings/request.html", ["error": "Enter your email address."], status: 400)
            }
            // At most one link per address in `linkInterval`, so the form cannot flood a mailbox;
            // mail sent in that time already carried a link.
            if let user = try store.user(email: address),
               !(try store.hasSettingsToken(userID: user.id, since: now - Self.linkInterval + 1)) {
                try mailLink(to: user, now: now)
            }
            // The same words whether or not the address is known: the page must not tell who subscribes.
            return try html("settings/request.html", [
                "notice": .text("If \(address) gets mail from \(site.siteName), a link to its settings is on its way."),
            ])
        default:
            return WebhookIntake.Answer(HTTPResponse(
                status: 405, body: "use GET or POST", headers: Self.securityHeaders + [HTTPHeader("Allow", "GET, HEAD, POST")]))
        }
    }

    /// Queues the link mail in the outbox with its token, in one transaction: both or neither.
    private func mailLink(to user: User, now: Int64) throws {
        try store.inTransaction {
            let token = try store.issueSettingsToken(userID: user.id, now: now)
            let context: [String: TemplateValue] = [
                "site_name": .text(site.siteName), "name": .text(user.name.isEmpty ? user.email : user.name),
                "url": .text(site.settingsURL + "/" + token),
            ]
            // The site's one subject pattern (`subject-line.txt`: "[SiteName] what happened"), as for every message.
            let what = MailRenderer.oneLine(try templates.template("settings/link-subject.txt").render(context, escapeHTML: false))
            let subject = MailRenderer.oneLine(try templates.template("subject-line.txt")
                .render(["site_name": .text(site.siteName), "subject": .text(what)], escapeHTML: false))
            let text = try templates.template("settings/link.txt").render(context, escapeHTML: false)
            let composer = MessageComposer(from: site.sender, messageIDDomain: site.messageIDDomain)
            let message = try composer.compose(
                to: try Mailbox(address: user.email, name: user.name.isEmpty ? nil : user.name),
                subject: subject, text: text, html: nil, date: now,
                extraHeaders: site.replyTo.map { [(name: "Reply-To", value: $0.address)] } ?? [])
            try Outbox(store: store).enqueue(
                recipient: user.email, sender: site.sender.address, subject: subject, message: message, now: now)
        }
    }

    // MARK: Keep me updated

    private func tokenFollow(_ request: HTTPRequest, user: User, csrf: String, now: Int64) throws -> WebhookIntake.Answer {
        switch request.method {
        case "GET", "HEAD":
            let node = Self.parameters(request.query)?["node"] ?? ""
            guard (try? Store.validateNode(node)) != nil else {
                return try html("settings/follow.html", ["error": "This link names no page to follow."], status: 400)
            }
            return try html("settings/follow.html", [
                "confirm": true, "node": .text(node),
                "fields": .list([["name": "csrf", "value": .text(csrf)], ["name": "node", "value": .text(node)]]),
            ])
        case "POST":
            guard let form = form(request), verify(csrf: form["csrf"], expected: csrf) else {
                var answer = try html("settings/follow.html", ["error": "This form has expired. Please try again."], status: 403)
                answer.logDetail = "the form's CSRF token does not match the page"
                return answer
            }
            return try follow(user: user, node: form["node"] ?? "", now: now)
        default:
            return WebhookIntake.Answer(HTTPResponse(
                status: 405, body: "use GET or POST", headers: Self.securityHeaders + [HTTPHeader("Allow", "GET, HEAD, POST")]))
        }
    }

    private func follow(user: User, node: String, now: Int64) throws -> WebhookIntake.Answer {
        guard (try? Store.validateNode(node)) != nil else {
            return try html("settings/follow.html", ["error": "This link names no page to follow."], status: 400)
        }
        try store.applySettings(.follow(node: node), user: user, now: now)
        return try html("settings/follow.html", ["notice": .text(try notice(for: .follow(node: node), user: user))])
    }

    /// A link the site signed with `[SiteSettings] FollowSecret`, for readers who have no token:
    /// `sig` is the hex HMAC-SHA256 of "EMAIL\nNODE\nEXPIRES" (EXPIRES in Unix seconds).
    private func signedFollow(_ request: HTTPRequest, now: Int64) throws -> WebhookIntake.Answer {
        let fields: [String: String]?
        switch request.method {
        case "GET", "HEAD": fields = Self.parameters(request.query)
        case "POST": fields = form(request)
        default:
            return WebhookIntake.Answer(HTTPResponse(
                status: 405, body: "use GET or POST", headers: Self.securityHeaders + [HTTPHeader("Allow", "GET, HEAD, POST")]))
        }
        guard let fields, let secret = site.followSecret,
              let email = fields["email"], let node = fields["node"], let expiresText = fields["expires"],
              let expires = Int64(expiresText), expires >= now,
              let signature = fields["sig"].flatMap(Crypto.hexDecode),
              Crypto.constantTimeEqual(
                  Crypto.hmac(.sha256, key: Array(secret.utf8), data: Array(Self.followMessage(email: email, node: node, expires: expires).utf8)),
                  signature),
              let user = try store.user(email: email)
        else { return WebhookIntake.Answer(Self.notFound) }
        if request.method == "POST" { return try follow(user: user, node: node, now: now) }
        // A GET (a click, or a mail scanner following the link) only shows the button.
        return try html("settings/follow.html", [
            "confirm": true, "node": .text(node),
            "fields": .list(["email", "node", "expires", "sig"].map { ["name": .text($0), "value": .text(fields[$0] ?? "")] }),
        ])
    }

    /// The signed message of a follow link: the address, the node id and the expiry, one per line.
    public static func followMessage(email: String, node: String, expires: Int64) -> String {
        "\(email)\n\(node)\n\(expires)"
    }

    // MARK: Helpers

    /// The CSRF token of a page: base64url(HMAC-SHA256(installation key, "settings-form\n" + token)).
    func csrfToken(for token: String) throws -> String {
        let key = try store.installationKey("settings-csrf")
        return Self.base64url(Crypto.hmac(.sha256, key: key, data: Array(("settings-form\n" + token).utf8)))
    }

    private func verify(csrf presented: String?, expected: String) -> Bool {
        guard let presented else { return false }
        return Crypto.secretsMatch(presented: Array(presented.utf8), expected: Array(expected.utf8))
    }

    /// The form's fields (the first of each name), or nil when the body is not form encoding.
    private func form(_ request: HTTPRequest) -> [String: String]? {
        guard request.mediaType == nil || request.mediaType == "application/x-www-form-urlencoded",
              let pairs = try? FormDecoder.decode(request.body) else { return nil }
        return Self.firstValues(pairs)
    }

    private static func parameters(_ query: String) -> [String: String]? {
        (try? FormDecoder.decode(Array(query.utf8))).map(firstValues)
    }

    private static func firstValues(_ pairs: [(name: String, value: String)]) -> [String: String] {
        var result: [String: String] = [:]
        for pair in pairs where result[pair.name] == nil { result[pair.name] = pair.value }
        return result
    }

    private func html(_ name: String, _ variables: [String: TemplateValue], status: Int = 200) throws -> WebhookIntake.Answer {
        var context: [String: TemplateValue] = ["site_name": .text(site.siteName)]
        context.merge(variables) { _, new in new }
        let body = try templates.template(name).render(context, escapeHTML: true)
        return WebhookIntake.Answer(HTTPResponse(
            status: status, body: body, headers: Self.securityHeaders, contentType: "text/html; charset=utf-8"))
    }

    /// How mail reaches the reader, in their words: "at once" or "weekly on Monday at 07:30 (America/New_York time)".
    static func deliveryText(_ schedule: DigestSchedule?, timezone: String) -> String {
        guard let schedule else { return "at once, one mail per change" }
        let at = "at \(clock(schedule.hour, schedule.minute)) \(timezone) time"
        switch schedule.frequency {
        case .daily: return "in a daily digest \(at)"
        case .weekly(let day): return "in a weekly digest on \(weekdayNames[day - 1]) \(at)"
        case .monthly(let day): return "in a monthly digest on day \(day) \(at)"
        }
    }

    static func collaborationLabel(_ identifier: String) -> String {
        switch identifier {
        case "ezapprove": return "approval requests"
        default: return "collaboration notifications (\(identifier))"
        }
    }

    static let weekdayNames = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

    static func clock(_ hour: Int, _ minute: Int) -> String {
        (hour < 10 ? "0" : "") + String(hour) + ":" + (minute < 10 ? "0" : "") + String(minute)
    }

    /// The IANA zones this system knows, sorted, with the user's own even if the list lacks it.
    static func zoneIdentifiers(including current: String) -> [String] {
        var zones = Set(TimeZone.knownTimeZoneIdentifiers)
        zones.insert(current)
        zones.insert("UTC")
        return zones.sorted()
    }

    static func base64url(_ bytes: [UInt8]) -> String {
        Crypto.base64Encode(bytes).replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

private extension String {
    var capitalizedFirst: String { prefix(1).uppercased() + dropFirst() }
}
