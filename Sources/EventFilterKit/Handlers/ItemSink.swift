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
    /// Digest rows of the open transaction not written yet: they go in one statement before it
    /// commits (or before anything in it touches digest items), not one statement per event.
    private var waitingRows: [Store.DigestRows] = []
    /// Users whose settings link the open transaction has stored already: their further messages
    /// in it carry the same link, so storing it again would only cost a statement (three round
    /// trips to a PostgreSQL server, with its savepoint) per message. Emptied when the transaction
    /// ends, either way, and put back as it was when a savepoint that stored some is undone, so
    /// a link is never taken as stored unless the rows that hold it commit with the message.
    /// Nil outside `inTransaction`: then every message stores its link.
    private var tokensStored: Set<Int64>?
    /// Users whose settings link a committed transaction of this run holds: the renderer gives a
    /// user one link per run, so storing it again in each later transaction only cost a
    /// savepoint, an insert that changes nothing and a release (100 readers, 100,000 messages:
    /// 6,000 statements, each a round trip to a PostgreSQL server).
    private var tokensCommitted: Set<Int64> = []

    init(store: Store, outbox: Outbox, renderer: MailRenderer, digests: Bool) {
        self.store = store
        self.outbox = outbox
        self.renderer = renderer
        self.digests = digests
    }

    /// Runs `body` in a transaction; what the sink wrote in it counts once it committed.
    func inTransaction(_ body: () throws -> Void) throws {
        tokensStored = []
        defer { tokensStored = nil }
        var storedNow: Set<Int64> = []
        do {
            try store.inTransaction {
                try body()
                try writeWaitingRows()
                try store.writeHeldMessages()
                storedNow = tokensStored ?? []
            }
        } catch {
            pending = Counts()
            waitingRows = []
            store.dropHeldMessages()
            throw error
        }
        committed = committed + pending
        pending = Counts()
        tokensCommitted.formUnion(storedNow)
    }

    /// Writes what one handler produced for `event`, all or nothing, without a savepoint of its
    /// own: everything that can fail for a reason other than the store (a time zone, a message
    /// that cannot be composed) is done before the first write, so a failure leaves nothing and
    /// counts nothing. Once writing starts only the store can fail, and then the whole batch's
    /// transaction is the unit: the error stops the run and the transaction is rolled back.
    /// A savepoint per (event, handler) made SQLite copy every page it touched to a statement
    /// journal, as many writes again as the rows themselves.
    ///
    /// Immediate messages are composed ahead too, up to `composedAhead` of them; an item for
    /// more readers than that is written in a savepoint, composing as it goes, so memory stays
    /// bounded whatever the number of readers.
    func accept(_ items: [HandlerItem], event: Event) throws {
        // The earlier events' messages held on PostgreSQL go to the server now, once they fill a
        // copy, this event's queries done: the server inserts them while this event's messages
        // are composed.
        try store.sendHeldMessages()
        var prepared: [Prepared] = []
        var immediate = 0
        for item in items {
            if case .mail(let mail) = item { immediate += mail.recipients.count }
        }
        let ahead = immediate <= Self.composedAhead
        for item in items { prepared.append(try prepare(item, composing: ahead)) }
        var written = Counts()
        // Earlier events' rows are written first, outside the savepoint: a withdrawal inside it
        // writes the waiting rows, and undoing the savepoint must not take theirs with it.
        if !ahead {
            try writeWaitingRows()
            try store.writeHeldMessages()
        }
        let rowsBefore = waitingRows.count
        let tokensBefore = tokensStored
        do {
            // On PostgreSQL the handler's messages are written together (by COPY): inside
            // `inTransaction` held back and sent once enough are held when a later event's items
            // come (or when the transaction ends), otherwise before this returns.
            if ahead {
                try store.batchingQueuedMessages(holding: tokensStored != nil) {
                    for item in prepared { try write(item, event: event, counts: &written) }
                }
            } else {
                try store.inSavepoint {
                    try store.batchingQueuedMessages {
                        for item in prepared { try write(item, event: event, counts: &written) }
                    }
                }
            }
        } catch let error as any StorageError {
            tokensStored = tokensBefore
            throw error
        } catch let error where ahead {
            tokensStored = tokensBefore
            throw WriteInterrupted(message: "\(error)")
        } catch {
            waitingRows.removeSubrange(rowsBefore...)  // their content went with the savepoint
            tokensStored = tokensBefore  // and the links it stored
            throw error
        }
        pending = pending + written
    }

    /// Writes the open transaction's digest rows, in one statement for many events: each
    /// statement inside a transaction keeps a copy of every page it changes that the
    /// transaction had changed before (to undo the statement alone), and a reader's index pages
    /// are changed again by every event, so a statement per event copied most of them each time.
    private func writeWaitingRows() throws {
        guard !waitingRows.isEmpty else { return }
        try store.insertDigestItems(waitingRows)
        waitingRows = []
    }

    /// A digest's items changed between the check that they are the ones it was made of and
    /// their removal: the transaction must not commit (the caller composes the digest again).
    struct DigestItemsChanged: Error, CustomStringConvertible {
        var description: String { "the digest's items changed while they were removed" }
    }

    /// The most immediate messages of one event and handler composed before anything is written.
    static let composedAhead = 1_000

    /// A write of the sink that failed for a reason other than the store's after earlier writes
    /// of the same handler's items: the run stops so the transaction, and those writes, go.
    struct WriteInterrupted: StorageError {
        let message: String
        var kind: StorageErrorKind { .other }
        var description: String { "writing a handler's items failed half way: \(message)" }
    }

    /// A handler's item with everything decided that can fail without the store.
    private enum Prepared {
        case nodeDeleted(node: String, at: Int64)
        case withdrawDigestItems(ofEvent: Int64)
        /// Digest rows as (send time, readers): readers who share a send time are one statement.
        /// `messages` holds the immediate ones, composed (nil: composed while writing).
        case mail(content: RenderedContent, digestRows: [(sendAt: Int64, userIDs: [Int64])],
                  immediate: [Recipient], messages: [(message: ComposedMessage, subject: String)]?)
    }

    private func prepare(_ item: HandlerItem, composing: Bool) throws -> Prepared {
        switch item {
        case .nodeDeleted(let node, let time):
            return .nodeDeleted(node: node, at: time)
        case .withdrawDigestItems(let notice):
            return .withdrawDigestItems(ofEvent: notice)
        case .mail(let items):
            var bySendTime: [Int64: [Int64]] = [:]
            var sendTimes: [Int64] = []
            var immediate: [Recipient] = []
            for recipient in items.recipients {
                if digests, items.delivery == .recipientSetting, let userID = recipient.userID, let schedule = recipient.digest {
                    let sendAt = try nextDigestTime(userID: userID, schedule: schedule, timezone: recipient.timezone)
                    if bySendTime[sendAt] == nil { sendTimes.append(sendAt) }
                    bySendTime[sendAt, default: []].append(userID)
                } else {
                    immediate.append(recipient)
                }
            }
            let messages = composing ? try immediate.map { try compose(items.content, to: $0) } : nil
            return .mail(content: items.content, digestRows: sendTimes.map { ($0, bySendTime[$0]!) },
                         immediate: immediate, messages: messages)
        }
    }

    private func compose(_ content: RenderedContent, to recipient: Recipient) throws -> (message: ComposedMessage, subject: String) {
        (try renderer.compose(content, to: recipient), try renderer.localizedSubject(content, to: recipient))
    }

    private func write(_ item: Prepared, event: Event, counts: inout Counts) throws {
        switch item {
        case .nodeDeleted(let node, let time):
            try store.recordDeletedNode(node, at: time, eventID: event.id)
        case .withdrawDigestItems(let notice):
            try writeWaitingRows()  // what it withdraws may be among them
            try store.withdrawDigestItems(ofEvent: notice)
        case .mail(let content, let digestRows, let immediate, let messages):
            if !digestRows.isEmpty {
                let contentID = try store.insertContent(content, eventID: event.id, now: renderer.now)
                for group in digestRows {
                    waitingRows.append(Store.DigestRows(contentID: contentID, sendAt: group.sendAt, userIDs: group.userIDs))
                    counts.digestItems += group.userIDs.count
                }
            }
            for (index, recipient) in immediate.enumerated() {
                let composed = try messages?[index] ?? compose(content, to: recipient)
                try enqueue(composed.message, subject: composed.subject, to: recipient)
                counts.messagesQueued += 1
            }
        }
    }

    /// Sends one user's digest, composed from the items of `contentIDs` (a reader has one item
    /// per content) read earlier as those due at `time`: they leave in the same transaction that
    /// queues the message (nil: every item was left out; they go and nothing is sent), and the
    /// contents nobody else waits for go with them. False, with nothing written, when the items
    /// changed since they were read.
    ///
    /// The items due are compared before anything is written, not undone by a savepoint after
    /// the fact: inside a savepoint SQLite copies every page it changes to a statement journal
    /// first, and a digest's removal changes many pages, so that doubled its writes. Should they
    /// differ all the same between that comparison and the removal (another PostgreSQL
    /// session's commit in between), the error rolls back the caller's transaction.
    func sendDigest(_ message: ComposedMessage?, subject: String, to user: Recipient,
                    dueAt time: Int64, contentIDs: [Int64]) throws -> Bool {
        try writeWaitingRows()
        let expected = contentIDs.sorted()
        guard try store.dueDigestContents(userID: user.userID!, dueAt: time).sorted() == expected else { return false }
        // All the user's due items go at once; exactly the ones the digest was made of.
        guard try store.removeDueDigestItems(userID: user.userID!, dueAt: time).sorted() == expected else {
            throw DigestItemsChanged()
        }
        var written = Counts()
        if let message {
            try enqueue(message, subject: subject, to: user)
            written.messagesQueued += 1
            written.digestsSent += 1
        }
        try store.deleteUnreferencedContents(contentIDs)
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
        if let userID = recipient.userID, tokensStored?.contains(userID) != true, !tokensCommitted.contains(userID),
           let token = renderer.madeSettingsToken(userID: userID) {
            // In the message's transaction: the link it carries is stored with it, or neither is.
            try store.keepSettingsToken(token, userID: userID, now: renderer.now)
            tokensStored?.insert(userID)
        }
        try outbox.enqueue(recipient: recipient.email, sender: renderer.site.sender.address, subject: subject,
                           message: message, now: renderer.now)
    }
}
