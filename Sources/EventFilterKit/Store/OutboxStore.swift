import Foundation

/// One outbox message due for delivery, as the store holds it: the envelope as composed, the
/// exact bytes, and what the retry policy needs (when it was queued, how often it was tried).
///
///     for message in try store.dueOutboxMessages(now: now, after: 0, through: 500) {
///         print(message.id, message.recipient, message.bytes.count, message.attempts)
///     }
public struct OutboxMessage: Sendable, Equatable {
    public let id: Int64
    /// The sender it was queued with (the site's From address); VERP replaces it at delivery.
    public let sender: String
    public let recipient: String
    /// The exact RFC 5322 bytes, CRLF line endings.
    public let bytes: [UInt8]
    public let createdAt: Int64
    /// Failed attempts so far (a sent message counts its last one too).
    public let attempts: Int
}

/// What delivery decided for one message, as the store records it.
///
///     let changed = try store.record(.deferred(reply: "451 try later", until: now + 300), forMessage: 42, now: now)
public enum OutboxDisposition: Sendable, Equatable {
    /// The transport took it: `reply` is its acceptance ("250 2.0.0 Ok: queued as 4F2A1").
    case accepted(reply: String)
    /// Try again at `until`; `reply` says why not now.
    case deferred(reply: String, until: Int64)
    /// Never try again; `reason` says why.
    case failed(reason: String)
}

/// The outbox: messages queued, handed out for delivery in id order, their outcomes, and the
/// operator's view and requeueing. `Mail/Outbox.swift` decides what happens when; this says how
/// it is kept.
///
/// An acceptance is the smallest write there is, the one record per message on the hot path (a
/// row appended to `outbox_delivered`; on SQLite a record appended to the acceptance log beside
/// the store, `AcceptanceLog`); `settleDeliveredMail()` marks those messages sent, a batch at a
/// time. A deferral or failure changes only a message still waiting: one cancelled while the
/// server had it (its user removed or disabled) stays cancelled.
extension Store {
    /// Queues one composed message, due at `now`: its state in `outbox`, its envelope, subject,
    /// Message-ID and bytes in `outbox_message` under the same id. Inside
    /// `batchingQueuedMessages` on PostgreSQL it is written with the unit's others, before the
    /// unit ends.
    func queueMessage(recipient: String, sender: String, subject: String, message: ComposedMessage, now: Int64) throws {
        if messageBatch != nil {
            messageBatch!.append(QueuedMessage(recipient: recipient, sender: sender, subject: subject, message: message, createdAt: now))
            if messageBatch!.count >= Self.messagesPerBatch { try writeMessageBatch() }
            return
        }
        if db.dialect == .postgresql {
            // One round trip for both rows.
            try db.execute("""
                WITH queued AS (
                    INSERT INTO outbox(created_at, next_attempt_at) VALUES (?, ?) RETURNING id)
                INSERT INTO outbox_message(outbox_id, recipient, sender, message_id, subject, message)
                SELECT id, ?, ?, ?, ?, ? FROM queued
                """, [now, now, recipient, sender, message.messageID, subject, message.bytes])
            return
        }
        try db.execute("INSERT INTO outbox(created_at, next_attempt_at) VALUES (?, ?)", [now, now])
        try db.execute("""
            INSERT INTO outbox_message(outbox_id, recipient, sender, message_id, subject, message) VALUES (?, ?, ?, ?, ?, ?)
            """, [db.lastInsertRowID, recipient, sender, message.messageID, subject, message.bytes])
    }

