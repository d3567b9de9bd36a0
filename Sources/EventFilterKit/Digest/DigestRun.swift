/// The digest stage of a run (`ezgeneraldigest` in notification.ini turns it on): on each
/// `ezcurrenttime` event, every user whose digest is due gets one message with everything due:
/// a compact list grouped by handler (in notification.ini order) and source, a heading per group
/// and one line per item (name, link, time in the reader's zone), newest first, at most
/// `[GeneralDigestSettings] MaxItems` per group and then "and N more", and at most three times
/// that in all, the groups past it counted in one last line. Items of one node collapse to the
/// latest. Items whose rule was removed or whose node was deleted since are left out; a digest
/// with nothing left is not sent. Items leave in the same transaction that queues the digest,
/// so a digest is never sent twice nor lost. Missed runs are caught up: everything due up to
/// the event's time goes.
///
/// The filter runs it when it reaches the tick, with every earlier event committed and before
/// the tick's own transaction, one transaction per user: a run of many large digests never holds
/// the write lock for more than one of them, so `ingest`, `cgi` and `event add` wait at most
/// that long. Its outcome is the tick's outcome for `ezgeneraldigest`.
///
///     let digests = DigestRun(store: store, renderer: renderer, sink: sink, handlerOrder: ["ezsubtree"])
///     let outcome = try digests.sendDigests(dueAt: tick)
final class DigestRun {
    /// The name notification.ini lists (eZ's stock notification.ini has it), and under which the
    /// tick's outcome is recorded.
    static let handlerName = "ezgeneraldigest"

    let store: Store
    let renderer: MailRenderer
    let sink: ItemSink
    /// Handler names in processing order, for the order of digest sections.
    let handlerOrder: [String]

    init(store: Store, renderer: MailRenderer, sink: ItemSink, handlerOrder: [String]) {
        self.store = store
        self.renderer = renderer
        self.sink = sink
        self.handlerOrder = handlerOrder
    }

    /// SQLite's write-ahead log may grow to this many pages (40 MB of 4 KiB pages) while the
    /// digests are sent before it is checkpointed: a few readers' digests per checkpoint.
    static let checkpointPages = 10_000

    private static let sectionTitles = [
        "ezsubtree": "New and updated content",
        "ezcollaborationnotification": "Collaboration",
    ]

    /// Sends every digest due at the tick's time. A storage error stops the run; a digest that
    /// cannot be composed fails alone and makes the outcome a failure naming it.
    func sendDigests(dueAt tick: Event) throws -> HandlerOutcome {
        let time = Int64(tick.param("time") ?? "") ?? tick.createdAt
        let users = try store.dueDigestRecipients(at: time)
        // Nothing due: nothing to write, and no checkpoint for it (most ticks).
        guard !users.isEmpty else { return .done([]) }
        // Each user's digest in a transaction (or, in a dry run, a savepoint) of its own: one
        // digest that cannot be composed fails alone. Its items stay due, and retrying this event
        // sends only what is still due, so the digests already queued are not sent again.
        var failures: [String] = []
        // Runs sharing a PostgreSQL store claim each user's digest: a user another run is sending
        // to is left for the end, then sent only what that run left (items of a later due time;
        // the items' removal count tells which went), so each user gets one digest per due time.
        var busy: [Recipient] = []
        let attempt = { (user: Recipient, send: () throws -> Void) throws in
            do {
                try send()
            } catch let error as any StorageError {
                throw error
            } catch {
                failures.append("digest for \(user.email): \(error)")
            }
        }
        try store.checkpointingEvery(pages: Self.checkpointPages) {
            for user in users {
                try attempt(user) {
                    if !(try store.claimingDigest(of: user.userID!, { try sendDigest(to: user, dueAt: time) })) { busy.append(user) }
                }
            }
            for user in busy {
                try attempt(user) { try sendDigest(to: user, dueAt: time) }
            }
        }
        if !failures.isEmpty {
            return .failed(failures.count == 1 ? failures[0] : "\(failures[0]) (and \(failures.count - 1) more)")
        }
        return .done([])
    }

    private struct Group {
        let handler: String
        let source: String
        var entries: [DigestEntry]
    }

    /// A user's digest, composed from the items due when it was read.
    private struct Digest {
        /// The items' contents (a reader has one item per content).
        let contentIDs: [Int64]
        /// nil: every item was left out (rule removed, node deleted); they go, nothing is sent.
        let message: ComposedMessage?
        let subject: String
    }

    /// The items changed again while the write lock was held: cannot happen, but never sends twice.
    private struct ItemsChanged: Error, CustomStringConvertible {
        var description: String { "the digest's items changed while it was written" }
    }

    /// Reading the items and composing the message (most of the work for a large digest) happen
    /// before the write lock is taken; the transaction only removes the items and queues the
    /// message. If the items changed in between (a schedule change, say), it is done again
    /// inside the transaction.
    private func sendDigest(to user: Recipient, dueAt time: Int64) throws {
        guard let digest = try composeDigest(to: user, dueAt: time) else { return }
        var sent = false
        do {
            try sink.inTransaction {
                sent = try sink.sendDigest(digest.message, subject: digest.subject, to: user, dueAt: time,
                                           contentIDs: digest.contentIDs)
            }
        } catch is ItemSink.DigestItemsChanged {
            // Another PostgreSQL session committed an item for this reader between the check and
            // the removal; the transaction was rolled back, so compose again as for a change
            // found by the check, rather than fail the reader's digest until the next tick.
            sent = false
        }
        guard !sent else { return }
        try sink.inTransaction {
            guard let fresh = try composeDigest(to: user, dueAt: time) else { return }
            guard try sink.sendDigest(fresh.message, subject: fresh.subject, to: user, dueAt: time,
                                      contentIDs: fresh.contentIDs) else { throw ItemsChanged() }
        }
    }

