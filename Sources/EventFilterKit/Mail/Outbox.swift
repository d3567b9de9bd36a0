import Foundation

/// The durable queue between composition and delivery, like Postfix's queue:
/// `queued` → `sent`; a temporary failure → `deferred` with backoff; a permanent failure or a
/// message older than the queue lifetime → `failed`, with the server's reply kept.
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
    /// stays bounded when messages are large (a digest of thousands of items).
    public var batchBytes = 32 << 20

    public init(store: Store, policy: RetryPolicy = .standard) {
        self.store = store
        self.policy = policy
    }

    var db: any StoreDatabase { store.db }

    /// Queues one composed message; due at once.
    func enqueue(recipient: String, sender: String, subject: String, message: ComposedMessage, now: Int64) throws {
        try db.execute("""
            INSERT INTO outbox(recipient, sender, message_id, subject, message, created_at, next_attempt_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, [recipient, sender, message.messageID, subject, message.bytes, now, now])
    }

    public struct DeliveryReport: Sendable, Equatable {
        public var sent = 0
        public var deferred = 0
        public var failed = 0
    }

    /// Delivers every queued or deferred message that is due, in batches. Each acceptance is
    /// committed as soon as the transport reports it, so a crash resends at most the messages
    /// that were in flight.
    ///
    /// The commit per accepted message is the hot path, so it is the smallest write there is: a
    /// row appended to `outbox_delivered`. The outbox rows are then marked sent once per batch
    /// (and, after a crash, at the start of the next delivery), in one transaction.
    public func deliverDue(through transport: MailTransport, now: Int64) throws -> DeliveryReport {
        var report = DeliveryReport()
        try settleDelivered()
        let verp = try bounceAddress.map { VERPAddress(bounceAddress: $0, secret: try store.verpSecret()) }
        var afterID: Int64 = 0
        while true {
            // Sizes first (length() of a blob does not read it), then the messages that fit.
            let sizes = try db.map("""
                SELECT id, length(message) FROM outbox
                WHERE state IN ('queued', 'deferred') AND next_attempt_at <= ? AND id > ?
                ORDER BY id LIMIT ?
                """, [now, afterID, batchSize]) { (id: $0.int64(0), bytes: $0.int(1)) }
            guard !sizes.isEmpty else { break }
            var total = 0
            let fitting = sizes.prefix { size in
                defer { total += size.bytes }
                return total == 0 || total + size.bytes <= batchBytes
            }
            let batch = try db.map("""
                SELECT id, sender, recipient, message, created_at, attempts FROM outbox
                WHERE state IN ('queued', 'deferred') AND next_attempt_at <= ? AND id > ? AND id <= ?
                ORDER BY id
                """, [now, afterID, fitting.last!.id]) { row in
                (OutgoingMessage(id: row.int64(0), sender: verp?.envelopeSender(for: row.int64(0)) ?? row.string(1),
                                 recipient: row.string(2), bytes: row.bytes(3)),
                 row.int64(4), row.int(5))
            }
            guard let last = batch.last else { break }
            afterID = last.0.id
            let details = Dictionary(uniqueKeysWithValues: batch.map { ($0.0.id, (createdAt: $0.1, attempts: $0.2)) })
            let messages = batch.map(\.0)
            let note = { (message: OutgoingMessage, outcome: DeliveryOutcome) in
                let detail = details[message.id]!
                try record(outcome, for: message.id, createdAt: detail.createdAt, attempts: detail.attempts, now: now, into: &report)
            }
            if transport.redeliveryIsIdempotent {
                // Delivering again is harmless (the file transport rewrites the same file), so the
                // transport works with no lock held, however slow its disk, and the batch's
                // outcomes commit together afterwards in one short transaction. A crash in between
                // only delivers the batch again.
                var outcomes: [(OutgoingMessage, DeliveryOutcome)] = []
                outcomes.reserveCapacity(messages.count)
                try transport.deliver(messages) { message, outcome in outcomes.append((message, outcome)) }
                try retryingWhileBusy("the outcomes of \(outcomes.count) delivered messages could not be recorded") {
                    try db.inTransaction { for (message, outcome) in outcomes { try note(message, outcome) } }
                }
            } else {
                try transport.deliver(messages, report: note)
            }
            try settleDelivered()
        }
        return report
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
            } catch let error as DatabaseError where error.code == 5 || error.code == 6 {  // SQLITE_BUSY, SQLITE_LOCKED
                guard clock.now < deadline else {
                    throw EventFilterError.failure("\(what()), but the store stayed locked for \(recordPatience): \(error)")
                }
                usleep(10_000)  // the busy timeout did the waiting; this only avoids a spin when it is 0
            }
        }
    }

    private func record(_ outcome: DeliveryOutcome, for id: Int64, createdAt: Int64, attempts: Int, now: Int64,
                        into report: inout DeliveryReport) throws {
        switch outcome {
        case .accepted(let reply):
            // The server has the message: losing this row would send it again at the next run.
            // Its reply rides along in the same row, so keeping it costs no extra write.
            try retryingWhileBusy("message \(id) was accepted by the server and may be sent again") {
                try db.execute("INSERT OR IGNORE INTO outbox_delivered(outbox_id, sent_at, reply) VALUES (?, ?, ?)", [id, now, reply])
            }
            report.sent += 1
        case .permanentFailure(let reason):
            var changed = 0
            try retryingWhileBusy("the failure of message \(id) could not be recorded") {
                changed = try markFailed(id, reason: reason, now: now)
            }
            report.failed += changed
        case .temporaryFailure(let reason):
            if now - createdAt >= policy.maximumLifetime {
                let days = policy.maximumLifetime / 86_400
                var changed = 0
                try retryingWhileBusy("the failure of message \(id) could not be recorded") {
                    changed = try markFailed(id, reason: "gave up after \(days) days in the queue: \(reason)", now: now)
                }
                report.failed += changed
            } else {
                let next = now + policy.delay(afterAttempts: attempts + 1)
                var changed = 0
                try retryingWhileBusy("the deferral of message \(id) could not be recorded") {
                    // Only a message still waiting: one cancelled while the server had it (its user
                    // removed or disabled) stays cancelled, or it would be sent at the next run.
                    try db.execute("""
                        UPDATE outbox SET state = 'deferred', attempts = attempts + 1, last_attempt_at = ?,
                            next_attempt_at = ?, last_error = ? WHERE id = ? AND state IN ('queued', 'deferred')
                        """, [now, next, reason, id])
                    changed = db.changes
                }
                report.deferred += changed
            }
        }
    }

    /// Marks every message recorded in `outbox_delivered` as sent, in one transaction. The
    /// acceptance's reply becomes the message's last reply (`last_error`, which for a sent message
    /// holds the reply that accepted it, as `mail show` and `mail list --sent` print it).
    func settleDelivered() throws {
        try db.inTransaction {
            try db.execute("""
                UPDATE outbox SET state = 'sent', attempts = attempts + 1,
                    last_error = (SELECT reply FROM outbox_delivered WHERE outbox_id = outbox.id),
                    sent_at = (SELECT sent_at FROM outbox_delivered WHERE outbox_id = outbox.id),
                    last_attempt_at = (SELECT sent_at FROM outbox_delivered WHERE outbox_id = outbox.id)
                WHERE id IN (SELECT outbox_id FROM outbox_delivered)
                """)
            try db.execute("DELETE FROM outbox_delivered")
        }
    }

    /// A message cancelled while the server had it stays cancelled: it is nobody's problem.
    private func markFailed(_ id: Int64, reason: String, now: Int64) throws -> Int {
        try db.execute("""
            UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_attempt_at = ?, last_error = ?
            WHERE id = ? AND state IN ('queued', 'deferred')
            """, [now, reason, id])
        return db.changes
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
        let placeholders = states.map { _ in "?" }.joined(separator: ", ")
        let arguments: [DatabaseValueConvertible] = states + [limit]
        return try db.map("""
            SELECT id, recipient, subject, state, attempts, created_at, next_attempt_at, last_error, acknowledged_at FROM outbox
            WHERE state IN (\(placeholders)) ORDER BY id LIMIT ?
            """, arguments) {
            Entry(id: $0.int64(0), recipient: $0.string(1), subject: $0.string(2), state: $0.string(3), attempts: $0.int(4),
                  createdAt: $0.int64(5), nextAttemptAt: $0.int64(6), lastError: $0.optionalString(7),
                  acknowledgedAt: $0.isNull(8) ? nil : $0.int64(8))
        }
    }

    /// Puts a failed message back in the queue, due at once. Returns false when `id` is not a failed message.
    public func retry(id: Int64, now: Int64) throws -> Bool {
        try db.execute("""
            UPDATE outbox SET state = 'queued', next_attempt_at = ?, created_at = ?, acknowledged_at = NULL, reported_state = NULL
            WHERE id = ? AND state = 'failed'
            """, [now, now, id])
        return db.changes == 1
    }

    /// Requeues every failed message; returns how many.
    public func retryAllFailed(now: Int64) throws -> Int {
        try db.execute("""
            UPDATE outbox SET state = 'queued', next_attempt_at = ?, created_at = ?, acknowledged_at = NULL, reported_state = NULL
            WHERE state = 'failed'
            """, [now, now])
        return db.changes
    }

    /// Sent messages older than the retention go.
    func purgeSent(before cutoff: Int64) throws {
        try db.execute("DELETE FROM outbox WHERE state = 'sent' AND sent_at < ?", [cutoff])
    }

    public struct Counts: Sendable, Equatable {
        public var queued = 0, deferred = 0, failed = 0, sent = 0
        public var oldestDeferred: Int64?
    }

    /// Each count through its own partial index: sent mail kept for `KeepDays` is never walked.
    public func counts() throws -> Counts {
        var counts = Counts()
        try db.forEach("SELECT state, count(*) FROM outbox WHERE state IN ('queued', 'deferred') GROUP BY state") { row in
            if row.string(0) == "queued" { counts.queued = row.int(1) } else { counts.deferred = row.int(1) }
        }
        counts.failed = try db.scalarInt("SELECT count(*) FROM outbox WHERE state = 'failed'") ?? 0
        counts.sent = try db.scalarInt("SELECT count(*) FROM outbox WHERE state = 'sent'") ?? 0
        counts.oldestDeferred = try db.first("SELECT min(created_at) FROM outbox WHERE state = 'deferred'") {
            $0.isNull(0) ? nil : $0.int64(0)
        } ?? nil
        return counts
    }
}
