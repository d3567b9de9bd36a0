import CPosix
import Foundation

/// Takes SQLite's write-ahead-log checkpoints off a long-lived writer's answer path. By default
/// the commit that grows the log past 1,000 pages copies it back into the database file and
/// syncs both files before it returns: under a steady stream of webhooks one commit in a few
/// dozen waits that long, and so do the answers waiting on it. With this, the writer's own
/// connection never checkpoints (`wal_autocheckpoint=0`), and a thread with a connection of its
/// own runs a PASSIVE checkpoint every `intervalMilliseconds`: it copies what is committed while
/// writers go on, and the log is started again from the top once all of it is copied. Durability
/// is as before: a commit is in the log before it is answered; a checkpoint only moves it.
///
///     let checkpointer = try BackgroundCheckpointer.start(for: store)   // nil on PostgreSQL, which has no such log
///     // ... serve; the checkpoints happen beside it until the process exits or `stop()`
///
/// A long batch writer (the run's filter) keeps its own automatic checkpoints as a bound on the
/// log (`writerCheckpoints: true`): the thread copies most of the log while the writer composes
/// its next transaction, so the writer's own checkpoints find little left to copy.
public final class BackgroundCheckpointer: @unchecked Sendable {
    private let connection: Database
    private let intervalMilliseconds: Int
    private let condition = NSCondition()
    private var stopped = false
    private var finished = false

    /// The checkpointer of a SQLite store; nil for a store on PostgreSQL (whose server checkpoints itself).
    public static func start(for store: Store) throws -> BackgroundCheckpointer? {
        guard let database = store.db as? Database else { return nil }
        return try BackgroundCheckpointer(database: database)
    }

    /// Turns `database`'s automatic checkpoints off and starts the thread.
    /// Small and frequent is best: each checkpoint then has little to copy and sync, and a commit
    /// that meets it waits little (at 16 connections, 20 ms gave a p99 of 3-6 ms, 100 ms and
    /// 1 s gave 8-77 ms).
    public init(database: Database, intervalMilliseconds: Int = 20, writerCheckpoints: Bool = false) throws {
        connection = try Database(path: database.path, busyTimeout: 0, mode: .readWrite)
        self.intervalMilliseconds = intervalMilliseconds
        if !writerCheckpoints { try database.execute("PRAGMA wal_autocheckpoint=0") }
        let thread = Thread { [self] in run() }
        thread.name = "eventfilter checkpoints"
        thread.start()
    }

    /// Ends the thread after its current checkpoint.
    public func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// Ends the thread and returns once it has ended: no checkpoint of it is running any more, so
    /// the writer's own checkpoint that follows is not turned away as busy.
    public func stopAndWait() {
        stop()
        condition.lock()
        while !finished { condition.wait() }
        condition.unlock()
    }

    private func run() {
        // Named for `top -H` and /proc/PID/task/TID/comm (15 bytes at most); Thread.name alone
        // does not reach the kernel on Linux.
        _ = cposix_name_this_thread("ef-checkpoints")
        condition.lock()
        while !stopped {
            // A wait that `stop()` ends at once, rather than a sleep it would have to sit out.
            _ = condition.wait(until: Date().addingTimeInterval(Double(intervalMilliseconds) / 1000))
            if stopped { break }
            condition.unlock()
            // PASSIVE never waits for a lock; a checkpoint another process is running makes this
            // one a no-op (SQLITE_BUSY), and the next round tries again.
            _ = try? connection.first("PRAGMA wal_checkpoint(PASSIVE)") { _ in true }
            condition.lock()
        }
        finished = true
        condition.broadcast()
        condition.unlock()
    }
}
