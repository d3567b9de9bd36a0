/// What `eventfilter status` shows: queue depths, digest backlog, failing handlers, mail
/// waiting or failed, and the last run.
public struct StatusReport: Sendable {
    public var unhandledDue = 0
    public var waiting = 0
    public var nextWaiting: Int64?
    public var failingHandlers: [(handler: String, events: Int, lastError: String)] = []
    public var digestItems = 0
    public var digestUsers = 0
    public var nextDigest: Int64?
    public var outbox = Outbox.Counts()
    public var lastRunStarted: Int64?
    public var lastRunFinished: Int64?
    public var lastRunError: String?

    public var json: JSONValue {
        func time(_ value: Int64?) -> JSONValue { value.map { .string(Timestamp.iso8601($0)) } ?? .null }
        return [
            "events": ["unhandled": .number(Double(unhandledDue)), "waiting": .number(Double(waiting)), "next_waiting": time(nextWaiting)],
            "failing_handlers": .array(failingHandlers.map {
                ["handler": .string($0.handler), "events": .number(Double($0.events)), "last_error": .string($0.lastError)]
            }),
            "digest": ["items": .number(Double(digestItems)), "users": .number(Double(digestUsers)), "next": time(nextDigest)],
            "mail": ["queued": .number(Double(outbox.queued)), "deferred": .number(Double(outbox.deferred)),
                     "failed": .number(Double(outbox.failed)), "sent": .number(Double(outbox.sent)),
                     "oldest_deferred": time(outbox.oldestDeferred)],
            "last_run": ["started": time(lastRunStarted), "finished": time(lastRunFinished),
                         "error": lastRunError.map { .string($0) } ?? .null],
        ]
    }
}

extension Store {
    public func status(now: Int64) throws -> StatusReport {
        var report = StatusReport()
        try db.forEach("""
            SELECT count(*) FILTER (WHERE not_before IS NULL OR not_before <= ?),
                   count(*) FILTER (WHERE not_before > ?), min(not_before) FILTER (WHERE not_before > ?)
            FROM event WHERE handled_at IS NULL
            """, [now, now, now]) {
            report.unhandledDue = $0.int(0)
            report.waiting = $0.int(1)
            report.nextWaiting = $0.isNull(2) ? nil : $0.int64(2)
        }
        report.failingHandlers = try db.map("""
            SELECT handler, count(*), (SELECT last_error FROM event_progress AS p2 WHERE p2.handler = p.handler AND p2.done = 0
                                       ORDER BY updated_at DESC LIMIT 1)
            FROM event_progress AS p WHERE done = 0 GROUP BY handler ORDER BY handler
            """) { (handler: $0.string(0), events: $0.int(1), lastError: $0.string(2)) }
        try db.forEach("SELECT count(*), count(DISTINCT user_id), min(send_at) FROM digest_item") {
            report.digestItems = $0.int(0)
            report.digestUsers = $0.int(1)
            report.nextDigest = $0.isNull(2) ? nil : $0.int64(2)
        }
        report.outbox = try Outbox(store: self).counts()
        try db.forEach("SELECT started_at, finished_at, error FROM run_log ORDER BY id DESC LIMIT 1") {
            report.lastRunStarted = $0.int64(0)
            report.lastRunFinished = $0.isNull(1) ? nil : $0.int64(1)
            report.lastRunError = $0.optionalString(2)
        }
        return report
    }

    func beginRunLog(now: Int64) throws -> Int64 {
        try db.execute("INSERT INTO run_log(started_at) VALUES (?)", [now])
        return db.lastInsertRowID
    }

    func finishRunLog(_ id: Int64, now: Int64, events: Int, messages: Int, digests: Int, delivered: Int, error: String?) throws {
        try db.execute("""
            UPDATE run_log SET finished_at = ?, events = ?, messages = ?, digests = ?, delivered = ?, error = ? WHERE id = ?
            """, [now, events, messages, digests, delivered, error, id])
        try db.execute("DELETE FROM run_log WHERE id < ? - 1000", [id])
    }
}