    private func composeDigest(to user: Recipient, dueAt time: Int64) throws -> Digest? {
        let entries = try store.dueDigestEntries(userID: user.userID!, dueAt: time, ruleHandler: SubtreeHandler.handlerName)
        guard !entries.isEmpty else { return nil }
        let groups = Self.groups(entries.filter { !$0.stale })
            .sorted { (rank($0.handler), $0.handler, $0.source) < (rank($1.handler), $1.handler, $1.source) }
        let contentIDs = entries.map(\.contentID)
        // Only items whose rule was removed or whose node was deleted: nothing to tell; they go.
        guard !groups.isEmpty else { return Digest(contentIDs: contentIDs, message: nil, subject: "") }

        let zone = try renderer.zone(user.timezone)
        let maxItems = renderer.site.digestMaxItems
        // However many groups there are (a source per event type), the whole digest shows at
        // most three groups' worth of lines; the groups past that are one count at the end.
        var budget = Self.groupsShownInFull * maxItems
        var count = 0, otherItems = 0, otherGroups = 0
        let sections: [[String: TemplateValue]] = groups.compactMap { group in
            count += group.entries.count
            guard budget > 0 else {
                otherItems += group.entries.count
                otherGroups += 1
                return nil
            }
            let shown = group.entries.prefix(min(maxItems, budget))
            budget -= shown.count
            let more = group.entries.count - shown.count
            let title = title(handler: group.handler, source: group.source)
            return [
                "title": .text(title),
                "underline": .text(String(repeating: "-", count: title.count)),
                "items": .list(shown.map { entry in
                    // A name made from a subject may hold a time: written in the reader's zone here.
                    ["name": .text(Self.lineName(LocalTimeText.substitute(in: entry.name, zone: zone, zoneName: user.timezone))),
                     "url": .text(entry.url ?? ""),
                     "time_text": .text(LocalTimeText.format(entry.happenedAt, style: .full, zone: zone, zoneName: user.timezone))]
                }),
                "more": .text(more > 0 ? String(more) : ""),
                "more_url": .text(renderer.site.siteURL),
            ]
        }
        let date = LocalTimeText.format(renderer.now, style: .date, zone: zone, zoneName: user.timezone)
        let content = try renderer.render(bases: ["ezgeneraldigest"], handler: Self.handlerName, thread: nil, [
            "date": .text(date), "count": .text(String(count)), "items_word": .text(count == 1 ? "item" : "items"),
            "recipient_name": .text(user.name), "sections": .list(sections),
            "other_more": .text(otherItems > 0 ? String(otherItems) : ""),
            "other_groups": .text(otherGroups == 1 ? "1 other group" : "\(otherGroups) other groups"),
            "more_url": .text(renderer.site.siteURL),
        ])
        return Digest(contentIDs: contentIDs,
                      message: try renderer.compose(content, to: Self.honestFooter(user, groups: groups)),
                      subject: try renderer.localizedSubject(content, to: user))
    }

    /// The digest's own link removes the reader's subtree rules: when a custom handler's items
    /// are in the digest too (the handler chose the reader, no rule did), the link says it stops
    /// what they follow, not everything in the digest.
    private static func honestFooter(_ user: Recipient, groups: [Group]) -> Recipient {
        guard groups.contains(where: { $0.handler != SubtreeHandler.handlerName }) else { return user }
        var user = user
        user.unsubscribeSubject = "everything you follow in these digests"
        return user
    }

    /// Groups by handler and source, in notification.ini order; within a group the items of one
    /// node collapse to the latest, newest first.
    private static func groups(_ entries: [DigestEntry]) -> [Group] {
        var groups: [String: Group] = [:]
        for entry in entries {
            let source = String(entry.source.split(separator: ".").first ?? "")
            groups["\(entry.handler)\u{0}\(source)", default: Group(handler: entry.handler, source: source, entries: [])]
                .entries.append(entry)
        }
        return groups.values.map { group in
            var latest: [String: DigestEntry] = [:]
            var loose: [DigestEntry] = []
            for entry in group.entries {
                guard let node = entry.nodeID else { loose.append(entry); continue }
                if let kept = latest[node], (kept.happenedAt, kept.contentID) > (entry.happenedAt, entry.contentID) { continue }
                latest[node] = entry
            }
            let newestFirst = (Array(latest.values) + loose).sorted { ($0.happenedAt, $0.contentID) > ($1.happenedAt, $1.contentID) }
            return Group(handler: group.handler, source: group.source, entries: newestFirst)
        }
    }

    /// A line's name, at most `lineNameLength` characters: a name may be 10,000 bytes, and a list
    /// of such lines would not be compact. The item's own page has it in full.
    static func lineName(_ name: String) -> String {
        name.count > lineNameLength ? name.prefix(lineNameLength - 1) + "\u{2026}" : name
    }

    static let lineNameLength = 160

    /// The digest's whole budget of lines, in groups of `MaxItems`.
    static let groupsShownInFull = 3

    private static let sourceTitles = ["kaltura": "Kaltura", "panda": "Panda", "enablex": "EnableX"]

    private func title(handler: String, source: String) -> String {
        if handler == SubtreeHandler.handlerName && !source.isEmpty && source != EventType.publish {
            return Self.sourceTitles[source] ?? source
        }
        return Self.sectionTitles[handler] ?? handler
    }

    private func rank(_ handler: String) -> Int {
        handlerOrder.firstIndex(of: handler) ?? handlerOrder.count
    }
}