    /// Runs `body`, in which the messages queued on PostgreSQL are written together (by COPY,
    /// `OutboxCopy.swift`: a few round trips for a batch, not one a message) before this
    /// returns, or held (`holding`, below); when `body` throws, none is written. Call it inside the transaction or savepoint
    /// the messages belong to, so they commit or roll back with it. On SQLite, where a statement
    /// costs no round trip, each message is written at once.
    ///
    /// `holding`: the messages are kept back rather than written (but for each full
    /// `messagesPerBatch`, written with those held before it as it fills), for
    /// `sendHeldMessages()` to send without waiting when the caller has read what it needs for
    /// its next unit (the filter's next event): the server then inserts them while the caller
    /// composes the next messages, and the next event's queries do not queue behind the insert.
    /// The caller must call `writeHeldMessages()` before its transaction ends (or
    /// `dropHeldMessages()` when it fails), and must not hold them across a savepoint it may undo.
    ///
    ///     try store.inSavepoint { try store.batchingQueuedMessages { try queueAll(items) } }
    func batchingQueuedMessages<T>(holding: Bool = false, _ body: () throws -> T) throws -> T {
        guard db.dialect == .postgresql, messageBatch == nil else { return try body() }
        messageBatch = []
        defer { messageBatch = nil }
        let result = try body()
        if holding {
            heldMessages += messageBatch ?? []
        } else {
            try writeMessageBatch()
        }
        return result
    }

    /// Sends the held messages without waiting for the server (PostgreSQL; by COPY, see
    /// `OutboxCopy.swift`): read back by the store's next statement, which throws their error, so
    /// a transaction whose insert failed never commits.
    /// Fewer than `heldMessagesPerCopy` stay held (`all`: none does): a copy has a fixed cost
    /// on the server that a few rows do not repay.
    func sendHeldMessages(all: Bool = false) throws {
        guard !heldMessages.isEmpty, db is PostgresDatabase, all || heldMessages.count >= heldMessagesPerCopy else { return }
        let held = heldMessages
        heldMessages = []
        try sendCopyingMessages(held[...])
    }

    /// Writes the held messages and waits for the server: before the transaction commits.
    func writeHeldMessages() throws {
        try sendHeldMessages(all: true)
        try (db as? PostgresDatabase)?.finishSent()
    }

    /// Forgets the held messages: their transaction is being rolled back.
    func dropHeldMessages() {
        heldMessages = []
    }

    /// Messages batched before they are written, so an item for many readers is written as it
    /// goes (outside `holding`, or past `ItemSink.composedAhead`) rather than kept whole.
    static let messagesPerBatch = 500

    /// Writes the batched messages and waits for the server, behind any held ones: all the
    /// filter's messages draw their ids as they are copied (`OutboxCopy.swift`), in the order
    /// they were queued, so delivery and `mail list`, which go by id, keep that order.
    private func writeMessageBatch() throws {
        guard let batch = messageBatch, !batch.isEmpty else { return }
        messageBatch = []
        heldMessages += batch
        try writeHeldMessages()
    }

    /// The ids and sizes in bytes of up to `limit` queued or deferred messages due at `now`, with
    /// ids above `after`, in id order. Reads no message: `length()` of a blob does not read it.
    func dueOutboxSizes(now: Int64, after: Int64, limit: Int) throws -> [(id: Int64, size: Int)] {
        try db.map("""
            SELECT outbox.id AS id, length(outbox_message.message) AS size
            FROM outbox JOIN outbox_message ON outbox_message.outbox_id = outbox.id
            WHERE outbox.state IN ('queued', 'deferred') AND outbox.next_attempt_at <= ? AND outbox.id > ?
            ORDER BY outbox.id LIMIT ?
            """, [now, after, limit]) { (id: try $0.int64("id"), size: try $0.int("size")) }
    }

    /// The queued or deferred messages due at `now` with ids above `after` and up to `through`,
    /// in id order.
    func dueOutboxMessages(now: Int64, after: Int64, through: Int64) throws -> [OutboxMessage] {
        try db.map("\(Self.selectingDueOutboxMessages) ORDER BY outbox.id", [now, after, through]) {
            try Self.outboxMessage(from: $0)
        }
    }

    /// The due messages (state, time, ids above and up to: three values bound), with the columns
    /// `outboxMessage(from:)` reads; `claimedOutboxMessages` adds its claim to the condition.
    static let selectingDueOutboxMessages = """
        SELECT outbox.id AS id, outbox_message.sender AS sender, outbox_message.recipient AS recipient,
               outbox_message.message AS message, outbox.created_at AS created_at, outbox.attempts AS attempts
        FROM outbox JOIN outbox_message ON outbox_message.outbox_id = outbox.id
        WHERE outbox.state IN ('queued', 'deferred') AND outbox.next_attempt_at <= ? AND outbox.id > ? AND outbox.id <= ?
        """

