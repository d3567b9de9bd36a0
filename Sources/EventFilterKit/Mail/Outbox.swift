import Foundation

/// The durable queue between composition and delivery, like Postfix's queue:
/// `queued` → `sent`; a temporary failure → `deferred` with backoff; a permanent failure or a
/// message older than the queue lifetime → `failed`, with the server's reply kept.
///
/// This decides what happens when (batches, retry timing, which writes commit together and
/// with or without the write lock held); the rows are the store's (`Store/OutboxStore.swift`).
///
///     let outbox = Outbox(store: store, policy: .standard)
///     let report = try outbox.deliverDue(through: transport, now: now)
public struct Outbox {
    /// Retry timing, after Postfix's defaults (minimal_backoff_time 300 s, maximal 4000 s,
    /// maximal_queue_lifetime 5 days).
    public struct RetryPolicy: Sendable {
        public var firstDelay: Int64 = 300
        public var maximumDelay: Int64 = 3600
        public var maximumLifetime: Int64 = 5 * 86_400
        /// ± this fraction of the delay, so deferred messages do not all return at once.
        public var jitter: Double = 0.1
        public static let standard = RetryPolicy()

        /// The delay before attempt `attempts + 1`, after `attempts` failed ones.
        public func delay(afterAttempts attempts: Int, random: Double = Double.random(in: -1...1)) -> Int64 {
            let exponent = min(max(attempts - 1, 0), 20)
            let base = min(Double(firstDelay) * pow(2, Double(exponent)), Double(maximumDelay))
            return Int64((base * (1 + jitter * random)).rounded())
        }
    }

    public let store: Store
    public let policy: RetryPolicy
    /// site.ini `[MailSettings] BounceAddress`: when set, each message leaves with its own
    /// envelope sender (`VERPAddress`), so a bounce names the message; the From header stays.
    public var bounceAddress: String?
    public var batchSize = 500
    /// A batch also stops at this many bytes of messages (but holds at least one), so memory
    /// stays bounded when messages are large (a digest of thousands of items). Over SMTP, when
    /// the connections' threads record, two batches are held at once (the next is read while one
    /// is delivered), so the bound there is twice this.
    public var batchBytes = 32 << 20

    public init(store: Store, policy: RetryPolicy = .standard) {
        self.store = store
        self.policy = policy
    }

    /// Queues one composed message; due at once.
    func enqueue(recipient: String, sender: String, subject: String, message: ComposedMessage, now: Int64) throws {
        try store.queueMessage(recipient: recipient, sender: sender, subject: subject, message: message, now: now)
    }

    public struct DeliveryReport: Sendable, Equatable, Codable {
        public var sent = 0
        public var deferred = 0
        public var failed = 0

        /// Counts a recorded outcome: an acceptance always (the server has the message), a
        /// deferral or failure only when it changed a waiting message.
        mutating func count(_ disposition: OutboxDisposition, changed: Bool) {
            switch disposition {
            case .accepted: sent += 1
            case .deferred: deferred += changed ? 1 : 0
            case .failed: failed += changed ? 1 : 0
            }
        }

        /// Adds the counts of `other` (another thread's share of the same delivery).
        mutating func add(_ other: DeliveryReport) {
            sent += other.sent
            deferred += other.deferred
            failed += other.failed
        }
    }

