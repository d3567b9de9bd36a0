import Foundation
import XCTest

/// What a run removes once it is older than its retention (`KeepDays`, 7 by default, and
/// `KeepDedupeDays`, 90), and what it keeps: on PostgreSQL all of it is one statement, so each
/// table is checked here on its own, a row just past its retention next to one just inside it;
/// and when: the first run of each clock hour purges.
final class RetentionEndToEndTests: XCTestCase {
    private let now = "2026-05-20T10:00:00Z"
    private let time: Int64 = 1_779_271_200  // 2026-05-20T10:00:00Z
    private let day: Int64 = 86_400

    /// A store made by a first run, with nothing else in it.
    private func emptyStore() throws -> TestRoot {
        let root = try TestRoot()
        try root.ok("run", now: "2026-05-01T10:00:00Z")
        return root
    }

    func testARunPurgesEachTableAtItsRetentionAndKeepsWhatIsYounger() throws {
        let root = try emptyStore()
        let old = time - 8 * day, young = time - 6 * day          // KeepDays: 7
        let forgotten = time - 91 * day, remembered = time - 89 * day  // KeepDedupeDays: 90
        try root.execute("""
            INSERT INTO event(type, params, created_at, handled_at) VALUES
                ('ezpublish', '{"name":"old"}', \(old), \(old)), ('ezpublish', '{"name":"young"}', \(old), \(young));
            INSERT INTO dedupe_key(key, event_id, created_at) VALUES ('old', 1, \(forgotten)), ('young', 1, \(remembered));
            INSERT INTO webhook_object(source, object_type, object_id, end_date, ready_at, updated_at) VALUES
                ('k', 'schedule_event', 'old', \(forgotten), NULL, \(forgotten)),
                ('k', 'schedule_event', 'ending', \(remembered), NULL, \(forgotten)),
                ('k', 'entry', 'ready', NULL, \(forgotten), \(forgotten)),
                ('k', 'schedule_event', 'young', \(forgotten), NULL, \(remembered));
            INSERT INTO deleted_node(node_id, deleted_at) VALUES ('old', \(forgotten)), ('young', \(remembered));
            INSERT INTO outbox(state, created_at, next_attempt_at, last_attempt_at, sent_at) VALUES
                ('sent', \(old), \(old), \(old), \(old)),
                ('sent', \(old), \(old), \(young), \(young)),
                ('cancelled', \(old), \(old), \(old), NULL),
                ('cancelled', \(old), \(old), \(young), NULL),
                ('failed', \(old), \(old), \(old), NULL);
            UPDATE outbox SET acknowledged_at = \(old) WHERE state = 'failed';
            INSERT INTO outbox_message(outbox_id, recipient, sender, message_id, subject, message) VALUES
                (1, 'a@example.com', 's@example.com', '<1@x>', 'sent old', 'x'),
                (2, 'a@example.com', 's@example.com', '<2@x>', 'sent young', 'x'),
                (3, 'a@example.com', 's@example.com', '<3@x>', 'cancelled old', 'x'),
                (4, 'a@example.com', 's@example.com', '<4@x>', 'cancelled young', 'x'),
                (5, 'a@example.com', 's@example.com', '<5@x>', 'failed old', 'x');
            INSERT INTO handler_gave_up(event_id, handler, error, gave_up_at) VALUES (1, 'old', 'e', \(old)), (1, 'young', 'e', \(young));
            INSERT INTO bounce(outbox_id, hard, recipient, status, diagnostic, received_at) VALUES
                (1, 1, 'a@example.com', '5.1.1', 'd', \(old)), (2, 1, 'a@example.com', '5.1.1', 'd', \(young));
            """)

        let run = try root.run(["run"], now: now)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.stdout + run.stderr, "", "a purge is quiet")

        XCTAssertEqual(try root.text("SELECT params FROM event WHERE type = 'ezpublish' ORDER BY id"), #"{"name":"young"}"#)
        XCTAssertEqual(try root.text("SELECT key FROM dedupe_key ORDER BY key"), "young")
        XCTAssertEqual(try root.text("SELECT object_id FROM webhook_object ORDER BY object_id"), "ending\nready\nyoung",
                       "a session that ended recently, and media announced as ready, are kept")
        XCTAssertEqual(try root.text("SELECT node_id FROM deleted_node ORDER BY node_id"), "young")
        XCTAssertEqual(try root.text("SELECT subject FROM outbox JOIN outbox_message ON outbox_id = id ORDER BY id"), "sent young\ncancelled young\nfailed old",
                       "failed mail stays, whatever its age (`mail retry` may still send it)")
        XCTAssertEqual(try root.text("SELECT m.subject FROM outbox_message AS m JOIN outbox AS o ON o.id = m.outbox_id ORDER BY o.id"),
                       "sent young\ncancelled young\nfailed old", "a message's body goes with it")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox_message"), 3)
        XCTAssertEqual(try root.text("SELECT handler FROM handler_gave_up ORDER BY handler"), "young")
        XCTAssertEqual(try root.text("SELECT status || ' ' || received_at FROM bounce ORDER BY received_at"), "5.1.1 \(young)")
    }

