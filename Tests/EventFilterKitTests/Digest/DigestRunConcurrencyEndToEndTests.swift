import EventFilterKit
import Foundation
import XCTest

/// A digest sent on PostgreSQL while another session adds an item for the same reader: the
/// digest run reads the reader's due items, then removes them in a later statement, and under
/// READ COMMITTED a commit in between is seen by the removal. The test holds a SHARE lock on
/// `digest_item` from its own session, so the run's removal waits for it, adds the item, then
/// commits; the reader must still get one digest with everything, and the run must succeed.
final class DigestRunConcurrencyEndToEndTests: XCTestCase {
    private let now = "2026-05-04T10:00:00Z"
    private let tick = "2026-05-05T08:00:00Z"

    func testAnItemAddedBetweenTheDigestsCheckAndItsRemovalIsSentInTheSameRun() throws {
        let database = try TestPostgres.server().makeDatabase()
        let root = try TestRoot(postgres: database)
        for user in ["ann", "bob"] {
            try root.ok("user", "add", "\(user)@example.com", now: now)
            try root.ok("subscribe", "\(user)@example.com", "2", now: now)
        }
        try root.ok("digest", "ann@example.com", "daily", "08:00", now: now)
        try root.ok("digest", "bob@example.com", "weekly", "monday", "08:00", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=101", "path=/1/2/101/", "name=Story 1", now: now)
        try root.ok("run", now: now)
        // Story 2 held for bob only: its content is what the other session gives ann meanwhile.
        try root.ok("event", "add", "ezpublish", "node_id=102", "path=/1/2/102/", "name=Story 2", now: now)
        try root.ok("unsubscribe", "ann@example.com", "2", now: now)
        try root.ok("run", now: now)
        try root.ok("subscribe", "ann@example.com", "2", now: now)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM digest_item"), 3)

        let holder = try database.connect(), observer = try database.connect()
        try holder.executeScript("BEGIN; LOCK TABLE digest_item IN SHARE MODE")
        let run = try startRun(root, now: tick)
        defer { if run.process.isRunning { kill(run.process.processIdentifier, SIGKILL); run.process.waitUntilExit() } }
        // The run's first write to digest_item is ann's removal: wait until it waits (at most 30 s).
        try waitUntilTheRemovalWaits(run, observer: observer)
        try holder.executeScript("""
            INSERT INTO digest_item(user_id, content_id, send_at)
                SELECT a.id, i.content_id, 0 FROM "user" a, digest_item i JOIN "user" b ON b.id = i.user_id
                WHERE a.email = 'ann@example.com' AND b.email = 'bob@example.com'
                  AND i.content_id NOT IN (SELECT content_id FROM digest_item WHERE user_id = a.id);
            COMMIT
            """)
        waitForTheEnd(of: run)

        let errors = try String(contentsOf: run.errors, encoding: .utf8)
        XCTAssertEqual(run.process.terminationStatus, 0, errors)
        XCTAssertEqual(errors, "")
        let report = try String(contentsOf: run.output, encoding: .utf8)
        XCTAssertTrue(report.contains("; queued 1 messages (1 digests); "), "the digest counted once: \(report)")
        let mails = try root.mails()
        XCTAssertEqual(mails.map(\.to), ["ann@example.com"], "one digest, to ann")
        XCTAssertTrue(mails.first.map { $0.text.contains("Story 1") && $0.text.contains("Story 2") } ?? false,
                      "both items in it: \(mails.first?.text ?? "")")
        XCTAssertEqual(try root.scalar("""
            SELECT count(*) FROM digest_item WHERE user_id = (SELECT id FROM "user" WHERE email = 'ann@example.com')
            """), 0, "ann's items went with the digest")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM digest_item"), 2, "bob's two items wait for his weekly digest")
    }

    /// Another run (`run --workers N`, or a run on another host) is sending ann's digest: it holds
    /// her claim and has removed her items, not yet committed. This run leaves her for the end,
    /// reads the items still there, and its removal waits for the other's commit, then finds
    /// them gone: nothing is sent twice, and that is no failure of this run.
    func testADigestAnotherRunSendsMeanwhileIsLeftToItWithoutAFailure() throws {
        let database = try TestPostgres.server().makeDatabase()
        let root = try TestRoot(postgres: database)
        try root.ok("user", "add", "ann@example.com", now: now)
        try root.ok("subscribe", "ann@example.com", "2", now: now)
        try root.ok("digest", "ann@example.com", "daily", "08:00", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=101", "path=/1/2/101/", "name=Story 1", now: now)
        try root.ok("run", now: now)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM digest_item"), 1)

        let other = try database.connect(), observer = try database.connect()
        try other.executeScript("""
            BEGIN;
            SELECT 1 FROM "user" WHERE email = 'ann@example.com' FOR NO KEY UPDATE;
            DELETE FROM digest_item WHERE user_id = (SELECT id FROM "user" WHERE email = 'ann@example.com')
            """)
        let run = try startRun(root, now: tick)
        defer { if run.process.isRunning { kill(run.process.processIdentifier, SIGKILL); run.process.waitUntilExit() } }
        try waitUntilTheRemovalWaits(run, observer: observer)
        try other.executeScript("COMMIT")
        waitForTheEnd(of: run)

        let errors = try String(contentsOf: run.errors, encoding: .utf8)
        XCTAssertEqual(run.process.terminationStatus, 0, errors)
        let report = try String(contentsOf: run.output, encoding: .utf8)
        XCTAssertTrue(report.contains("handled 1 events; queued 0 messages (0 digests); held 0 items for digests in "),
                      "no digest from this run, and no handler failure: \(report)")
        XCTAssertEqual(try root.mails().count, 0)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event WHERE handled_at IS NULL"), 0, "the tick is done, not left to retry")
    }

    private struct Started {
        let process: Process
        let output: URL
        let errors: URL
    }

    /// Waits (at most 30 s) until the run's removal of a reader's items waits for a lock the
    /// test holds, and asserts that it is that statement which waits.
    private func waitUntilTheRemovalWaits(_ run: Started, observer: PostgresConnection,
                                          file: StaticString = #filePath, line: UInt = #line) throws {
        let deadline = Date().addingTimeInterval(30)
        var waiting = ""
        while waiting.isEmpty, Date() < deadline, run.process.isRunning {
            waiting = try observer.first("""
                SELECT coalesce(string_agg(query, ' | '), '') AS waiting FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'
                """)?.string("waiting") ?? ""
            if waiting.isEmpty { usleep(20_000) }
        }
        XCTAssertTrue(waiting.hasPrefix("DELETE FROM digest_item WHERE user_id = $1 AND send_at <= $2"), "waiting: \(waiting)",
                      file: file, line: line)
    }

    /// Waits (at most 60 s) for the run to exit, and asserts that it did.
    private func waitForTheEnd(of run: Started, file: StaticString = #filePath, line: UInt = #line) {
        let finished = Date().addingTimeInterval(60)
        while run.process.isRunning, Date() < finished { usleep(20_000) }
        XCTAssertFalse(run.process.isRunning, "the run finished within 60 s", file: file, line: line)
        run.process.waitUntilExit()
    }

    /// `eventfilter run --verbose` started in the background; its stdout and stderr go to files.
    private func startRun(_ root: TestRoot, now: String) throws -> Started {
        let output = root.url.appendingPathComponent("run.out"), errors = root.url.appendingPathComponent("run.err")
        let process = try root.start(["run", "--verbose"], now: now, output: output, errors: errors)
        return Started(process: process, output: output, errors: errors)
    }
}
