import Foundation

/// What handlers and the digest need to make mail: the templates, the site's values, thread
/// ids, each reader's zone and localised texts, and the footer with its personal links. It
/// makes text and messages and writes nothing: where they go is the `ItemSink`'s business.
///
///     let renderer = try MailRenderer(root: root, settings: settings, site: site, now: now)
///     let content = try renderer.render(bases: ["ezsubtree"], handler: "ezsubtree",
///                                       thread: renderer.threadID(node: "60"), ["name": .text("News")])
///     let message = try renderer.compose(content, to: recipient)
final class MailRenderer {
    let site: SiteConfiguration
    let templates: TemplateLibrary
    let composer: MessageComposer
    /// The run's `--now`, in Unix seconds: the Date of every message and the digest's date.
    let now: Int64

    init(root: URL, settings: Settings, site: SiteConfiguration, now: Int64) throws {
        self.site = site
        self.now = now
        self.templates = TemplateLibrary(root: root, extensions: try settings.activeExtensions(), builtins: BuiltinTemplates.all)
        self.composer = MessageComposer(from: site.sender, messageIDDomain: site.messageIDDomain)
    }

    // MARK: Templates

    /// Renders `<base>/subject.txt`, `body.txt` and `body.html`, trying each base in turn for each
    /// file, so an extension may override one file of a set. Text values are taken as they come
    /// from an event, so placeholder markers are removed from them; `times` holds the run's own
    /// time placeholders (`LocalTimeText`).
    func render(bases: [String], handler: String, thread: String?, _ variables: [String: TemplateValue],
                times: [String: TemplateValue] = [:]) throws -> RenderedContent {
        var context = siteVariables
        context.merge(variables.mapValues(Self.withoutMarkers)) { _, new in new }
        context.merge(times) { _, new in new }
        let subject = try template(bases, "subject.txt").render(context, escapeHTML: false)
        let text = try template(bases, "body.txt").render(context, escapeHTML: false)
        let html = try optionalTemplate(bases, "body.html")?.render(context, escapeHTML: true)
        return RenderedContent(
            handler: handler,
            subject: try subjectLine(subject),
            text: text, html: html, thread: thread, headline: Self.oneLine(subject))
    }

    /// Every subject has one pattern, `[SiteName] what happened` (the `subject-line.txt`
    /// template, which an extension may override), so readers can filter on it. A subject that
    /// already starts with the site's prefix (a template written that way) keeps it once.
    func subjectLine(_ subject: String) throws -> String {
        let what = Self.oneLine(subject)
        if what.hasPrefix("[\(site.siteName)]") { return what }
        if let cached = subjectLineCache[what] { return cached }
        var context = siteVariables
        context["subject"] = .text(what)
        let line = Self.oneLine(try templates.template("subject-line.txt").render(context, escapeHTML: false))
        if subjectLineCache.count < 10_000 { subjectLineCache[what] = line }
        return line
    }

    private var subjectLineCache: [String: String] = [:]

    private static func withoutMarkers(_ value: TemplateValue) -> TemplateValue {
        switch value {
        case .text(let text): return .text(LocalTimeText.strippingMarkers(text))
        case .html(let html): return .html(LocalTimeText.strippingMarkers(html))
        case .bool: return value
        case .list(let rows): return .list(rows.map { $0.mapValues(withoutMarkers) })
        }
    }

