/// `ezsubtree`: users with a rule on any node of the event's `path` hear about it.
///
/// Better than eZ's: one item per user however many of their rules match, the author is
/// skipped, disabled users are skipped, and several waiting versions of one node collapse into
/// the latest. Ingested events (`kaltura.*`, `panda.*`, ...) carry a `path` too and are handled
/// here with their own templates.
final class SubtreeHandler: EventHandler {
    static let handlerName = "ezsubtree"
    let name = SubtreeHandler.handlerName
    let origin = "built-in"

    func items(for events: [Event], renderer: MailRenderer, store: Store) throws -> [Int64: HandlerOutcome] {
        try eachEvent(events) { try items(for: $0, renderer: renderer, store: store) }
    }

    private func items(for event: Event, renderer: MailRenderer, store: Store) throws -> [HandlerItem] {
        var items: [HandlerItem] = []
        if Self.isDeletion(event), let node = event.param("node_id") ?? event.pathNodes.last {
            // Waiting digests leave out what happened to the node, or below it, before now.
            items.append(.nodeDeleted(node: node, at: event.createdAt))
            if event.type == EventType.delete { return items }
        }
        guard handles(event) else { return items }
        if event.params["quiet"]?.boolValue == true { return items }
        if event.type == EventType.publish, try store.isSuperseded(event, now: renderer.now) { return items }
        if Self.timeCritical.contains(event.type), let notice = event.param(ObjectLifecycle.supersedesParam).flatMap({ Int64($0) }) {
            // A session's announcement still waiting in digests names a time that is no longer
            // true; this mail, sent at once to the same subscribers, says what is.
            items.append(.withdrawDigestItems(ofEvent: notice))
        }
        let nodes = event.pathNodes
        guard !nodes.isEmpty else { return items }

        let author = renderer.site.notifyAuthor ? nil : event.param("author")
        var recipients = try subscribers(of: nodes, excluding: author, store: store)
        guard !recipients.isEmpty else { return items }
        let node = event.param("node_id") ?? nodes.last!
        let variables = try variables(event, node: node, renderer: renderer, store: store)
        // The query put each recipient's rule node here; the words for it are shared per node.
        var ruleSubjects: [String: String] = [:]
        for index in recipients.indices {
            let ruleNode = recipients[index].unsubscribeSubject ?? node
            if ruleSubjects[ruleNode] == nil { ruleSubjects[ruleNode] = Self.ruleSubject(ruleNode, event: event, nodes: nodes) }
            recipients[index].unsubscribeSubject = ruleSubjects[ruleNode]
        }
        var content = try renderer.render(bases: templateBases(for: event.type), handler: name, thread: renderer.threadID(node: node),
                                          variables, times: times(event))
        content.line = DigestLine(
            source: event.type, nodeID: node, path: nodes,
            name: event.param("name").map { MailRenderer.oneLine(LocalTimeText.strippingMarkers($0)) } ?? content.headline ?? content.subject,
            url: lineURL(event, node: node, renderer: renderer), happenedAt: event.createdAt)
        let delivery: Items.Delivery = Self.timeCritical.contains(event.type) ? .immediate : .recipientSetting
        items.append(.mail(Items(content: content, recipients: recipients, delivery: delivery)))
        return items
    }

    /// Mail about a session's time is never held for a digest: a reminder, a move or a cancellation
    /// read in the next morning's digest may come after the session.
    static let timeCritical: Set<String> = [
        ScheduledReminder.eventType, KalturaHTTPNotification.rescheduledType, KalturaHTTPNotification.cancelledType,
    ]

    /// `ezdelete` (a node was deleted; mails nobody), and a source's deletions (`kaltura.entry_delete`).
    static func isDeletion(_ event: Event) -> Bool {
        if event.type == EventType.delete { return true }
        let last = event.type.split(separator: ".").last ?? ""
        return event.type.contains(".") && (last.hasSuffix("_delete") || last.hasSuffix("_deleted") || last == "deleted")
    }

    /// What a subtree rule on `ruleNode` covers, in words for the footer's link:
    /// `"Spring news" and everything below it`, or `node 60 and everything below it` when the
    /// event does not name that node.
    static func ruleSubject(_ ruleNode: String, event: Event, nodes: [String]) -> String {
        var known: String?
        if ruleNode == (event.param("node_id") ?? nodes.last) {
            known = event.param("name")
        } else if nodes.count >= 2, ruleNode == nodes[nodes.count - 2] {
            known = event.param("parent_name")
        }
        if let known = known.map(MailRenderer.oneLine).map(LocalTimeText.strippingMarkers), !known.isEmpty {
            return "\"\(known)\" and everything below it"
        }
        return ruleNode.allSatisfy(\.isNumber) ? "node \(ruleNode) and everything below it" : "\"\(ruleNode)\" and everything below it"
    }

