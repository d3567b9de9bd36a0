import Foundation

/// Lets a transport's own threads record their messages' outcomes, so an acceptance is recorded
/// (committed; on SQLite written to the acceptance log, `AcceptanceLog`) on a connection's thread
/// (the one that read the server's reply, or another that was committing anyway:
/// ``SMTPDeliveryRun``'s group commit), with no hand-off to the delivering thread and back before
/// that connection may send its next final ".".
///
/// A thread takes a recorder (``take()``: an idle one, or one made for it), records with it, and
/// gives it back when its part of the batch is done (``giveBack(_:)``); the store connections
/// outlive the batch: the next batch's threads take the same ones rather than opening new ones.
/// Every recorder shares ONE store connection, opened beside the outbox's own, used under the
/// in-process lock below (one thread at a time): the commits take turns anyway (one committer
/// at a time, ``SMTPDeliveryRun``). On SQLite a connection that committed last finds its page
/// cache still valid, where commits rotating over one connection per thread each found theirs
/// stale and read the pages again (`strace -c -f` of 10,000 messages over 4 SMTP connections:
/// 1.9 `pread` calls a message against 0.6 with one connection). On PostgreSQL one session means
/// one server backend: commits rotating over a session per thread each woke and scheduled
/// another backend, and the server spent a third of its time switching between them.
///
///     let recorders = OutcomeRecorders(outbox: outbox, now: now) { message, outcome in .accepted(reply: "250 ok") }
///     recorders.decide = nextBatchsDecision   // per batch, before the threads start
///     // on a transport's thread: let recorder = try recorders.take(); try recorder.record([(message, outcome)]); recorders.giveBack(recorder)
///     let report = recorders.report   // once every thread is done
///
/// On SQLite the recorders' commits (and writes to the acceptance log) take turns on an
/// in-process lock before SQLite's write lock: the file's lock is one for every connection, and
/// a connection that finds it taken polls for it (the busy handler), where a thread waiting on
/// the lock is woken as soon as it is free. On both stores the same lock makes the shared
/// connection one thread's at a time: a PostgreSQL session, like a SQLite connection, must not
/// carry two threads' statements at once (a record is sent and its result read under the lock,
/// nothing is left in flight after it).
///
/// Unchecked Sendable: `decide` is set only while no transport thread runs (a thread's start
/// orders it); the idle list, the sums and the opening of connections are behind `lock`.
final class OutcomeRecorders: @unchecked Sendable {
    /// One thread's recorder: the shared store connection and the outcomes it counted.
    final class Recorder {
        fileprivate let outbox: Outbox
        fileprivate var report = Outbox.DeliveryReport()
        /// Unowned: the owner keeps its idle recorders, and outlives every use of them.
        private unowned let owner: OutcomeRecorders

        fileprivate init(outbox: Outbox, owner: OutcomeRecorders) {
            self.outbox = outbox
            self.owner = owner
        }

        /// Commits the outcomes of `group` together in one transaction before returning, as the
        /// outbox records them (again while another process holds the store's lock, for up to its
        /// record patience): one message's, or those a suspended run left alone (one commit for
        /// them all, not one each).
        func record(_ group: [(message: OutgoingMessage, outcome: DeliveryOutcome)]) throws {
            let outcomes = group.map { (id: $0.message.id, disposition: owner.decide($0.message, $0.outcome)) }
            owner.writeTurns.lock()
            defer { owner.writeTurns.unlock() }
            try outbox.recordGroup(outcomes, now: owner.now, into: &report)
            owner.groupsRecorded += 1
        }
    }

    /// What to record for an outcome of this batch (the batch's retry counts and ages); set for
    /// each batch before its threads start.
    var decide: (OutgoingMessage, DeliveryOutcome) -> OutboxDisposition

    private let outbox: Outbox
    fileprivate let now: Int64
    /// Taken around each commit on the shared connection (see the type's note).
    fileprivate let writeTurns = NSLock()
    private let lock = NSLock()
    private var idle: [Recorder] = []
    private var returned = Outbox.DeliveryReport()
    /// The one store connection every recorder commits on, opened by the first `take()`.
    private var shared: Outbox?
    /// Store connections opened to record so far (at most one).
    private(set) var connectionsOpened = 0
    /// Groups recorded so far, each in one commit (on SQLite, one write to the acceptance log);
    /// counted under `writeTurns`, read once every thread is done.
    fileprivate(set) var groupsRecorded = 0

    init(outbox: Outbox, now: Int64, decide: @escaping (OutgoingMessage, DeliveryOutcome) -> OutboxDisposition) {
        self.outbox = outbox
        self.now = now
        self.decide = decide
    }

    /// True when each commit of this delivery's store costs its server real work: PostgreSQL, where a commit of
    /// one row cost its server about 80 us of CPU more per message than a commit of four (166
    /// against 82 us per message, measured with 1 and 4 SMTP connections), and its group commit
    /// did not make up for it when each connection committed its own (4 connections: 2.9-3.4 s
    /// for 10,000 messages against 2.2-2.4 s with the calling thread grouping them; with group
    /// commit among the connections' threads the server still spent 123-132 us per message
    /// against 94-100 us, as a commit gathers only the replies that came in while the previous
    /// one ran, where the calling thread waits for the rest of the window; so there the
    /// connections' threads commit whole windows, ``SMTPDeliveryRun``'s `gathersWholeWindow`). SQLite's
    /// commit in WAL mode is a write to the log without a sync, a few microseconds.
    var commitsAreCostly: Bool { outbox.store.db.dialect == .postgresql }

    /// A recorder for the calling thread alone until it gives it back.
    func take() throws -> Recorder {
        lock.lock()
        defer { lock.unlock() }
        if let recorder = idle.popLast() { return recorder }
        if let shared { return Recorder(outbox: shared, owner: self) }
        var beside = Outbox(store: try outbox.store.openingAnotherConnection(), policy: outbox.policy)
        beside.recordPatience = outbox.recordPatience
        connectionsOpened += 1
        shared = beside
        return Recorder(outbox: beside, owner: self)
    }

    /// The thread is done with `recorder`; its counts join the report.
    func giveBack(_ recorder: Recorder) {
        lock.lock()
        defer { lock.unlock() }
        returned.add(recorder.report)
        recorder.report = Outbox.DeliveryReport()
        idle.append(recorder)
    }

    /// The outcomes recorded by every recorder given back so far.
    var report: Outbox.DeliveryReport {
        lock.lock()
        defer { lock.unlock() }
        return returned
    }
}