    /// A subject is one line of printable text: line breaks and other control characters that a
    /// value brought in (from a webhook, say) become spaces.
    static func oneLine(_ text: String) -> String {
        let scalars = text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 }
        var result = String(String.UnicodeScalarView(scalars))
        while result.contains("  ") { result = result.replacingOccurrences(of: "  ", with: " ") }
        return result.trimmingCharacters(in: .whitespaces)
    }

    var siteVariables: [String: TemplateValue] {
        ["site_name": .text(site.siteName), "site_url": .text(site.siteURL), "settings_url": .text(site.settingsURL)]
    }

    func template(_ bases: [String], _ file: String) throws -> Template {
        if let found = try optionalTemplate(bases, file) { return found }
        throw EventFilterError.failure("no template \(file) for \(bases.joined(separator: ", "))")
    }

    func optionalTemplate(_ bases: [String], _ file: String) throws -> Template? {
        for base in bases where templates.exists("\(base)/\(file)") {
            return try templates.template("\(base)/\(file)")
        }
        return nil
    }

    /// The stable thread id of a node: every mail about the node carries it in In-Reply-To and
    /// References, so mail clients group updates, while each Message-ID stays unique.
    func threadID(node: String) -> String {
        "<\(Self.threadLocalPart(node: node))@\(site.messageIDDomain)>"
    }

    /// The left side of a thread id, which must be an RFC 5322 `dot-atom-text` of bounded length
    /// whatever the node id holds. A short name (eZ's numeric ids, a webhook's ids) is kept
    /// readable; anything else (non-ASCII, dots, very long ids) is spelled as the SHA-256 of its
    /// UTF-8 bytes in hex: letters and digits only, always 64 characters, same node same id.
    /// The two forms cannot meet: the readable one has no dot inside the node part.
    static func threadLocalPart(node: String) -> String {
        if Names.isName(node, allowingDot: false, maxLength: 64) {
            return "node.\(node).eventfilter"
        }
        return "node.sha256.\(Crypto.hexEncode(Crypto.hash(.sha256, Array(node.utf8)))).eventfilter"
    }

    private var zones: [String: TimeZone] = [:]

    /// A recipient's zone, parsed once per run.
    func zone(_ name: String) throws -> TimeZone {
        if let cached = zones[name] { return cached }
        let zone = try Zone.named(name)
        zones[name] = zone
        return zone
    }

    /// The subject as `recipient` reads it (times in their zone), for the outbox.
    func localizedSubject(_ content: RenderedContent, to recipient: Recipient) throws -> String {
        try localized(content, zoneName: recipient.timezone).subject
    }

    /// One message for one recipient, with the times written in their zone, and the footer and
    /// unsubscribe headers that are theirs alone. Touches no store.
    func compose(_ content: RenderedContent, to recipient: Recipient) throws -> ComposedMessage {
        let localized = try self.localized(content, zoneName: recipient.timezone)
        let zone = try self.zone(recipient.timezone)
        func local(_ text: String) -> String { LocalTimeText.substitute(in: text, zone: zone, zoneName: recipient.timezone) }
        let unsubscribeURL = recipient.unsubscribeToken.flatMap { token in site.unsubscribeURL.map { "\($0)/\(token)" } }
        let stopAllURL = recipient.stopAllToken.flatMap { token in site.unsubscribeURL.map { "\($0)/\(token)" } }
        let settingsURL = recipient.userID.map { site.settingsURL + "/" + settingsToken(userID: $0) }
        let footer = try self.footer(unsubscribeURL: unsubscribeURL, subject: recipient.unsubscribeSubject.map(local),
                                     stopAllURL: stopAllURL, settingsURL: settingsURL)
        var headers: [(name: String, value: String)] = []
        if let replyTo = site.replyTo {
            headers.append((name: "Reply-To", value: replyTo.address))
        }
        // RFC 8058: the one-click header unsubscribes from "this list", the message's own rule.
        if let listURL = unsubscribeURL ?? stopAllURL {
            headers.append((name: "List-Unsubscribe", value: "<\(listURL)>"))
            headers.append((name: "List-Unsubscribe-Post", value: "List-Unsubscribe=One-Click"))
        }
        let to = try Mailbox(address: recipient.email, name: recipient.name.isEmpty ? nil : recipient.name)
        return try composer.compose(
            to: to, subject: localized.subject, text: localized.text + footer.text,
            html: localized.html.map { $0 + footer.html }, date: now,
            inReplyTo: content.thread, references: content.thread.map { [$0] } ?? [], extraHeaders: headers)
    }

    private typealias Localized = (subject: String, text: String, html: String?)
    /// The content last localized, and its subject and bodies per zone: an event's recipients
    /// share one content, and most share a few zones, so each zone's text is written once.
    private var localizedContent: Localized?
    private var localizedByZone: [String: Localized] = [:]

    private func localized(_ content: RenderedContent, zoneName: String) throws -> Localized {
        // Strings of one content share storage, so comparing them is a pointer check.
        if let last = localizedContent, last.subject == content.subject, last.text == content.text, last.html == content.html {
            if let done = localizedByZone[zoneName] { return done }
        } else {
            localizedContent = (content.subject, content.text, content.html)
            localizedByZone = [:]
        }
        let zone = try self.zone(zoneName)
        func local(_ text: String) -> String { LocalTimeText.substitute(in: text, zone: zone, zoneName: zoneName) }
        let result = (subject: local(content.subject), text: local(content.text), html: content.html.map(local))
        localizedByZone[zoneName] = result
        return result
    }

    private var footerCache: (text: String, html: String)?
    private var settingsTokens: [Int64: String] = [:]

    /// The reader's personal settings link. The store keeps only a hash of each token, so a run
    /// makes a fresh one the first time it mails a user and uses it for all their messages of
    /// that run; older links stay valid until revoked or pushed out by newer ones. Composing
    /// touches no store: the sink stores the token's hash with each message.
    /// The settings link token this run made for `userID`, if a message for them was composed:
    /// the sink stores its hash with the message that carries it.
    func madeSettingsToken(userID: Int64) -> String? { settingsTokens[userID] }

    private func settingsToken(userID: Int64) -> String {
        if let token = settingsTokens[userID] { return token }
        let token = Store.newSettingsToken()
        settingsTokens[userID] = token
        return token
    }

    /// The footer says what each link does: "Stop notifications about <what the rule covers>"
    /// with the rule's token, "Stop all notifications from <SiteName>" with the user's, and the
    /// reader's own settings link.
    private func footer(unsubscribeURL: String?, subject: String?, stopAllURL: String?,
                        settingsURL: String?) throws -> (text: String, html: String) {
        let personal = unsubscribeURL != nil || stopAllURL != nil || settingsURL != nil
        if !personal, let footerCache { return footerCache }
        let key = PersonalFooter(unsubscribeURL: unsubscribeURL, subject: subject, stopAllURL: stopAllURL, settingsURL: settingsURL)
        if personal, let cached = personalFooters[key] { return cached }
        var context = siteVariables
        context["unsubscribe_url"] = .text(unsubscribeURL ?? "")
        context["unsubscribe_subject"] = .text(subject ?? "these notifications")
        context["stop_all_url"] = .text(stopAllURL ?? "")
        if let settingsURL { context["settings_url"] = .text(settingsURL) }
        let rendered = (text: try templates.template("footer.txt").render(context, escapeHTML: false),
                        html: try templates.template("footer.html").render(context, escapeHTML: true))
        if !personal {
            footerCache = rendered
        } else if personalFooters.count < Self.personalFootersKept {
            personalFooters[key] = rendered
        }
        return rendered
    }

    /// What makes a footer personal: a reader's links (per rule and user, the same for all of a
    /// run's messages to them) and the rule's subject.
    private struct PersonalFooter: Hashable {
        let unsubscribeURL: String?
        let subject: String?
        let stopAllURL: String?
        let settingsURL: String?
    }

    /// Personal footers rendered this run: a reader gets one message per event, each with the
    /// same footer, so rendering it once per reader and rule (not per message) saves two
    /// template renderings a message. Bounded, so memory stays small whatever the readers.
    private var personalFooters: [PersonalFooter: (text: String, html: String)] = [:]
    private static let personalFootersKept = 10_000
}
