import Foundation

/// The state monitoring reads and writes: cancelled and acknowledged mail, the problems `run` has
/// already printed, custom handler backoff and give-up, and the run in progress.
extension Store {
    // MARK: Cancelling a user's mail

    /// Cancels what is still waiting for `email`: queued and deferred mail become `cancelled`
    /// (kept, so `mail list` shows them) and waiting digest items go. Returns the cancelled mail count.
    /// Runs inside the caller's transaction.
    func cancelWaitingMail(userID: Int64, email: String, now: Int64) throws -> Int {
        try db.execute("""
            UPDATE outbox SET state = 'cancelled', last_attempt_at = ?, last_error = 'cancelled: the user was removed or disabled'
            WHERE state IN ('queued', 'deferred')
              AND id IN (SELECT outbox_id FROM outbox_message WHERE recipient = ? COLLATE NOCASE)
            """, [now, email])
        let cancelled = db.changes
        let contents = try db.map("SELECT content_id FROM digest_item WHERE user_id = ?", [userID]) { try $0.int64("content_id") }
        try db.execute("DELETE FROM digest_item WHERE user_id = ?", [userID])
        // Contents no other user waits for go with the last item.
        try deleteUnreferencedContents(contents)
        return cancelled
    }

    /// Cancelled mail older than the retention goes, as sent mail does.
    func purgeCancelledMail(before cutoff: Int64) throws {
        try db.inTransaction {
            try db.execute("""
                DELETE FROM outbox_message WHERE outbox_id IN (SELECT id FROM outbox WHERE state = 'cancelled' AND last_attempt_at < ?)
                """, [cutoff])
            try db.execute("DELETE FROM outbox WHERE state = 'cancelled' AND last_attempt_at < ?", [cutoff])
        }
    }

    // MARK: Acknowledging failed mail

    /// Marks one failed message as seen by the operator. False when `id` is not a failed message.
    public func acknowledgeFailedMail(id: Int64, now: Int64) throws -> Bool {
        try db.execute("UPDATE outbox SET acknowledged_at = coalesce(acknowledged_at, ?) WHERE id = ? AND state = 'failed'", [now, id])
        return db.changes == 1
    }

    /// Marks every failed message not yet acknowledged; returns how many.
    public func acknowledgeAllFailedMail(now: Int64) throws -> Int {
        try db.execute("""
            UPDATE outbox SET acknowledged_at = ? WHERE state IN ('deferred', 'failed') AND state = 'failed' AND acknowledged_at IS NULL
            """, [now])
        return db.changes
    }

    func unacknowledgedFailedMailCount() throws -> Int {
        try db.scalarInt("""
            SELECT count(*) FROM outbox WHERE state IN ('deferred', 'failed') AND state = 'failed' AND acknowledged_at IS NULL
            """) ?? 0
    }

    func deferredMailCount(createdAtOrBefore cutoff: Int64) throws -> Int {
        try db.scalarInt("""
            SELECT count(*) FROM outbox WHERE state IN ('deferred', 'failed') AND state = 'deferred' AND created_at <= ?
            """, [cutoff]) ?? 0
    }

    // MARK: Problems, for `run`

    /// Failed mail and mail deferred since before `deferredCutoff` that no run has reported yet,
    /// marked reported in the same transaction. The mark lives on the message (`reported_state`),
    /// so a queue full of failures costs a read per run, not a write; a message retried by hand
    /// loses its mark, and fails anew as a new problem.
    func takeNewMailProblems(deferredCutoff: Int64) throws -> [Problem] {
        // One statement marks and returns them, so two runs at once (other hosts) never both
        // report the same message. (outbox_attention's condition is spelled out, so SQLite can use
        // that partial index; `IS DISTINCT FROM` is `<>` where NULL differs from any value.)
        let rows = try db.map("""
            UPDATE outbox SET reported_state = state
            WHERE state IN ('deferred', 'failed')
              AND ((state = 'failed' AND acknowledged_at IS NULL AND reported_state IS DISTINCT FROM 'failed')
                   OR (state = 'deferred' AND created_at <= ? AND reported_state IS NULL))
            RETURNING id, (SELECT recipient FROM outbox_message WHERE outbox_id = outbox.id) AS recipient,
                      coalesce(last_error, '') AS error, state, created_at
            """, [deferredCutoff]) { row in
            (id: try row.int64("id"), recipient: try row.string("recipient"), error: try row.string("error"),
             state: try row.string("state"), createdAt: try row.int64("created_at"))
        }
        // RETURNING gives rows in no set order.
        return rows.sorted { $0.id < $1.id }.map { row in
            row.state == "failed"
                ? Problem(kind: .mailFailed, key: "mail-failed:\(row.id)", message: "mail \(row.id) to \(row.recipient) failed: \(row.error)")
                : Problem(kind: .mailDeferred, key: "mail-deferred:\(row.id)",
                          message: "mail \(row.id) to \(row.recipient) deferred since \(Timestamp.iso8601(row.createdAt)): \(row.error)")
        }
    }