    /// A due message as `dueOutboxMessages` and `claimedOutboxMessages` read it.
    static func outboxMessage(from row: Row) throws -> OutboxMessage {
        OutboxMessage(id: try row.int64("id"), sender: try row.string("sender"), recipient: try row.string("recipient"),
                      bytes: try row.bytes("message"), createdAt: try row.int64("created_at"), attempts: try row.int("attempts"))
    }

    /// Records that the transport accepted message `id` at `now` with `reply`: one appended row
    /// (on SQLite a record in the acceptance log, `AcceptanceLog`), settled into the message by
    /// `settleDeliveredMail()`. Recording it twice keeps the first.
    func recordAccepted(id: Int64, reply: String, now: Int64) throws {
        if let log = try acceptanceLog(recording: false) { return try log.append(CollectionOfOne((id: id, reply: reply)), sentAt: now) }
        try db.execute("""
            INSERT INTO outbox_delivered(outbox_id, sent_at, reply) VALUES (?, ?, ?)
            ON CONFLICT DO NOTHING
            """, [id, now, reply])
    }

    /// Defers message `id` until `until`, counting the attempt made at `now` and keeping `reply`.
    /// False when it was no longer waiting (cancelled, failed or sent meanwhile): nothing changed.
    func deferMessage(id: Int64, until: Int64, reply: String, now: Int64) throws -> Bool {
        try db.execute("""
            UPDATE outbox SET state = 'deferred', attempts = attempts + 1, last_attempt_at = ?,
                next_attempt_at = ?, last_error = ? WHERE id = ? AND state IN ('queued', 'deferred')
            """, [now, until, reply, id])
        return db.changes == 1
    }

    /// Fails message `id` for good, counting the attempt made at `now` and keeping `reason`.
    /// False when it was no longer waiting: nothing changed.
    func failMessage(id: Int64, reason: String, now: Int64) throws -> Bool {
        try db.execute("""
            UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_attempt_at = ?, last_error = ?
            WHERE id = ? AND state IN ('queued', 'deferred')
            """, [now, reason, id])
        return db.changes == 1
    }

    /// Records one outcome; true when it changed the message (an acceptance always counts: the
    /// server has it).
    @discardableResult
    func record(_ disposition: OutboxDisposition, forMessage id: Int64, now: Int64) throws -> Bool {
        switch disposition {
        case .accepted(let reply):
            try recordAccepted(id: id, reply: reply, now: now)
            return true
        case .deferred(let reply, let until):
            return try deferMessage(id: id, until: until, reply: reply, now: now)
        case .failed(let reason):
            return try failMessage(id: id, reason: reason, now: now)
        }
    }

    /// Records several outcomes in one transaction; for each, whether it changed the message.
    func record(_ dispositions: [(id: Int64, disposition: OutboxDisposition)], now: Int64) throws -> [Bool] {
        try db.inTransaction {
            try dispositions.map { try record($0.disposition, forMessage: $0.id, now: now) }
        }
    }

    /// Records a group of outcomes in one transaction, as `record(_:now:)` does, with the
    /// acceptances (the usual case) in multi-row inserts rather than a statement each: one round
    /// trip to a PostgreSQL server per 300 messages, not per message.
    ///
    /// A group of acceptances alone that fits one statement (the usual group: the few replies
    /// that came in while the previous group committed) is that one statement with no
    /// BEGIN and COMMIT around it: a single statement is atomic by itself on both stores, and
    /// on PostgreSQL that is one round trip and one statement for the server per group, not three.
    func recordGroup(_ dispositions: [(id: Int64, disposition: OutboxDisposition)], now: Int64) throws -> [Bool] {
        if dispositions.count <= Self.acceptancesPerStatement {
            var accepted: [(id: Int64, reply: String)] = []
            accepted.reserveCapacity(dispositions.count)
            for (id, disposition) in dispositions {
                guard case .accepted(let reply) = disposition else { break }
                accepted.append((id, reply))
            }
            if accepted.count == dispositions.count {
                try insertAcceptances(accepted, now: now)
                return Array(repeating: true, count: accepted.count)  // an acceptance always counts
            }
        }
        return try db.inTransaction {
            let (accepted, changed) = try recordingAllButAcceptances(dispositions, now: now)
            for rows in accepted.slices(of: Self.acceptancesPerStatement) { try insertAcceptances(rows, now: now) }
            return changed
        }
    }