    /// Delivers every queued or deferred message that is due, in batches. Acceptances are
    /// committed as soon as the transport reports them (by the transport's own threads on store
    /// connections of their own, see ``OutcomeRecorders``, or here in groups when several came
    /// in while the previous group committed), so a crash resends at most the messages the
    /// transport had in the server's hands unrecorded: one per SMTP connection unless
    /// `MaxUnrecordedAcceptances` says otherwise.
    ///
    /// The record per accepted message is the hot path, so it is the smallest write there is: a
    /// row appended to `outbox_delivered` on PostgreSQL, one `write(2)` to the acceptance log
    /// beside the store on SQLite (`AcceptanceLog`). The outbox rows are then marked sent once
    /// per batch (and, after a crash, at the start of the next delivery), in one transaction.
    public func deliverDue(through transport: MailTransport, now: Int64) throws -> DeliveryReport {
        var report = DeliveryReport()
        try settleWhileBusy()
        let verp = try bounceAddress.map { VERPAddress(bounceAddress: $0, secret: try store.verpSecret()) }
        var afterID: Int64 = 0
        // The file transport's batches written and being synced while the next one is read and
        // written, oldest first; each is recorded once its own sync returned (`settle`).
        typealias Syncing = (batch: FileTransport.PendingBatch, messages: [(id: Int64, createdAt: Int64, attempts: Int)])
        var syncing: [Syncing] = []
        // A transport whose threads record their own outcomes: their store connections, opened
        // on first use and kept for every batch of this delivery.
        var recorders: OutcomeRecorders?
        // The acceptances of a batch are settled while the next one is delivered (see below).
        var settledBeside = false
        // PostgreSQL: a batch's acceptances are recorded by a statement the server runs while the
        // next batch's files are written (about a third of the server's work in delivery).
        let recordsBeside = store.recordsSentWithoutWaiting
        let settle = { (pending: Syncing) in
            let outcomes = zip(pending.messages, pending.batch.finish()).map { message, outcome in
                (id: message.id, disposition: disposition(of: outcome, createdAt: message.createdAt, attempts: message.attempts, now: now))
            }
            let accepted = outcomes.compactMap { outcome -> (id: Int64, reply: String)? in
                if case .accepted(let reply) = outcome.disposition { return (outcome.id, reply) }
                return nil
            }
            if recordsBeside, accepted.count == outcomes.count {
                try store.recordSentWithoutWaiting(accepted, now: now)
                for outcome in outcomes { report.count(outcome.disposition, changed: true) }
                return
            }
            try recordTogether(outcomes, now: now, into: &report)
        }
        // The next batch, claimed while the current one is delivered (see below).
        var claimedAhead: [OutboxMessage]?
        // The transport's acceptances wait to be settled (`outbox_delivered`, or SQLite's
        // acceptance log); an idempotent one's are marked sent with its batch.
        let recordsAcceptances = !transport.redeliveryIsIdempotent
        // The highest outbox id whose queueing is known durable (SQLite; -1 before the first batch).
        var durableThrough: Int64 = -1
        // SQLite: the write-ahead log copied into the database file beside the delivery (see below).
        var checkpointer: BackgroundCheckpointer?
        defer { checkpointer?.stopAndWait() }
        while true {
            let batch = try claimedAhead ?? claimBatch(after: afterID, now: now)
            claimedAhead = nil
            guard let last = batch.last else { break }
            if recordsAcceptances && last.id > durableThrough {
                // SQLite, before this batch's acceptances are recorded: the log's id is drawn
                // (here, not inside a recording transaction that could roll it back), and what
                // queued these messages is made durable (`Store.syncCommitted`): once a delivery,
                // and again only for messages queued since (the settings page queues mail while
                // a run delivers).
                if durableThrough < 0 {
                    try retryingWhileBusy("the store's id for its acceptance log could not be kept") {
                        _ = try store.acceptanceLog(recording: true)
                    }
                }
                durableThrough = try store.syncCommitted()
            }
            afterID = last.id
            let queued = Dictionary(uniqueKeysWithValues: batch.map { ($0.id, $0) })
            let messages = batch.map {
                OutgoingMessage(id: $0.id, sender: verp?.envelopeSender(for: $0.id) ?? $0.sender, recipient: $0.recipient, bytes: $0.bytes)
            }
            let decide = { (message: OutgoingMessage, outcome: DeliveryOutcome) in
                disposition(of: outcome, for: queued[message.id]!, now: now)
            }
            if let files = transport as? FileTransport {
                // This batch's files are written on the transport's thread while the next batch
                // is claimed and read here, and synced while the next one is written; each batch
                // is recorded sent only after its own sync, so a crash at any point leaves at
                // most the batches not yet recorded to be written again.
                // On PostgreSQL the batch before the previous one is recorded while this one is
                // written (its sync ended while the previous one was written); its statement's
                // result is read by the next statement, so the records lag two batches.
                if recordsBeside, syncing.count == 2 { try settle(syncing.removeFirst()) }
                let started = files.start(messages)
                if !recordsBeside, let previous = syncing.popLast() { try settle(previous) }
                syncing.append((started, batch.map { (id: $0.id, createdAt: $0.createdAt, attempts: $0.attempts) }))
            } else if transport.redeliveryIsIdempotent {
                // Delivering again is harmless (as the file transport rewrites the same file), so the
                // transport works with no lock held, however slow its disk, and the batch's
                // outcomes commit together afterwards in one short transaction. A crash in between
                // only delivers the batch again.
                var outcomes: [(id: Int64, disposition: OutboxDisposition)] = []
                outcomes.reserveCapacity(messages.count)
                try transport.deliver(messages) { message, outcome in outcomes.append((message.id, decide(message, outcome))) }
                try recordTogether(outcomes, now: now, into: &report)
            } else if let threaded = transport as? ThreadRecordingTransport,
                      threaded.recordsOnItsThreads {
                // Each outcome commits on one of the transport's threads (the one that read it,
                // or another committing several at once), on the one store connection those
                // threads share (OutcomeRecorders), before its place lets another message be
                // accepted (the transport bounds how many wait, see ThreadRecordingTransport).
                // On SQLite the commit that grows the write-ahead log past its bound copies the
                // log into the database file and syncs both before it returns: 9-10 commits of
                // 8-19 ms for 10,000 messages over 4 SMTP connections, a tenth of the delivery,
                // when every acceptance was a commit that held the window's places. Acceptances
                // now go to the acceptance log, but the settles between batches and the deferrals
                // still commit, and such a settle holds every connection. A thread of its own does
                // most of that copy (the commit that still crosses the bound finds little left),
                // from the second batch on: a run with a batch or less to send never pays for its
                // thread and connection.
                if recorders != nil && checkpointer == nil { checkpointer = try store.checkpointingBeside() }
                let batchRecorders = recorders ?? OutcomeRecorders(outbox: self, now: now, decide: decide)
                recorders = batchRecorders
                batchRecorders.decide = decide
                // PostgreSQL: the previous batch is settled by the server while this one is
                // delivered (this connection is idle meanwhile), not between the two, where it held
                // every SMTP connection still (6 ms a batch of 500, a tenth of the delivery).
                settledBeside = try store.sendSettlingDeliveredMail()
                // The next batch is claimed and read on this store connection (which the recorders
                // leave idle) while this one is delivered, where it held every SMTP connection
                // still between batches: 15 ms a batch of 500 on PostgreSQL, a tenth of its
                // delivery with 4 connections; 3-3.5 ms on SQLite, where claiming is reading, which
                // a commit of the recorders' connection never waits for (nor it for one).
                claimedAhead = try delivering(claimingAhead: { try claimBatch(after: last.id, now: now) }) {
                    try threaded.deliver(messages, recordingOn: batchRecorders)
                }
            } else {
                // Each group of outcomes the transport hands over commits before the transport
                // may let more messages be accepted (it bounds how many wait, see MailTransport).
                try transport.deliver(messages) { group in
                    try recordGroup(group.map { (id: $0.message.id, disposition: decide($0.message, $0.outcome)) }, now: now, into: &report)
                }
            }
            if recordsAcceptances && !settledBeside { try settleWhileBusy() }
        }
        if settledBeside { try settleWhileBusy() }  // the last batch
        while !syncing.isEmpty { try settle(syncing.removeFirst()) }
        try store.finishRecording()
        if let recorders { report.add(recorders.report) }
        return report
    }

