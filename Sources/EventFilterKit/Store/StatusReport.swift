import Foundation

/// What `eventfilter status` shows: queue depths, digest backlog, failing handlers, mail
/// waiting or failed, and the last run.
public struct StatusReport: Sendable {
    public var unhandledDue = 0
    public var waiting = 0
    public var nextWaiting: Int64?
    public var failingHandlers: [Store.FailingHandler] = []
    /// Events each custom handler gave up on (HandlerGiveUpAfter), kept for KeepDays.
    public var gaveUp: [String: Int] = [:]
    public var digestItems = 0
    public var digestUsers = 0
    public var nextDigest: Int64?
    public var outbox = Outbox.Counts()
    /// Failed messages nobody has acknowledged with `mail ack`.
    public var unacknowledgedFailed = 0
    public var cancelled = 0
    public var lastRunStarted: Int64?
    public var lastRunFinished: Int64?
    public var lastRunError: String?
    /// The process of the last run; while it has not finished, whether that process still exists.
    public var lastRunPID: Int64?
    public var lastRunAlive = false
    /// What `eventfilter check` calls an error, set by the caller that has the settings: a run
    /// would refuse to start.
    public var settingsErrors: [String] = []

    /// The last run has not finished and its process is still there.
    public var runInProgress: Bool { lastRunStarted != nil && lastRunFinished == nil && lastRunAlive }

    public var json: JSONValue {
        func time(_ value: Int64?) -> JSONValue { value.map { .string(Timestamp.iso8601($0)) } ?? .null }
        return [
            "events": ["unhandled": .number(Double(unhandledDue)), "waiting": .number(Double(waiting)), "next_waiting": time(nextWaiting)],
            "failing_handlers": .array(failingHandlers.map {
                ["handler": .string($0.handler), "events": .number(Double($0.events)), "last_error": .string($0.lastError),
                 "failing_since": time($0.failingSince), "next_attempt": time($0.nextAttempt),
                 "stderr": .string($0.stderrTail), "gave_up_events": .number(Double(gaveUp[$0.handler] ?? 0))]
            }),
            "digest": ["items": .number(Double(digestItems)), "users": .number(Double(digestUsers)), "next": time(nextDigest)],
            "mail": ["queued": .number(Double(outbox.queued)), "deferred": .number(Double(outbox.deferred)),
                     "failed": .number(Double(outbox.failed)), "failed_unacknowledged": .number(Double(unacknowledgedFailed)),
                     "cancelled": .number(Double(cancelled)), "sent": .number(Double(outbox.sent)),
                     "oldest_deferred": time(outbox.oldestDeferred)],
            "settings_errors": .array(settingsErrors.map { .string($0) }),
            "last_run": ["started": time(lastRunStarted), "finished": time(lastRunFinished),
                         "error": lastRunError.map { .string($0) } ?? .null,
                         "pid": lastRunPID.map { .number(Double($0)) } ?? .null, "in_progress": .bool(runInProgress)],
        ]
    }
}

extension Store {
    /// With `handlers` (the names notification.ini resolves to), a handler taken out of the
    /// settings is no longer reported as failing.
    public func status(now: Int64, handlers: [String]? = nil) throws -> StatusReport {
        var report = StatusReport()
        try db.forEach("""
            SELECT count(*) FILTER (WHERE not_before IS NULL OR not_before <= ?) AS due,
                   count(*) FILTER (WHERE not_before > ?) AS waiting, min(not_before) FILTER (WHERE not_before > ?) AS next_waiting
            FROM event WHERE handled_at IS NULL
            """, [now, now, now]) {
            report.unhandledDue = try $0.int("due")
            report.waiting = try $0.int("waiting")
            report.nextWaiting = try $0.optionalInt64("next_waiting")
        }
        report.failingHandlers = try failingHandlers(named: handlers)
        report.gaveUp = try gaveUpCounts()
        try db.forEach("SELECT count(*) AS items, count(DISTINCT user_id) AS users, min(send_at) AS next_send FROM digest_item") {
            report.digestItems = try $0.int("items")
            report.digestUsers = try $0.int("users")
            report.nextDigest = try $0.optionalInt64("next_send")
        }
        report.outbox = try outboxCounts()
        report.unacknowledgedFailed = try unacknowledgedFailedMailCount()
        report.cancelled = try db.scalarInt("SELECT count(*) FROM outbox WHERE state = 'cancelled'") ?? 0
        try db.forEach("SELECT started_at, finished_at, error, pid FROM run_log ORDER BY id DESC LIMIT 1") {
            report.lastRunStarted = try $0.int64("started_at")
            report.lastRunFinished = try $0.optionalInt64("finished_at")
            report.lastRunError = try $0.optionalString("error")
            report.lastRunPID = try $0.optionalInt64("pid")
        }
        if report.lastRunFinished == nil, let pid = report.lastRunPID {
            // Signal 0 only asks whether the process exists (EPERM: it does, under another user).
            report.lastRunAlive = kill(pid_t(pid), 0) == 0 || errno == EPERM
        }
        return report
    }

    /// Logs the run's start; returns its id and when the run logged before it started (nil for
    /// the first), read in the same statement.
    func beginRunLog(now: Int64, pid: Int64) throws -> (id: Int64, previousStart: Int64?) {
        try db.first("""
            INSERT INTO run_log(started_at, pid) VALUES (?, ?)
            RETURNING id, (SELECT earlier.started_at FROM run_log AS earlier WHERE earlier.id < run_log.id
                           ORDER BY earlier.id DESC LIMIT 1) AS previous_start
            """, [now, pid]) { (id: try $0.int64("id"), previousStart: try $0.optionalInt64("previous_start")) } ?? (id: 0, previousStart: nil)
    }

    /// A run that failed before its work began (its transport could not be made): started and
    /// finished at once, with the reason.
    func recordFailedRun(now: Int64, pid: Int64, error: String) throws {
        try db.execute("INSERT INTO run_log(started_at, finished_at, pid, error) VALUES (?, ?, ?, ?)", [now, now, pid, error])
    }

    /// Records the run's end and forgets all but the last thousand runs. On PostgreSQL both in
    /// one statement (the deletion a `WITH` clause; the two touch different rows): one round trip.
    func finishRunLog(_ id: Int64, now: Int64, events: Int, messages: Int, digests: Int, delivered: Int, error: String?) throws {
        let finish = "UPDATE run_log SET finished_at = ?, events = ?, messages = ?, digests = ?, delivered = ?, error = ? WHERE id = ?"
        let values: [DatabaseValueConvertible] = [now, events, messages, digests, delivered, error, id]
        guard db.dialect == .sqlite else {
            try db.execute("WITH forgotten AS (DELETE FROM run_log WHERE id < ?) \(finish)", [id - 1000] + values)
            return
        }
        try db.execute(finish, values)
        try db.execute("DELETE FROM run_log WHERE id < ?", [id - 1000])
    }
}