    /// 300 rows of 3 values stay under SQLite's oldest limit of 999 bound values.
    private static let acceptancesPerStatement = 300

    /// Appends acceptances to `outbox_delivered` in one statement (at most `acceptancesPerStatement`);
    /// on SQLite to the acceptance log, in one write.
    private func insertAcceptances(_ rows: some Collection<(id: Int64, reply: String)>, now: Int64) throws {
        if let log = try acceptanceLog(recording: false) { return try log.append(rows, sentAt: now) }
        let values = Self.placeholders(rows: rows.count, "(?, ?, ?)")
        var arguments: [DatabaseValueConvertible] = []
        arguments.reserveCapacity(rows.count * 3)
        for row in rows { arguments += [row.id, now, row.reply] }
        try db.execute("INSERT INTO outbox_delivered(outbox_id, sent_at, reply) VALUES \(values) ON CONFLICT DO NOTHING", arguments)
    }

    /// Records a group of outcomes in one transaction, as `recordGroup` does, but with the
    /// acceptances marked sent in their outbox rows at once (one multi-row update per 400) rather
    /// than appended to `outbox_delivered` to be settled later: for a transport whose batch is
    /// durable before any of it is reported (the file transport), where a crash before this
    /// commits only delivers the batch again. Each row is then written once, not inserted,
    /// deleted and joined into the outbox by the settling; on PostgreSQL that halves the index
    /// entries a batch adds.
    func recordGroupSent(_ dispositions: [(id: Int64, disposition: OutboxDisposition)], now: Int64) throws -> [Bool] {
        try db.inTransaction {
            let (accepted, changed) = try recordingAllButAcceptances(dispositions, now: now)
            // 400 rows of 2 values and the time twice stay under SQLite's oldest limit of 999.
            for rows in accepted.slices(of: 400) {
                let (sql, arguments) = Self.markingSent(rows, now: now)
                try db.execute(sql, arguments)
            }
            return changed
        }
    }

    /// True when `recordSentWithoutWaiting` sends its statement without waiting for the server
    /// (PostgreSQL), so the caller can work while the server records.
    var recordsSentWithoutWaiting: Bool { db is PostgresDatabase }

    /// Marks messages a transport accepted sent, as `recordGroupSent` does for acceptances, in one
    /// statement per 1,000 (atomic on its own: no transaction around it). On PostgreSQL each is
    /// sent without waiting for the server: its error is thrown by the store's next statement
    /// (or by `finishRecording()`); the file transport's delivery writes the next batch's files
    /// meanwhile.
    ///
    ///     try store.recordSentWithoutWaiting([(id: 7, reply: "written to /var/mail/7.eml")], now: now)
    ///     try store.finishRecording()
    func recordSentWithoutWaiting(_ accepted: [(id: Int64, reply: String)], now: Int64) throws {
        for rows in accepted.slices(of: 1_000) {
            let (sql, arguments) = Self.markingSent(rows, now: now)
            if let postgres = db as? PostgresDatabase {
                try postgres.send(sql, arguments)
            } else {
                try db.execute(sql, arguments)
            }
        }
    }

