import Foundation

/// Where handlers' items go: a digest row for each recipient with a schedule (unless the items
/// must go at once, or no digest stage runs to send it), a queued message for everyone else; and
/// the store notes a handler asks for
/// (a deleted node, a withdrawn announcement). It counts what it wrote only once the transaction
/// that holds it committed, so a rolled-back savepoint or transaction is never counted and
/// nothing has to put counters back.
///
///     let sink = ItemSink(store: store, outbox: outbox, renderer: renderer, digests: plan.digests)
///     try sink.inTransaction {
///         try sink.accept(items, event: event)
///     }
///     print(sink.committed.messagesQueued)
final class ItemSink {
    /// What the sink wrote: for `run --verbose` and the run log.
    struct Counts: Equatable {
        var messagesQueued = 0
        var digestItems = 0
        var digestsSent = 0
        /// Rows written (messages and digest items), to size the filter's transactions.
        var rows: Int { messagesQueued + digestItems }

        static func + (left: Counts, right: Counts) -> Counts {
            Counts(messagesQueued: left.messagesQueued + right.messagesQueued, digestItems: left.digestItems + right.digestItems,
                   digestsSent: left.digestsSent + right.digestsSent)
        }
    }

    let store: Store
    let outbox: Outbox
    let renderer: MailRenderer
    /// False when notification.ini lists no `ezgeneraldigest`: nothing would ever send a digest
    /// row, so a reader with a schedule gets the item at once rather than never.
    let digests: Bool
    /// What committed transactions hold (in a dry run: what they would hold).
    private(set) var committed = Counts()
    /// What the open transaction holds so far: counted once it commits.
    private(set) var pending = Counts()
    private var nextDigestTimes: [Int64: Int64] = [:]

    init(store: Store, outbox: Outbox, renderer: MailRenderer, digests: Bool) {
        self.store = store
        self.outbox = outbox
        self.renderer = renderer
        self.digests = digests
    }

    /// Runs `body` in a transaction; what the sink wrote in it counts once it committed.
    func inTransaction(_ body: () throws -> Void) throws {
        do {
            try store.inTransaction(body)
        } catch {
            pending = Counts()
            throw error
        }
        committed = committed + pending
        pending = Counts()
    }

    /// Writes what one handler produced for `event`, all or nothing (a savepoint of the open
    /// transaction): when a message cannot be composed, nothing of it stays and nothing counts.
    func accept(_ items: [HandlerItem], event: Event) throws {
        var written = Counts()
        try store.inSavepoint {
            // On PostgreSQL the handler's messages are written together, inside the savepoint.
            try store.batchingQueuedMessages {
                for item in items { try write(item, event: event, counts: &written) }
            }
        }
        pending = pending + written
    }

    private func write(_ item: HandlerItem, event: Event, counts: inout Counts) throws {
        switch item {
        case .nodeDeleted(let node, let time):
            try store.recordDeletedNode(node, at: time, eventID: event.id)
        case .withdrawDigestItems(let notice):
            try store.withdrawDigestItems(ofEvent: notice)
        case .mail(let items):
            var contentID: Int64?
            for recipient in items.recipients {
                if digests, items.delivery == .recipientSetting, let userID = recipient.userID, let schedule = recipient.digest {
                    let id = try contentID ?? store.insertContent(items.content, eventID: event.id, now: renderer.now)
                    contentID = id
                    let sendAt = try nextDigestTime(userID: userID, schedule: schedule, timezone: recipient.timezone)
                    try store.insertDigestItem(userID: userID, contentID: id, sendAt: sendAt)
                    counts.digestItems += 1
                } else {
                    try enqueue(try renderer.compose(items.content, to: recipient),
                                subject: try renderer.localizedSubject(items.content, to: recipient), to: recipient)
                    counts.messagesQueued += 1
                }
            }
        }
    }

    /// Sends one user's digest, composed from the items `itemIDs` read earlier: they leave in
    /// the same savepoint that queues the message (nil: every item was left out; they go and
    /// nothing is sent), and the contents nobody else waits for go with them. False, with
    /// nothing written, when the items changed since they were read.
    func sendDigest(_ message: ComposedMessage?, subject: String, to user: Recipient,
                    itemIDs: [Int64], contentIDs: [Int64]) throws -> Bool {
        struct ItemsChanged: Error {}
        var written = Counts()
        do {
            try store.inSavepoint {
                guard try store.removeDigestItems(itemIDs) == itemIDs.count else { throw ItemsChanged() }
                if let message {
                    try enqueue(message, subject: subject, to: user)
                    written.messagesQueued += 1
                    written.digestsSent += 1
                }
                try store.deleteUnreferencedContents(contentIDs)
            }
        } catch is ItemsChanged {
            return false
        }
        pending = pending + written
        return true
    }

    /// Computed once per user and run: every item of this run joins the same digest.
    private func nextDigestTime(userID: Int64, schedule: DigestSchedule, timezone: String) throws -> Int64 {
        if let cached = nextDigestTimes[userID] { return cached }
        let time = schedule.nextSendTime(atOrAfter: renderer.now, in: try renderer.zone(timezone))
        nextDigestTimes[userID] = time
        return time
    }

    /// Queues a composed message for `recipient`.
    private func enqueue(_ message: ComposedMessage, subject: String, to recipient: Recipient) throws {
        if let userID = recipient.userID, let token = renderer.madeSettingsToken(userID: userID) {
            // In the message's transaction: the link it carries is stored with it, or neither is.
            try store.keepSettingsToken(token, userID: userID, now: renderer.now)
        }
        try outbox.enqueue(recipient: recipient.email, sender: renderer.site.sender.address, subject: subject,
                           message: message, now: renderer.now)
    }
}