    /// The event's times as placeholders, written in each reader's zone: `time_text` (when it
    /// happened), and for each `<name>_time` parameter (ISO 8601, from intake) `<name>_text` and
    /// `<name>_clock`, which replace the UTC wording stored at intake.
    private func times(_ event: Event) -> [String: TemplateValue] {
        var times: [String: TemplateValue] = ["time_text": .text(LocalTimeText.placeholder(event.createdAt, style: .full))]
        for (key, value) in event.params.objectValue ?? [:] where key.hasSuffix("_time") {
            guard let text = value.stringValue, let seconds = try? Timestamp.parse(text) else { continue }
            let name = key.dropLast("_time".count)
            times["\(name)_text"] = .text(LocalTimeText.placeholder(seconds, style: .full))
            times["\(name)_clock"] = .text(LocalTimeText.placeholder(seconds, style: .clock))
        }
        return times
    }

    /// ezpublish events, and any other event with a path except the kernel's own types.
    private func handles(_ event: Event) -> Bool {
        switch event.type {
        case EventType.publish: return true
        case EventType.collaboration, EventType.currentTime: return false
        default: return event.param("path") != nil
        }
    }

    /// The path's subscribers but the author; each recipient's rule node stands in their
    /// `unsubscribeSubject` until `handle` puts the words for it there.
    private func subscribers(of nodes: [String], excluding author: String?, store: Store) throws -> [Recipient] {
        let author = author.map(AddressMatch.init)
        return try store.subscribers(ofPath: nodes).compactMap { subscriber in
            if let author, author.matches(subscriber.recipient.email) { return nil }
            var recipient = subscriber.recipient
            recipient.unsubscribeSubject = subscriber.ruleNode
            return recipient
        }
    }

    /// ezpublish uses eZ's wording; an ingested type tries its own templates, then its source's,
    /// then the generic event templates.
    private func templateBases(for type: String) -> [String] {
        if type == EventType.publish { return ["ezsubtree"] }
        var bases = [type]
        if let source = type.split(separator: ".").first, String(source) != type { bases.append(String(source)) }
        bases.append("event")
        return bases
    }

    private func variables(_ event: Event, node: String, renderer: MailRenderer, store: Store) throws -> [String: TemplateValue] {
        var variables: [String: TemplateValue] = [:]
        if let object = event.params.objectValue {
            for (key, value) in object {
                if let text = value.stringValue { variables[key] = .text(text) }
            }
            if let links = object["links"]?.arrayValue {
                variables["links"] = .list(links.compactMap { link in
                    guard let url = link["url"]?.stringValue, Self.isWebURL(url) else { return nil }
                    return ["title": .text(link["title"]?.stringValue ?? url), "url": .text(url)]
                })
            }
        }
        let version = Int(event.param("version") ?? "") ?? 1
        variables["node_id"] = .text(node)
        variables["type"] = .text(event.type)
        variables["is_update"] = .bool(version > 1)
        variables["class"] = .text(event.param("class") ?? "Item")
        variables["name"] = .text(event.param("name") ?? "node \(node)")
        variables["author_name"] = .text(try authorName(event, store: store))
        variables["url"] = .text(event.param("url").map { absolute($0, renderer: renderer, node: node) } ?? "\(renderer.site.siteURL)/content/view/full/\(node)")
        return variables
    }

    /// The author by name: the event's `author_name`, else the name the store knows for the
    /// `author` address (`Ann Editor`), else the address itself.
    private func authorName(_ event: Event, store: Store) throws -> String {
        if let name = event.param("author_name"), !name.isEmpty { return name }
        guard let author = event.param("author"), !author.isEmpty else { return "" }
        if let cached = authorNames[author.lowercased()] { return cached }
        let name = try store.displayName(email: author) ?? author
        authorNames[author.lowercased()] = name
        return name
    }

    /// Per run (a handler lives for one run): authors repeat across a batch.
    private var authorNames: [String: String] = [:]

    /// A digest line's link: for content published on the site its page; for anything else the
    /// source's own "watch" link (from its link template), else the event's `url`. A webhook's
    /// entry or video has no page on the site, so without a link of its own its line has none
    /// (rather than one to a page that does not exist).
    private func lineURL(_ event: Event, node: String, renderer: MailRenderer) -> String? {
        if event.type == EventType.publish {
            return event.param("url").map { absolute($0, renderer: renderer, node: node) } ?? "\(renderer.site.siteURL)/content/view/full/\(node)"
        }
        if let watch = event.param("watch_url"), Self.isWebURL(watch) { return watch }
        guard let url = event.param("url") else { return nil }
        if Self.isWebURL(url) { return url }
        return url.hasPrefix("/") && !url.hasPrefix("//") ? renderer.site.siteURL + url : nil
    }

    /// A link in mail is http(s) or a path on the site; anything else (`javascript:`, `data:`)
    /// falls back to the node's own page.
    private func absolute(_ url: String, renderer: MailRenderer, node: String) -> String {
        if Self.isWebURL(url) { return url }
        if url.hasPrefix("/") && !url.hasPrefix("//") { return renderer.site.siteURL + url }
        return "\(renderer.site.siteURL)/content/view/full/\(node)"
    }

    static func isWebURL(_ url: String) -> Bool {
        let lower = url.lowercased()
        return (lower.hasPrefix("https://") || lower.hasPrefix("http://")) && !url.contains(where: { $0.isWhitespace })
    }
}