    /// The handler problems there are now, keyed so that the same problem has the same key from
    /// run to run. `handlers` are the configured handler names.
    func currentHandlerProblems(handlers: [String]) throws -> [Problem] {
        var problems: [Problem] = []
        for failing in try failingHandlers(named: handlers) {
            let message = failing.handler == "ezgeneraldigest"
                ? "a digest could not be composed: \(failing.lastError)"
                : "handler \(failing.handler) is failing: \(failing.lastError)"
            // A custom handler's failing period has a start: failing anew is a new problem, even when
            // no run saw it recover in between.
            let period = failing.failingSince.map { ":\($0)" } ?? ""
            problems.append(Problem(kind: .handlerFailing, key: "handler:\(failing.handler)\(period)", message: message))
        }
        return problems
    }

    /// Records `current` as the problems run `runID` found, and returns those not reported before.
    /// A key no run found since is forgotten, so its problem is printed again if it comes back.
    func takeNewProblems(_ current: [Problem], runID: Int64, now: Int64) throws -> [Problem] {
        // No problem now (most runs): forgetting the earlier ones is one statement, atomic on its
        // own, with no transaction around it (on PostgreSQL one round trip rather than three).
        guard !current.isEmpty else {
            try db.execute("DELETE FROM reported_problem WHERE seen_run < ?", [runID])
            return []
        }
        return try db.inTransaction {
            var fresh: [Problem] = []
            for problem in current {
                try db.execute("""
                    INSERT INTO reported_problem(key, message, reported_at, seen_run) VALUES (?, ?, ?, ?)
                    ON CONFLICT(key) DO NOTHING
                    """, [problem.key, problem.message, now, runID])
                if db.changes == 1 {
                    fresh.append(problem)
                } else {
                    try db.execute("UPDATE reported_problem SET seen_run = ? WHERE key = ?", [runID, problem.key])
                }
            }
            try db.execute("DELETE FROM reported_problem WHERE seen_run < ?", [runID])
            return fresh
        }
    }

    // MARK: Failing handlers

    /// A handler that is failing, as `status` shows it.
    ///
    ///     for failing in try store.failingHandlers(named: ["feed"]) {
    ///         print(failing.handler, failing.lastError, failing.nextAttempt ?? 0)
    ///     }
    public struct FailingHandler: Sendable {
        public let handler: String
        /// Events waiting for it after a failure.
        public let events: Int
        public let lastError: String
        /// For a custom handler in backoff: since when it fails, and its next attempt.
        public let failingSince: Int64?
        public let nextAttempt: Int64?
        /// The last lines of a custom handler's stderr.
        public let stderrTail: String
    }

