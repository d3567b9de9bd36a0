/// Claims: how any number of `run` processes (several cron hosts, or `run --workers N`) share the
/// queues of one PostgreSQL store without doing anything twice.
///
/// A run takes a worker number from the sequence `worker_number` on its first claim and holds
/// the session advisory lock (`workerLockClass`, number) until its connection ends. It claims a
/// batch of due events or outbox messages by writing its number into their `claimed_by`, picking
/// them with `FOR UPDATE SKIP LOCKED`, so two runs claiming at the same moment take different
/// rows and neither waits. A claim counts while its owner's lock is held: a run that exits, or
/// is killed (`kill -9`), or loses its connection, ends its session, PostgreSQL drops the lock,
/// and its unfinished claims are free at once, with no lease to wait out and no clock to trust;
/// a slow run (a slow SMTP server) never loses its claims while it lives. The work itself commits
/// as before (an event's items with its handled mark; a message's acceptance as soon as the
/// server gave it), so a claim only decides who works a row, never what is kept.
///
/// On SQLite one run works at a time (the flock on `var/eventfilter.lock`): claiming is reading.
///
///     let events = try store.claimDueEvents(after: 0, now: now, limit: 500)
///     let sizes = try store.claimDueOutbox(now: now, after: 0, limit: 500)
///     let sent = try store.claimingDigest(of: userID) { try send() }   // false: another run has it
extension Store {
    /// The advisory lock class of workers' locks: "EvWk" in ASCII.
    static let workerLockClass: Int32 = 0x4576_576B

    /// Whether several runs may work this store at once (PostgreSQL), each on its own claims.
    public var sharesWork: Bool { db.dialect == .postgresql }

    /// This run's worker number, drawn and locked on first use (PostgreSQL only). The session
    /// lock outlives any transaction it was taken in, rolled back or not.
    func worker() throws -> Int {
        if let workerNumber { return workerNumber }
        // Drawn and locked in one statement, one round trip (the WITH clause runs nextval once).
        let number = try db.first("""
            WITH drawn AS (SELECT nextval('worker_number')::integer AS number)
            SELECT number, pg_advisory_lock(?::integer, number)::text AS locked FROM drawn
            """, [Int(Self.workerLockClass)]) { try $0.int("number") } ?? 0
        workerNumber = number
        return number
    }

    /// SQL true when a row's `claimed_by` is free for worker `?`: unclaimed, claimed by that worker,
    /// or claimed by a run whose session (and so its lock) is gone. Takes one argument, the worker.
    private var claimable: String {
        """
        (claimed_by IS NULL OR claimed_by = ? OR claimed_by NOT IN (
            SELECT objid::bigint FROM pg_locks
            WHERE locktype = 'advisory' AND classid = \(Self.workerLockClass) AND objsubid = 2 AND granted
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())))
        """
    }

    /// Claims up to `limit` due unhandled events after `afterID` for this run, oldest first: on
    /// PostgreSQL those no other live run has claimed; on SQLite simply the due events.
    func claimDueEvents(after afterID: Int64, now: Int64, limit: Int) throws -> [Event] {
        guard sharesWork else { return try dueEvents(after: afterID, now: now, limit: limit) }
        let me = try worker()
        let events = try db.map("""
            UPDATE event SET claimed_by = ? WHERE id IN (
                SELECT id FROM event
                WHERE handled_at IS NULL AND id > ? AND (not_before IS NULL OR not_before <= ?) AND \(claimable)
                ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED)
            RETURNING id, type, params, created_at, not_before
            """, [me, afterID, now, me, limit]) { try Self.event(from: $0) }
        return events.sorted { $0.id < $1.id }
    }

