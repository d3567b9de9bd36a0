import Foundation
import XCTest

@testable import EventFilterKit

/// The run lock on PostgreSQL: a run there needs neither the lock file nor a lock in the
/// database (runs share the work through claims); `mail flush` takes a session advisory lock.
final class RunLockEndToEndTests: XCTestCase {
    private let now = "2026-05-04T10:00:00Z"
    private var ownDatabase: TestPostgresDatabase?
    private var database: TestPostgresDatabase!

    override func tearDown() {
        database = nil
        ownDatabase = nil
    }

    /// An installation on PostgreSQL: the suite's database for the root when the suite runs on
    /// PostgreSQL, else one of the test's own selected in the suite's settings override.
    private func postgresRoot() throws -> TestRoot {
        let root = try TestRoot()
        if let postgres = root.postgres {
            database = postgres
        } else {
            ownDatabase = try TestPostgres.server().makeDatabase()
            database = ownDatabase
            try root.write("settings/override/site.ini.append", """
                [DatabaseSettings]
                Backend=postgresql
                ConnectionString=\(database.connectionString)

                """)
        }
        try root.ok("user", "add", "r@example.com", now: now)
        try root.ok("subscribe", "r@example.com", "2", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", now: now)
        return root
    }

    func testARunOnPostgreSQLDoesNotNeedTheLockFile() throws {
        let root = try postgresRoot()
        // Another program holds flock on the SQLite run's lock file: a PostgreSQL run never looks at it.
        var input: Pipe?
        let holder = try RunLockHolder.holdFileLock(root.url.appendingPathComponent("var/eventfilter.lock"), input: &input)
        defer { try? input?.fileHandleForWriting.close(); holder.waitUntilExit() }
        let run = try root.ok("run", "--verbose", now: now)
        XCTAssertTrue(run.hasPrefix("handled 2 events; queued 1 messages"), run)
        XCTAssertEqual(try root.mailFiles().count, 1)
    }

    func testMailFlushFindsTheAdvisoryLockTakenWhileARunStillWorks() throws {
        let root = try postgresRoot()
        // A flush of another machine on the same database holds the lock.
        let other = try database.connect()
        _ = try other.execute("SELECT pg_advisory_lock(CAST($1 AS bigint))", [Store.runLockKey])
        let before = try snapshot(other)
        XCTAssertEqual(before, "events 1:unhandled; run_log 0; outbox 0")
        let flush = try root.run(["mail", "flush"], now: now)
        XCTAssertEqual(flush.status, 1)
        XCTAssertEqual(flush.stderr, "eventfilter: a run is working now; it delivers the queue, or try again when it has finished\n")
        XCTAssertEqual(try snapshot(other), before, "the refused flush changed nothing")

        // Runs take no lock on PostgreSQL: they share the work through claims.
        let run = try root.ok("run", "--verbose", now: now)
        XCTAssertTrue(run.hasPrefix("handled 2 events; queued 1 messages"), run)
        XCTAssertEqual(try root.mailFiles().count, 1)
        _ = try other.execute("SELECT pg_advisory_unlock(CAST($1 AS bigint))", [Store.runLockKey])
    }

    /// The rows a run would change: each event's state, the run log, the outbox.
    private func snapshot(_ db: PostgresConnection) throws -> String {
        let events = try db.execute("SELECT id, handled_at FROM event ORDER BY id").rows
            .map { "\(try $0.int64("id")):\(try $0.isNull("handled_at") ? "unhandled" : "handled")" }
        let runs = try db.first("SELECT count(*) AS n FROM run_log")?.int64("n") ?? -1
        let mail = try db.first("SELECT count(*) AS n FROM outbox")?.int64("n") ?? -1
        return "events \(events.joined(separator: ",")); run_log \(runs); outbox \(mail)"
    }
}