    /// Marks the recorded acceptances sent, again while another process holds the store's lock
    /// (for up to `recordPatience`, as a record waits): on SQLite the records themselves never
    /// wait for that lock (the acceptance log), so the settle is where a delivery meets it.
    private func settleWhileBusy() throws {
        try retryingWhileBusy("messages the server accepted could not be marked sent") { try store.settleDeliveredMail() }
    }

    /// Runs `deliver` while `claim` claims the next batch on a thread of its own, and returns that
    /// batch. When `deliver` throws (a record that failed cuts the run off), the batch claimed
    /// ahead was never handed to the transport: the run's claims are released, as its exit would
    /// release them, so another run may take that batch (and what the cut-off one left) at once,
    /// as it could had it never been claimed, and the error is thrown.
    private func delivering(claimingAhead claim: @escaping () throws -> [OutboxMessage],
                            _ deliver: () throws -> Void) throws -> [OutboxMessage] {
        let ahead = ClaimedAhead(claim)
        do {
            try deliver()
        } catch {
            // The claim ahead is done before its claims are released; its own error, if any, says
            // less than the delivery's.
            _ = try? ahead.batch()
            try? store.releaseOutboxClaims()
            throw error
        }
        return try ahead.batch()
    }

    /// Claims the next batch: the due messages with ids above `afterID`, up to `batchSize` of
    /// them and `batchBytes` (but at least one), in id order; empty when none is due. Sizes
    /// first (no message is read for them), then the messages that fit. Claimed, so runs working
    /// the same store at once (PostgreSQL) never send one message twice.
    private func claimBatch(after afterID: Int64, now: Int64) throws -> [OutboxMessage] {
        let sizes = try store.claimDueOutbox(now: now, after: afterID, limit: batchSize)
        guard !sizes.isEmpty else { return [] }
        var total = 0
        let fitting = sizes.prefix { size in
            defer { total += size.size }
            return total == 0 || total + size.size <= batchBytes
        }
        return try store.claimedOutboxMessages(now: now, after: afterID, through: fitting.last!.id)
    }

