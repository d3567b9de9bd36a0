/// `ezsubtree`: users with a rule on any node of the event's `path` hear about it.
///
/// Better than eZ's: one item per user however many of their rules match, the author is
/// skipped, disabled users are skipped, and several waiting versions of one node collapse into
/// the latest. Ingested events (`kaltura.*`, `panda.*`, ...) carry a `path` too and are handled
/// here with their own templates.
final class SubtreeHandler: EventHandler {
    let name = "ezsubtree"
    let origin = "built-in"

    func handle(_ event: Event, run: RunContext) throws -> HandlerOutcome {
        guard handles(event) else { return .done([]) }
        if event.params["quiet"]?.boolValue == true { return .done([]) }
        if event.type == EventType.publish, try run.store.isSuperseded(event, now: run.now) { return .done([]) }
        if Self.timeCritical.contains(event.type), let notice = event.param(ObjectLifecycle.supersedesParam).flatMap({ Int64($0) }) {
            // A session's announcement still waiting in digests names a time that is no longer
            // true; this mail, sent at once to the same subscribers, says what is.
            try run.store.withdrawDigestItems(ofEvent: notice)
        }
        let nodes = event.pathNodes
        guard !nodes.isEmpty else { return .done([]) }

        let author = run.site.notifyAuthor ? nil : event.param("author")
        let recipients = try subscribers(of: nodes, excluding: author, store: run.store)
        guard !recipients.isEmpty else { return .done([]) }
        let node = event.param("node_id") ?? nodes.last!
        let content = try run.render(bases: templateBases(for: event.type), handler: name, thread: run.threadID(node: node),
                                     variables(event, node: node, run: run))
        let delivery: Items.Delivery = Self.timeCritical.contains(event.type) ? .immediate : .recipientSetting
        return .done([Items(content: content, recipients: recipients, delivery: delivery)])
    }

    /// Mail about a session's time is never held for a digest: a reminder, a move or a cancellation
    /// read in the next morning's digest may come after the session.
    static let timeCritical: Set<String> = [
        ScheduledReminder.eventType, KalturaHTTPNotification.rescheduledType, KalturaHTTPNotification.cancelledType,
    ]

    /// ezpublish events, and any other event with a path except the kernel's own types.
    private func handles(_ event: Event) -> Bool {
        switch event.type {
        case EventType.publish: return true
        case EventType.collaboration, EventType.currentTime: return false
        default: return event.param("path") != nil
        }
    }

    /// One indexed query: rules on the path's nodes, joined to enabled users and their digest
    /// settings. The deepest matching rule provides the unsubscribe token.
    private func subscribers(of nodes: [String], excluding author: String?, store: Store) throws -> [Recipient] {
        let nodeList = JSONValue.array(nodes.map { .string($0) }).serialized
        var byUser: [Int64: Recipient] = [:]
        var order: [Int64] = []
        try store.db.forEach("""
            SELECT u.id, u.email, u.name, u.timezone, r.token, d.frequency, d.day, d.minute_of_day
            FROM json_each(?) AS path
            JOIN subtree_rule AS r ON r.node_id = path.value
            JOIN user AS u ON u.id = r.user_id AND u.enabled = 1
            LEFT JOIN digest_setting AS d ON d.user_id = u.id
            ORDER BY path.key DESC
            """, [nodeList]) { row in
            let id = row.int64(0)
            guard byUser[id] == nil else { return }  // rows come deepest rule first
            let email = row.string(1)
            if let author, email.caseInsensitiveCompare(author) == .orderedSame { return }
            let digest = row.isNull(5) ? nil
                : try DigestSchedule(storageFrequency: row.string(5), day: row.optionalInt(6), minuteOfDay: row.int(7))
            byUser[id] = Recipient(userID: id, email: email, name: row.string(2), timezone: row.string(3),
                                   digest: digest, unsubscribeToken: row.string(4))
            order.append(id)
        }
        return order.map { byUser[$0]! }
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

    private func variables(_ event: Event, node: String, run: RunContext) -> [String: TemplateValue] {
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
        variables["author_name"] = .text(event.param("author_name") ?? event.param("author") ?? "")
        variables["url"] = .text(event.param("url").map { absolute($0, run: run, node: node) } ?? "\(run.site.siteURL)/content/view/full/\(node)")
        return variables
    }

    /// A link in mail is http(s) or a path on the site; anything else (`javascript:`, `data:`)
    /// falls back to the node's own page.
    private func absolute(_ url: String, run: RunContext, node: String) -> String {
        if Self.isWebURL(url) { return url }
        if url.hasPrefix("/") && !url.hasPrefix("//") { return run.site.siteURL + url }
        return "\(run.site.siteURL)/content/view/full/\(node)"
    }

    static func isWebURL(_ url: String) -> Bool {
        let lower = url.lowercased()
        return (lower.hasPrefix("https://") || lower.hasPrefix("http://")) && !url.contains(where: { $0.isWhitespace })
    }
}