    /// Claims up to `limit` queued or deferred messages due at `now`, with ids above `after`, in id
    /// order, and returns their ids and sizes (reading no message). On PostgreSQL only those no
    /// other live run has claimed, and none whose acceptance is recorded but not yet settled (it
    /// has left already); on SQLite simply the due messages. Delivery claims the next batch before
    /// the current one's acceptances are settled: ids above `after` (the current batch's last)
    /// are what keep those out on SQLite.
    func claimDueOutbox(now: Int64, after: Int64, limit: Int) throws -> [(id: Int64, size: Int)] {
        guard sharesWork else { return try dueOutboxSizes(now: now, after: after, limit: limit) }
        let me = try worker()
        // The recorded acceptances are left out with NOT IN, which PostgreSQL answers from one hash
        // of outbox_delivered's few keys (never NULL: the primary key), not with NOT EXISTS, which
        // it plans as a probe of outbox_delivered's index for every candidate row. When its
        // statistics put few rows in the queue (a queue just filled, its rows sent the last
        // time they were counted) it reads every due row above `after` and sorts them before the
        // LIMIT: a claim of 500 from the middle of 10,000 took 18.7 ms so (20,173 buffers, two per
        // probe), 6.5 ms with the hash (254), EXPLAIN ANALYZE.
        let claimed = try db.map("""
            WITH claimed AS (
                UPDATE outbox SET claimed_by = ? WHERE id IN (
                    SELECT id FROM outbox
                    WHERE state IN ('queued', 'deferred') AND next_attempt_at <= ? AND id > ? AND \(claimable)
                      AND id NOT IN (SELECT outbox_id FROM outbox_delivered)
                    ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED)
                RETURNING id)
            SELECT claimed.id AS id, length(outbox_message.message) AS size
            FROM claimed JOIN outbox_message ON outbox_message.outbox_id = claimed.id
            """, [me, now, after, me, limit]) { (id: try $0.int64("id"), size: try $0.int("size")) }
        return claimed.sorted { $0.id < $1.id }
    }

    /// Gives back this run's claims on the messages still waiting (a delivery cut off, with a
    /// batch claimed ahead it will not deliver), as the end of its session would: another live
    /// run may take them at once. A message whose acceptance is recorded stays out of every
    /// claim until settled (`claimDueOutbox`). Nothing on SQLite, where claiming is reading.
    func releaseOutboxClaims() throws {
        guard sharesWork else { return }
        try db.execute("""
            UPDATE outbox SET claimed_by = NULL WHERE claimed_by = ? AND state IN ('queued', 'deferred')
            """, [try worker()])
    }

    /// The messages this run claimed (on SQLite: the due ones) with ids above `after` and up to
    /// `through`, in id order.
    func claimedOutboxMessages(now: Int64, after: Int64, through: Int64) throws -> [OutboxMessage] {
        guard sharesWork, let postgres = db as? PostgresDatabase else {
            return try dueOutboxMessages(now: now, after: after, through: through)
        }
        // The bodies as bytes: in the text format the server spells each in hex (twice its size)
        // and this process reads the digits back, both on delivery's critical path.
        return try postgres.mapBinary("\(Self.selectingDueOutboxMessages) AND outbox.claimed_by = ? ORDER BY outbox.id",
                                      [now, after, through, try worker()]) { try Self.outboxMessage(from: $0) }
    }

    /// Runs `body` (composing and queueing one user's digest) holding that user's digest claim,
    /// and returns true; or returns false at once, running nothing, when another run holds it.
    /// On PostgreSQL the claim is the user's row locked `FOR NO KEY UPDATE SKIP LOCKED` in a
    /// transaction around `body` (which still lets the filter add digest items for the user); on
    /// SQLite the one run needs no claim.
    func claimingDigest(of userID: Int64, _ body: () throws -> Void) throws -> Bool {
        guard sharesWork else {
            try body()
            return true
        }
        return try db.inTransaction {
            guard try db.scalarInt("SELECT 1 FROM user WHERE id = ? FOR NO KEY UPDATE SKIP LOCKED", [userID]) != nil else {
                return false
            }
            try body()
            return true
        }
    }
}