    /// Records the outcomes of a batch that is durable as a whole before any of it is reported
    /// (an idempotent transport's) in one transaction, again while the store is busy, and counts
    /// them. Acceptances are marked sent at once: nothing is left to settle.
    private func recordTogether(_ outcomes: [(id: Int64, disposition: OutboxDisposition)], now: Int64,
                                into report: inout DeliveryReport) throws {
        var changed: [Bool] = []
        try retryingWhileBusy("the outcomes of \(outcomes.count) delivered messages could not be recorded") {
            changed = try store.recordGroupSent(outcomes, now: now)
        }
        for (outcome, changed) in zip(outcomes, changed) { report.count(outcome.disposition, changed: changed) }
    }

    /// How long delivery keeps trying to record an outcome while another process holds the write
    /// lock (each attempt itself waits the store's busy timeout). An acceptance that is not
    /// recorded is a message sent twice, so this is generous.
    public var recordPatience: Duration = .seconds(600)

    /// Runs `write`, again while the store is busy or locked, for up to `recordPatience`.
    private func retryingWhileBusy(_ what: @autoclosure () -> String, _ write: () throws -> Void) throws {
        let clock = ContinuousClock()
        let deadline = clock.now + recordPatience
        while true {
            do {
                return try write()
            } catch let error as any StorageError where error.kind == .retryable {  // busy or locked, a lost race
                guard clock.now < deadline else {
                    throw EventFilterError.failure("\(what()), but the store stayed locked for \(recordPatience): \(error)")
                }
                usleep(10_000)  // the busy timeout did the waiting; this only avoids a spin when it is 0
            }
        }
    }

    /// What to record for `outcome`: a temporary failure of a message older than the queue
    /// lifetime fails it; otherwise it waits the backoff for its next attempt.
    private func disposition(of outcome: DeliveryOutcome, for message: OutboxMessage, now: Int64) -> OutboxDisposition {
        disposition(of: outcome, createdAt: message.createdAt, attempts: message.attempts, now: now)
    }