    /// One statement marking `rows` sent with the transport's reply, as the settling does: an
    /// acceptance always counts (the message has left), and the IN names the rows by id so
    /// SQLite's planner does not scan the outbox.
    private static func markingSent(_ rows: ArraySlice<(id: Int64, reply: String)>, now: Int64) -> (String, [DatabaseValueConvertible]) {
        let values = placeholders(rows: rows.count, "(CAST(? AS BIGINT), ?)")
        var arguments: [DatabaseValueConvertible] = []
        arguments.reserveCapacity(rows.count * 2 + 2)
        for row in rows { arguments += [row.id, row.reply] }
        arguments += [now, now]
        let sql = """
            WITH settled(id, reply) AS (VALUES \(values))
            UPDATE outbox SET state = 'sent', attempts = attempts + 1, last_error = settled.reply,
                sent_at = ?, last_attempt_at = ?
            FROM settled WHERE outbox.id = settled.id AND outbox.id IN (SELECT id FROM settled)
            """
        return (sql, arguments)
    }

    /// Waits for the statement `recordSentWithoutWaiting` sent last, if any, and throws its error.
    func finishRecording() throws {
        try (db as? PostgresDatabase)?.finishSent()
    }

    /// Records every outcome of `dispositions` but the acceptances, one statement each, and returns
    /// the acceptances left for the caller's multi-row statement, with each outcome's "changed"
    /// flag in order (an acceptance always changes its message).
    private func recordingAllButAcceptances(_ dispositions: [(id: Int64, disposition: OutboxDisposition)],
                                            now: Int64) throws -> (accepted: [(id: Int64, reply: String)], changed: [Bool]) {
        var accepted: [(id: Int64, reply: String)] = []
        var changed: [Bool] = []
        for (id, disposition) in dispositions {
            if case .accepted(let reply) = disposition {
                accepted.append((id, reply))
                changed.append(true)
            } else {
                changed.append(try record(disposition, forMessage: id, now: now))
            }
        }
        return (accepted, changed)
    }

    /// Marks every message recorded as accepted sent, in one transaction. The acceptance's reply
    /// becomes the message's last reply (`last_error`, which for a sent message holds the reply
    /// that accepted it, as `mail show` and `mail list --sent` print it).
    func settleDeliveredMail() throws {
        if db.dialect == .postgresql {
            // Several runs record and settle at once there: the rows settled are exactly the rows
            // deleted, in one statement, so an acceptance another run records meanwhile is never
            // deleted unsettled (which would send its message again). The IN names the rows by
            // id, so the planner looks each up by its key: outbox is a narrow table, and from a
            // few hundred acceptances on it would otherwise hash all of it (2,000 acceptances on
            // an outbox of 100,000: 60 ms so, 40 ms by key, EXPLAIN ANALYZE).
            try db.execute(Self.settlingOnPostgreSQL, [])
            return
        }
        let log = try acceptanceLog(recording: false)
        let logged = try log?.entries() ?? []
        try db.inTransaction {
            // One join, the small state row rewritten (the message's bytes live in outbox_message
            // and are not touched). The IN names the outbox rows by id, so SQLite's planner walks
            // the acceptances and finds each message by its id rather than scanning the outbox.
            // On SQLite the table holds only acceptances recorded before the acceptance log, or
            // brought by `db copy` or a backup (which may hold an acceptance settled meanwhile: a
            // message already sent is left as it is); deliveries record in the log.
            try db.execute("""
                UPDATE outbox SET state = 'sent', attempts = attempts + 1, last_error = settled.reply,
                    sent_at = settled.sent_at, last_attempt_at = settled.sent_at
                FROM outbox_delivered AS settled
                WHERE outbox.id = settled.outbox_id AND outbox.id IN (SELECT outbox_id FROM outbox_delivered)
                    AND outbox.state <> 'sent'
                """)
            try db.execute("DELETE FROM outbox_delivered")
            for rows in Self.firstOfEach(logged).slices(of: Self.acceptancesPerStatement) {
                let (sql, arguments) = Self.settlingLogged(rows)
                try db.execute(sql, arguments)
            }
        }
        // Emptied once the rows say sent. A crash before this reads the same records again at
        // the next settle, which leaves the messages already sent as they are.
        try log?.clear()
    }

