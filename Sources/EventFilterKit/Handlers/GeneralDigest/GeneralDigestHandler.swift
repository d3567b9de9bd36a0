/// `ezgeneraldigest`: on each `ezcurrenttime` event, every user whose digest is due gets one
/// message with everything due, grouped by handler (in notification.ini order) and ordered by
/// event. A user's items leave in the same transaction that queues their digest, so a digest is
/// never sent twice nor lost. Missed runs are caught up: everything due up to the event's time goes.
///
/// The digests are written in `prepareTick`, before the tick's transaction, one transaction per
/// user: a run of many large digests never holds the write lock for more than one of them, so
/// `ingest`, `cgi` and `event add` wait at most that long. `handle` then reports the outcome.
final class GeneralDigestHandler: EventHandler {
    let name = "ezgeneraldigest"
    let origin = "built-in"
    /// Handler names in processing order, for the order of digest sections.
    var handlerOrder: [String] = []
    private var results: [Int64: HandlerOutcome] = [:]

    private static let sectionTitles = [
        "ezsubtree": "New and updated content",
        "ezcollaborationnotification": "Collaboration",
    ]

    func prepareTick(_ tick: Event, run: RunContext) throws {
        results[tick.id] = try sendDigests(for: tick, run: run)
    }

    func handle(_ event: Event, run: RunContext) throws -> HandlerOutcome {
        guard event.type == EventType.currentTime else { return .done([]) }
        return results.removeValue(forKey: event.id) ?? .failed("\(name) was not given event \(event.id)")
    }

    private func sendDigests(for event: Event, run: RunContext) throws -> HandlerOutcome {
        let time = Int64(event.param("time") ?? "") ?? event.createdAt
        let users = try run.store.db.map("""
            SELECT u.id, u.email, u.name, u.timezone, u.token FROM user AS u
            WHERE u.id IN (SELECT user_id FROM digest_item WHERE send_at <= ?) AND u.enabled = 1 ORDER BY u.id
            """, [time]) { Recipient(userID: $0.int64(0), email: $0.string(1), name: $0.string(2), timezone: $0.string(3), digest: nil,
                                unsubscribeToken: $0.string(4)) }
        // Each user's digest in a transaction (or, in a dry run, a savepoint) of its own: one
        // digest that cannot be composed fails alone. Its items stay due, and retrying this event
        // sends only what is still due, so the digests already queued are not sent again.
        var failures: [String] = []
        for user in users {
            let counters = run.counters
            do {
                try sendDigest(to: user, dueAt: time, run: run)
            } catch let error as DatabaseError {
                throw error
            } catch {
                run.counters = counters
                failures.append("digest for \(user.email): \(error)")
            }
        }
        if !failures.isEmpty {
            return .failed(failures.count == 1 ? failures[0] : "\(failures[0]) (and \(failures.count - 1) more)")
        }
        return .done([])
    }

    private struct Entry {
        let itemID: Int64
        let contentID: Int64
        let handler: String
        let subject: String
        let text: String
        let html: String?
    }

    /// A user's digest, composed from the items due when it was read.
    private struct Digest {
        let itemIDs: [Int64]
        let contentIDs: [Int64]
        let message: ComposedMessage
        let subject: String
    }

    /// The items changed between reading and writing (a schedule change, say): compose again.
    private struct ItemsChanged: Error {}

    /// Reading the items and composing the message (most of the work for a large digest) happen
    /// before the write lock is taken; the transaction only removes the items and queues the
    /// message. If the items changed in between, it is done again inside the transaction.
    private func sendDigest(to user: Recipient, dueAt time: Int64, run: RunContext) throws {
        guard let digest = try composeDigest(to: user, dueAt: time, run: run) else { return }
        do {
            try run.store.db.inTransaction {
                try run.store.db.inSavepoint { try write(digest, to: user, run: run) }
            }
        } catch is ItemsChanged {
            try run.store.db.inTransaction {
                try run.store.db.inSavepoint {
                    guard let fresh = try composeDigest(to: user, dueAt: time, run: run) else { return }
                    try write(fresh, to: user, run: run)
                }
            }
        }
    }

    private func write(_ digest: Digest, to user: Recipient, run: RunContext) throws {
        let itemIDs = JSONValue.array(digest.itemIDs.map { .number(Double($0)) }).serialized
        try run.store.db.execute("DELETE FROM digest_item WHERE id IN (SELECT value FROM json_each(?))", [itemIDs])
        guard run.store.db.changes == digest.itemIDs.count else { throw ItemsChanged() }
        try run.enqueue(digest.message, subject: digest.subject, to: user)
        run.digestsSent += 1
        let contentIDs = JSONValue.array(digest.contentIDs.map { .number(Double($0)) }).serialized
        try run.store.db.execute("""
            DELETE FROM content WHERE id IN (SELECT value FROM json_each(?))
              AND NOT EXISTS (SELECT 1 FROM digest_item WHERE digest_item.content_id = content.id)
            """, [contentIDs])
    }

    private func composeDigest(to user: Recipient, dueAt time: Int64, run: RunContext) throws -> Digest? {
        let entries = try run.store.db.map("""
            SELECT i.id, c.id, c.handler, c.subject, c.text, c.html FROM digest_item AS i JOIN content AS c ON c.id = i.content_id
            WHERE i.user_id = ? AND i.send_at <= ? ORDER BY c.event_id, c.id
            """, [user.userID!, time]) {
            Entry(itemID: $0.int64(0), contentID: $0.int64(1), handler: $0.string(2), subject: $0.string(3),
                  text: $0.string(4), html: $0.optionalString(5))
        }
        guard !entries.isEmpty else { return nil }

        let grouped = Dictionary(grouping: entries, by: \.handler)
        let handlers = grouped.keys.sorted { (rank($0), $0) < (rank($1), $1) }
        let sections: [[String: TemplateValue]] = handlers.map { handler in
            [
                "title": .text(Self.sectionTitles[handler] ?? handler),
                "items": .list(grouped[handler]!.map { entry in
                    ["subject": .text(entry.subject), "text": .text(entry.text),
                     "html": entry.html.map(TemplateValue.html) ?? .text(entry.text)]
                }),
            ]
        }
        let zone = try Zone.named(user.timezone)
        let local = Zone.local(run.now, in: zone)
        let date = String(format: "%04d-%02d-%02d", local.year, local.month, local.day)
        let content = try run.render(bases: ["ezgeneraldigest"], handler: name, thread: nil, [
            "date": .text(date), "count": .text(String(entries.count)), "sections": .list(sections),
        ])
        return Digest(itemIDs: entries.map(\.itemID), contentIDs: Array(Set(entries.map(\.contentID))).sorted(),
                      message: try run.compose(content, to: user), subject: content.subject)
    }

    private func rank(_ handler: String) -> Int {
        handlerOrder.firstIndex(of: handler) ?? handlerOrder.count
    }
}