    private func disposition(of outcome: DeliveryOutcome, createdAt: Int64, attempts: Int, now: Int64) -> OutboxDisposition {
        switch outcome {
        case .accepted(let reply):
            return .accepted(reply: reply)
        case .permanentFailure(let reason):
            return .failed(reason: reason)
        case .temporaryFailure(let reason):
            guard now - createdAt < policy.maximumLifetime else {
                return .failed(reason: "gave up after \(policy.maximumLifetime / 86_400) days in the queue: \(reason)")
            }
            return .deferred(reply: reason, until: now + policy.delay(afterAttempts: attempts + 1))
        }
    }

    /// Commits a group of outcomes in one transaction, waiting out another writer's lock, and
    /// counts them; acceptances among them are settled later (`settleDeliveredMail`).
    func recordGroup(_ outcomes: [(id: Int64, disposition: OutboxDisposition)], now: Int64, into report: inout DeliveryReport) throws {
        if outcomes.count == 1, let only = outcomes.first {
            return try record(only.disposition, for: only.id, now: now, into: &report)
        }
        var changed: [Bool] = []
        try retryingWhileBusy("\(outcomes.count) messages were answered by the server and some may be sent again") {
            changed = try store.recordGroup(outcomes, now: now)
        }
        for (outcome, changed) in zip(outcomes, changed) { report.count(outcome.disposition, changed: changed) }
    }

    /// Commits one outcome at once, waiting out another writer's lock.
    func record(_ disposition: OutboxDisposition, for id: Int64, now: Int64, into report: inout DeliveryReport) throws {
        var changed = false
        // A deferral or failure changes only a message still waiting: one cancelled while the
        // server had it (its user removed or disabled) stays cancelled, or it would be sent at the
        // next run, and is nobody's problem.
        try retryingWhileBusy(Self.whatIsLost(disposition, id: id)) { changed = try store.record(disposition, forMessage: id, now: now) }
        report.count(disposition, changed: changed)
    }

    /// What is lost when the outcome of message `id` cannot be recorded, for the error; written
    /// only then (on SMTP this is once a message otherwise).
    private static func whatIsLost(_ disposition: OutboxDisposition, id: Int64) -> String {
        switch disposition {
        // The server has the message: losing this row would send it again at the next run.
        // Its reply rides along in the same row, so keeping it costs no extra write.
        case .accepted: "message \(id) was accepted by the server and may be sent again"
        case .failed: "the failure of message \(id) could not be recorded"
        case .deferred: "the deferral of message \(id) could not be recorded"
        }
    }

    // MARK: Operator views

    public struct Entry: Sendable {
        public let id: Int64
        public let recipient: String
        public let subject: String
        public let state: String
        public let attempts: Int
        public let createdAt: Int64
        public let nextAttemptAt: Int64
        /// The server's last reply: why a deferred or failed message was not taken, or, for a sent
        /// message, the reply that accepted it ("250 2.0.0 Ok: queued as 4F2A1").
        public let lastError: String?
        /// When the operator acknowledged this failed message (`mail ack`).
        public var acknowledgedAt: Int64? = nil
    }

    public func list(states: [String], limit: Int = 1000) throws -> [Entry] {
        try store.outboxEntries(states: states, limit: limit)
    }

    /// Puts a failed message back in the queue, due at once. Returns false when `id` is not a failed message.
    public func retry(id: Int64, now: Int64) throws -> Bool {
        try store.requeueFailedMessage(id: id, now: now)
    }

    /// Requeues every failed message; returns how many.
    public func retryAllFailed(now: Int64) throws -> Int {
        try store.requeueFailedMessages(now: now)
    }

    public struct Counts: Sendable, Equatable {
        public var queued = 0, deferred = 0, failed = 0, sent = 0
        public var oldestDeferred: Int64?
    }

    public func counts() throws -> Counts {
        try store.outboxCounts()
    }
}