    /// Into `target`, a copy of this store being made (`backup`, `db copy`): `entries`, the
    /// acceptances waiting in the acceptance log, as rows of `outbox_delivered` its next run
    /// settles, and not the store's id for that log, which the copy draws afresh
    /// (`acceptanceLog(recording:)`). Run inside the copy's transaction; returns the rows it
    /// added less those it removed, for the copy's count.
    @discardableResult
    static func carryingAcceptances(_ entries: [AcceptanceLog.Entry], into target: any StoreDatabase) throws -> Int {
        try target.execute("DELETE FROM installation_secret WHERE name = ?", [acceptanceLogKey])
        var added = -target.changes
        for entry in entries {
            try target.execute("INSERT INTO outbox_delivered(outbox_id, sent_at, reply) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                               [entry.id, entry.sentAt, entry.reply])
            added += target.changes
        }
        return added
    }

    /// The first record of each message (recording twice keeps the first, as the table's key does).
    private static func firstOfEach(_ entries: [AcceptanceLog.Entry]) -> [AcceptanceLog.Entry] {
        var seen = Set<Int64>()
        return entries.filter { seen.insert($0.id).inserted }
    }

    /// One statement marking the logged acceptances `rows` sent, each at its own time with its
    /// reply, as the settling of the table does; a message already sent is left as it is.
    private static func settlingLogged(_ rows: ArraySlice<AcceptanceLog.Entry>) -> (String, [DatabaseValueConvertible]) {
        let values = placeholders(rows: rows.count, "(CAST(? AS BIGINT), ?, ?)")
        var arguments: [DatabaseValueConvertible] = []
        arguments.reserveCapacity(rows.count * 3)
        for row in rows { arguments += [row.id, row.sentAt, row.reply] }
        let sql = """
            WITH settled(id, sent_at, reply) AS (VALUES \(values))
            UPDATE outbox SET state = 'sent', attempts = attempts + 1, last_error = settled.reply,
                sent_at = settled.sent_at, last_attempt_at = settled.sent_at
            FROM settled WHERE outbox.id = settled.id AND outbox.id IN (SELECT id FROM settled) AND outbox.state <> 'sent'
            """
        return (sql, arguments)
    }

    /// PostgreSQL's settling: one statement (see `settleDeliveredMail()`). A message already sent
    /// (an acceptance brought by `db copy` from a SQLite store's log, say) keeps its values: each
    /// column keeps its own when the row says sent (the row is written again as it was, for an
    /// acceptance that rare), rather than a `state <> 'sent'` condition leaving the row out. The
    /// planner would estimate such a condition from the outbox's statistics, which on a working
    /// outbox (analyzed by autovacuum between runs) say nearly every message is sent, and would
    /// take the outbox for the one-row side of the join: every row of it compared with every
    /// acceptance. A settle of 500 took 1.8 s that way on an outbox of 10,000, and 95 ms on one of
    /// 110,000 (there each message was looked up by key, then matched against all 500
    /// acceptances), against 11 ms by key alone (EXPLAIN ANALYZE).
    static let settlingOnPostgreSQL = """
        WITH settled AS (DELETE FROM outbox_delivered RETURNING outbox_id, sent_at, reply)
        UPDATE outbox SET state = 'sent',
            attempts = CASE WHEN outbox.state = 'sent' THEN outbox.attempts ELSE outbox.attempts + 1 END,
            last_error = CASE WHEN outbox.state = 'sent' THEN outbox.last_error ELSE settled.reply END,
            sent_at = CASE WHEN outbox.state = 'sent' THEN outbox.sent_at ELSE settled.sent_at END,
            last_attempt_at = CASE WHEN outbox.state = 'sent' THEN outbox.last_attempt_at ELSE settled.sent_at END
        FROM settled WHERE outbox.id = settled.outbox_id AND outbox.id IN (SELECT outbox_id FROM settled)
        """

    /// On PostgreSQL, sends `settleDeliveredMail()`'s statement without waiting for the server
    /// and returns true: the server settles while the caller works (an SMTP run's next batch,
    /// whose connections record on store connections of their own); the store's next statement,
    /// or `finishRecording()`, reads its result and throws its error. False, settling nothing, on
    /// SQLite: the caller settles with `settleDeliveredMail()`.
    ///
    ///     if try store.sendSettlingDeliveredMail() { try deliverNextBatch() }
    func sendSettlingDeliveredMail() throws -> Bool {
        guard let postgres = db as? PostgresDatabase else { return false }
        try postgres.send(Self.settlingOnPostgreSQL, [])
        return true
    }

    /// Up to `limit` messages in `states`, in id order.
    public func outboxEntries(states: [String], limit: Int = 1000) throws -> [Outbox.Entry] {
        let placeholders = states.map { _ in "?" }.joined(separator: ", ")
        let arguments: [DatabaseValueConvertible] = states + [limit]
        return try db.map("""
            SELECT o.id AS id, m.recipient AS recipient, m.subject AS subject, o.state AS state, o.attempts AS attempts,
                   o.created_at AS created_at, o.next_attempt_at AS next_attempt_at, o.last_error AS last_error,
                   o.acknowledged_at AS acknowledged_at
            FROM outbox AS o JOIN outbox_message AS m ON m.outbox_id = o.id
            WHERE o.state IN (\(placeholders)) ORDER BY o.id LIMIT ?
            """, arguments) {
            Outbox.Entry(id: try $0.int64("id"), recipient: try $0.string("recipient"), subject: try $0.string("subject"),
                         state: try $0.string("state"), attempts: try $0.int("attempts"), createdAt: try $0.int64("created_at"),
                         nextAttemptAt: try $0.int64("next_attempt_at"), lastError: try $0.optionalString("last_error"),
                         acknowledgedAt: try $0.optionalInt64("acknowledged_at"))
        }
    }

    /// Puts failed message `id` back in the queue, due at `now` and counted as queued then (so the
    /// queue lifetime starts again). False when `id` is not a failed message.
    public func requeueFailedMessage(id: Int64, now: Int64) throws -> Bool {
        try db.execute("""
            UPDATE outbox SET state = 'queued', next_attempt_at = ?, created_at = ?, acknowledged_at = NULL, reported_state = NULL
            WHERE id = ? AND state = 'failed'
            """, [now, now, id])
        return db.changes == 1
    }

    /// Requeues every failed message as `requeueFailedMessage` does; returns how many.
    public func requeueFailedMessages(now: Int64) throws -> Int {
        try db.execute("""
            UPDATE outbox SET state = 'queued', next_attempt_at = ?, created_at = ?, acknowledged_at = NULL, reported_state = NULL
            WHERE state = 'failed'
            """, [now, now])
        return db.changes
    }

    /// Removes sent messages sent before `cutoff`.
    func purgeSentMail(before cutoff: Int64) throws {
        try db.inTransaction {
            try db.execute("""
                DELETE FROM outbox_message WHERE outbox_id IN (SELECT id FROM outbox WHERE state = 'sent' AND sent_at < ?)
                """, [cutoff])
            try db.execute("DELETE FROM outbox WHERE state = 'sent' AND sent_at < ?", [cutoff])
        }
    }

    /// The outbox by state. Each count goes through its own partial index: sent mail kept for
    /// `KeepDays` is never walked.
    public func outboxCounts() throws -> Outbox.Counts {
        var counts = Outbox.Counts()
        try db.forEach("SELECT state, count(*) AS messages FROM outbox WHERE state IN ('queued', 'deferred') GROUP BY state") { row in
            if try row.string("state") == "queued" { counts.queued = try row.int("messages") } else { counts.deferred = try row.int("messages") }
        }
        counts.failed = try db.scalarInt("SELECT count(*) FROM outbox WHERE state = 'failed'") ?? 0
        counts.sent = try db.scalarInt("SELECT count(*) FROM outbox WHERE state = 'sent'") ?? 0
        counts.oldestDeferred = try db.first("SELECT min(created_at) AS oldest FROM outbox WHERE state = 'deferred'") {
            try $0.optionalInt64("oldest")
        } ?? nil
        return counts
    }
}