    func testARunWithNothingOldChangesNothingButItsOwnLogAndTick() throws {
        let root = try emptyStore()
        let young = time - 6 * day
        try root.execute("""
            INSERT INTO dedupe_key(key, event_id, created_at) VALUES ('young', 1, \(young));
            INSERT INTO deleted_node(node_id, deleted_at) VALUES ('young', \(young));
            INSERT INTO handler_gave_up(event_id, handler, error, gave_up_at) VALUES (1, 'young', 'e', \(young));
            """)
        let before = try root.rows("""
            SELECT 'dedupe', key FROM dedupe_key UNION ALL SELECT 'node', node_id FROM deleted_node
            UNION ALL SELECT 'gave-up', handler FROM handler_gave_up ORDER BY 1, 2
            """)
        try root.ok("run", now: now)
        XCTAssertEqual(try root.rows("""
            SELECT 'dedupe', key FROM dedupe_key UNION ALL SELECT 'node', node_id FROM deleted_node
            UNION ALL SELECT 'gave-up', handler FROM handler_gave_up ORDER BY 1, 2
            """), before)
        XCTAssertEqual(before.count, 3)
    }

    /// The first run of each clock hour purges; the runs after it in the same hour leave the
    /// purged tables alone, so what passed its retention meanwhile waits for the next hour.
    func testTheFirstRunOfEachHourPurges() throws {
        let root = try emptyStore()
        try root.ok("run", now: now)  // 10:00, the first run of the hour
        let old = time - 8 * day
        try root.execute("INSERT INTO deleted_node(node_id, deleted_at) VALUES ('old', \(time - 91 * day))")
        try root.execute("INSERT INTO handler_gave_up(event_id, handler, error, gave_up_at) VALUES (1, 'old', 'e', \(old))")
        for minute in ["10:05", "10:30", "10:55"] {
            try root.ok("run", now: "2026-05-20T\(minute):00Z")
            XCTAssertEqual(try root.scalar("SELECT count(*) FROM deleted_node") + root.scalar("SELECT count(*) FROM handler_gave_up"), 2,
                           "not purged again within the hour, at \(minute)")
        }
        try root.ok("run", now: "2026-05-20T11:00:00Z")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM deleted_node") + root.scalar("SELECT count(*) FROM handler_gave_up"), 0,
                       "the first run of the next hour purges")
        // A clock set back is another hour too.
        try root.execute("INSERT INTO deleted_node(node_id, deleted_at) VALUES ('old', \(time - 91 * day))")
        try root.ok("run", now: "2026-05-20T10:30:00Z")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM deleted_node"), 0)
    }

    /// An hour's first run that did not finish its work (killed, as `kill -9` leaves its row with
    /// no end) or ended with an error did not purge, or may not have: the next run of that hour
    /// purges instead, so what passed its retention does not wait for another hour.
    func testAnHoursFirstRunThatDidNotFinishLeavesThePurgeToTheNextRun() throws {
        let root = try emptyStore()
        try root.ok("run", now: now)  // 10:00
        let old = time - 8 * day
        try root.execute("INSERT INTO handler_gave_up(event_id, handler, error, gave_up_at) VALUES (1, 'old', 'e', \(old))")
        // 11:00's run was killed after logging its start.
        try root.execute("INSERT INTO run_log(started_at, pid) VALUES (\(time + 3_600), 999999)")
        try root.ok("run", now: "2026-05-20T11:05:00Z")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM handler_gave_up"), 0, "the first run of 11:00 to finish purges")
        try root.execute("INSERT INTO handler_gave_up(event_id, handler, error, gave_up_at) VALUES (1, 'old', 'e', \(old))")
        try root.ok("run", now: "2026-05-20T11:10:00Z")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM handler_gave_up"), 1, "then not again within the hour")
        // 12:00's run failed (its transport could not be made, say).
        try root.execute("INSERT INTO run_log(started_at, finished_at, pid, error) VALUES (\(time + 7_200), \(time + 7_200), 999999, 'failed')")
        try root.ok("run", now: "2026-05-20T12:05:00Z")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM handler_gave_up"), 0, "a run after a failed one purges")
    }

    /// The run log keeps the last thousand runs (`status` reads the newest; the rest is history).
    func testTheRunLogKeepsTheLastThousandRuns() throws {
        let root = try emptyStore()
        let values = (1...1_010).map { "(\(time - 100 + Int64($0 % 50)), \(time - 50), 0, 0, 0, 0)" }.joined(separator: ", ")
        try root.execute("INSERT INTO run_log(started_at, finished_at, events, messages, digests, delivered) VALUES \(values)")
        let newest = try root.scalar("SELECT max(id) FROM run_log")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM run_log"), 1_011)
        try root.ok("run", now: now)
        XCTAssertEqual(try root.scalar("SELECT min(id) FROM run_log"), newest + 1 - 1_000, "runs older than the last thousand go")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM run_log WHERE id > \(newest) AND finished_at = \(time) AND error IS NULL"), 1,
                       "this run is logged as finished")
    }
}
