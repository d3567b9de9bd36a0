import Foundation

/// What one run shares between handlers: the store, the settings, the templates, the time,
/// and the sink that turns items into digest rows or queued mail.
final class RunContext {
    let root: URL
    let store: Store
    let settings: Settings
    let site: SiteConfiguration
    let templates: TemplateLibrary
    let composer: MessageComposer
    var outbox: Outbox
    /// The run's `--now`, in Unix seconds: every time decision uses it.
    let now: Int64
    /// Counters for `run --verbose` and the run log.
    var messagesQueued = 0
    var digestItems = 0
    var digestsSent = 0
    /// All three, to put back when a handler's savepoint is rolled back.
    var counters: (Int, Int, Int) {
        get { (messagesQueued, digestItems, digestsSent) }
        set { (messagesQueued, digestItems, digestsSent) = newValue }
    }
    /// Rows written so far (messages and digest items), to size the filter's transactions.
    var rowsWritten: Int { messagesQueued + digestItems }
    private var nextDigestTimes: [Int64: Int64] = [:]

    init(root: URL, store: Store, settings: Settings, site: SiteConfiguration, now: Int64) throws {
        self.root = root
        self.store = store
        self.settings = settings
        self.site = site
        self.now = now
        self.templates = TemplateLibrary(root: root, extensions: try settings.activeExtensions(), builtins: BuiltinTemplates.all)
        self.composer = MessageComposer(from: site.sender, messageIDDomain: site.messageIDDomain)
        self.outbox = Outbox(store: store)
    }

    // MARK: Templates

    /// Renders `<base>/subject.txt`, `body.txt` and `body.html`, trying each base in turn for each
    /// file, so an extension may override one file of a set.
    func render(bases: [String], handler: String, thread: String?, _ variables: [String: TemplateValue]) throws -> RenderedContent {
        var context = siteVariables
        context.merge(variables) { _, new in new }
        let subject = try template(bases, "subject.txt").render(context, escapeHTML: false)
        let text = try template(bases, "body.txt").render(context, escapeHTML: false)
        let html = try optionalTemplate(bases, "body.html")?.render(context, escapeHTML: true)
        return RenderedContent(
            handler: handler,
            subject: Self.oneLine(subject),
            text: text, html: html, thread: thread)
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

    // MARK: The sink

    /// Writes what a handler produced for `event`: a digest row for each recipient with a
    /// schedule (unless the items must go at once), a queued message for everyone else.
    func accept(_ items: Items, event: Event) throws {
        var contentID: Int64?
        for recipient in items.recipients {
            if items.delivery == .recipientSetting, let userID = recipient.userID, let schedule = recipient.digest {
                let id = try contentID ?? storeContent(items.content, event: event)
                contentID = id
                let sendAt = try nextDigestTime(userID: userID, schedule: schedule, timezone: recipient.timezone)
                try store.db.execute("INSERT OR IGNORE INTO digest_item(user_id, content_id, send_at) VALUES (?, ?, ?)",
                                     [userID, id, sendAt])
                digestItems += 1
            } else {
                try queueMessage(items.content, to: recipient)
            }
        }
    }

    private func storeContent(_ content: RenderedContent, event: Event) throws -> Int64 {
        try store.db.execute("""
            INSERT INTO content(event_id, handler, subject, text, html, thread, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
            """, [event.id, content.handler, content.subject, content.text, content.html, content.thread, now])
        return store.db.lastInsertRowID
    }

    /// Computed once per user and run: every item of this run joins the same digest.
    private func nextDigestTime(userID: Int64, schedule: DigestSchedule, timezone: String) throws -> Int64 {
        if let cached = nextDigestTimes[userID] { return cached }
        let time = schedule.nextSendTime(atOrAfter: now, in: try Zone.named(timezone))
        nextDigestTimes[userID] = time
        return time
    }

    /// Composes one message for one recipient, with the footer and unsubscribe headers that are
    /// theirs alone, and queues it.
    func queueMessage(_ content: RenderedContent, to recipient: Recipient) throws {
        try enqueue(try compose(content, to: recipient), subject: content.subject, to: recipient)
    }

    /// The message `queueMessage` would queue, composed without touching the store.
    func compose(_ content: RenderedContent, to recipient: Recipient) throws -> ComposedMessage {
        let unsubscribeURL = recipient.unsubscribeToken.flatMap { token in site.unsubscribeURL.map { "\($0)/\(token)" } }
        let settingsURL = recipient.userID.map { site.settingsURL + "/" + settingsToken(userID: $0) }
        let footer = try self.footer(unsubscribeURL: unsubscribeURL, settingsURL: settingsURL)
        var headers: [(name: String, value: String)] = []
        if let unsubscribeURL {
            headers.append((name: "List-Unsubscribe", value: "<\(unsubscribeURL)>"))
            headers.append((name: "List-Unsubscribe-Post", value: "List-Unsubscribe=One-Click"))
        }
        let to = try Mailbox(address: recipient.email, name: recipient.name.isEmpty ? nil : recipient.name)
        return try composer.compose(
            to: to, subject: content.subject, text: content.text + footer.text,
            html: content.html.map { $0 + footer.html }, date: now,
            inReplyTo: content.thread, references: content.thread.map { [$0] } ?? [], extraHeaders: headers)
    }

    /// Queues a composed message for `recipient`.
    func enqueue(_ message: ComposedMessage, subject: String, to recipient: Recipient) throws {
        if let userID = recipient.userID, let token = settingsTokens[userID] {
            // In the message's transaction: the link it carries is stored with it, or neither is.
            try store.keepSettingsToken(token, userID: userID, now: now)
        }
        try outbox.enqueue(recipient: recipient.email, sender: site.sender.address, subject: subject, message: message, now: now)
        messagesQueued += 1
    }

    private var footerCache: [String: (text: String, html: String)] = [:]
    private var settingsTokens: [Int64: String] = [:]

    /// The reader's personal settings link. The store keeps only a hash of each token, so a run
    /// makes a fresh one the first time it mails a user and uses it for all their messages of
    /// that run; older links stay valid until revoked or pushed out by newer ones. Composing
    /// touches no store: `enqueue` stores the token's hash with each message.
    private func settingsToken(userID: Int64) -> String {
        if let token = settingsTokens[userID] { return token }
        let token = Store.newSettingsToken()
        settingsTokens[userID] = token
        return token
    }

    private func footer(unsubscribeURL: String?, settingsURL: String?) throws -> (text: String, html: String) {
        let personal = unsubscribeURL != nil || settingsURL != nil
        if !personal, let cached = footerCache[""] { return cached }
        var context = siteVariables
        context["unsubscribe_url"] = .text(unsubscribeURL ?? "")
        if let settingsURL { context["settings_url"] = .text(settingsURL) }
        let rendered = (text: try templates.template("footer.txt").render(context, escapeHTML: false),
                        html: try templates.template("footer.html").render(context, escapeHTML: true))
        // Tokens are per rule and per user, so only the token-free footer is worth keeping.
        if !personal { footerCache[""] = rendered }
        return rendered
    }
}