    /// Handlers with events waiting after a failure, and custom handlers in backoff: all of them,
    /// or (for a run, through the indexes alone) those named.
    public func failingHandlers(named names: [String]? = nil) throws -> [FailingHandler] {
        var result: [String: FailingHandler] = [:]
        let filter = names == nil ? "" : "AND handler IN (\(db.elements(of: .text)))"
        let list: [DatabaseValueConvertible] = names.map { [JSONValue.array($0.map { .string($0) }).serialized] } ?? []
        // One query, one round trip on PostgreSQL: the events waiting after a failure (source
        // 'progress'), then the custom handlers in backoff ('state'), whose row wins.
        try db.forEach("""
            SELECT 'progress' AS source, handler, count(*) AS events,
                   (SELECT last_error FROM event_progress AS p2 WHERE p2.handler = p.handler AND p2.done = 0
                    ORDER BY updated_at DESC LIMIT 1) AS last_error,
                   CAST(NULL AS BIGINT) AS failing_since, CAST(NULL AS BIGINT) AS next_attempt_at, CAST(NULL AS TEXT) AS stderr_tail
            FROM event_progress AS p WHERE done = 0 \(filter) GROUP BY handler
            UNION ALL
            SELECT 'state' AS source, handler, 0 AS events, last_error, failing_since, next_attempt_at, stderr_tail
            FROM handler_state WHERE 1 = 1 \(filter)
            ORDER BY source
            """, list + list) {
            let name = try $0.string("handler")
            if try $0.string("source") == "progress" {
                result[name] = FailingHandler(handler: name, events: try $0.int("events"), lastError: try $0.optionalString("last_error") ?? "",
                                              failingSince: nil, nextAttempt: nil, stderrTail: "")
            } else {
                result[name] = FailingHandler(handler: name, events: result[name]?.events ?? 0, lastError: try $0.string("last_error"),
                                              failingSince: try $0.int64("failing_since"), nextAttempt: try $0.int64("next_attempt_at"),
                                              stderrTail: try $0.string("stderr_tail"))
            }
        }
        return result.values.sorted { $0.handler < $1.handler }
    }

    /// A custom handler's backoff, when it has failed and not succeeded since.
    func handlerBackoff(_ handler: String) throws -> (nextAttempt: Int64, lastError: String)? {
        try db.first("SELECT next_attempt_at, last_error FROM handler_state WHERE handler = ?", [handler]) {
            (nextAttempt: try $0.int64("next_attempt_at"), lastError: try $0.string("last_error"))
        }
    }

    /// One more failure of a custom handler: the next attempt waits `delay(failures)` seconds.
    func recordHandlerFailure(_ handler: String, error: String, stderrTail: String, now: Int64,
                              delay: (Int) -> Int64) throws {
        // The count goes up in the statement that writes it, so failures of two runs at once both count.
        try db.inTransaction {
            let failures = try db.first("""
                INSERT INTO handler_state(handler, failing_since, failures, next_attempt_at, last_error, stderr_tail)
                VALUES (?, ?, 1, ?, ?, ?)
                ON CONFLICT(handler) DO UPDATE SET failures = handler_state.failures + 1,
                    last_error = excluded.last_error, stderr_tail = excluded.stderr_tail
                RETURNING failures
                """, [handler, now, now, error, stderrTail]) { try $0.int("failures") } ?? 1
            try db.execute("UPDATE handler_state SET next_attempt_at = ? WHERE handler = ?", [now + delay(failures), handler])
        }
    }

    func recordHandlerSuccess(_ handler: String) throws {
        try db.execute("DELETE FROM handler_state WHERE handler = ?", [handler])
    }

    /// The handler will not handle this event: the pair counts as done (so the event goes on
    /// without it) and the reason is kept, reported once and shown in `status`.
    func giveUp(event: Int64, handler: String, error: String, now: Int64) throws {
        try markHandlerDone(event: event, handler: handler, now: now)
        try db.execute("""
            INSERT INTO handler_gave_up(event_id, handler, error, gave_up_at) VALUES (?, ?, ?, ?)
            ON CONFLICT(event_id, handler) DO UPDATE SET error = excluded.error, gave_up_at = excluded.gave_up_at
            """, [event, handler, error, now])
    }

    func purgeGaveUp(before cutoff: Int64) throws {
        try db.execute("DELETE FROM handler_gave_up WHERE gave_up_at < ?", [cutoff])
    }

    func gaveUpCounts() throws -> [String: Int] {
        var counts: [String: Int] = [:]
        try db.forEach("SELECT handler, count(*) AS events FROM handler_gave_up GROUP BY handler") {
            counts[try $0.string("handler")] = try $0.int("events")
        }
        return counts
    }
}
