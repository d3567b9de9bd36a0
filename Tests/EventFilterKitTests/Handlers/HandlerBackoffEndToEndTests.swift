import Foundation
import XCTest

/// A failing custom handler: its stderr's last lines in `status`, a backoff from 5 minutes
/// doubling to an hour, and after `HandlerGiveUpAfter` its events go on without it.
final class HandlerBackoffEndToEndTests: XCTestCase {
    /// A Python handler that raises (a traceback on stderr) and counts its calls.
    private func makeRoot(extraSettings: String = "") throws -> TestRoot {
        let root = try TestRoot()
        try root.write("settings/override/notification.ini.append.php", """
            [NotificationEventHandlerSettings]
            RepositoryDirectories[]=handlers
            AvailableNotificationEventTypes[]=feed
            \(extraSettings)
            """)
        try root.write("handlers/feed/feedhandler", """
            #!/usr/bin/env python3
            import sys
            sys.stdin.read()
            with open("feed-calls.log", "a") as log:
                log.write("call\\n")

            def fetch():
                raise ConnectionError("the feed at feeds.example.org refused the connection")

            fetch()
            """, executable: true)
        try root.ok("user", "add", "ann@example.com", now: "2026-05-04T10:00:00Z")
        try root.ok("subscribe", "ann@example.com", "2", now: "2026-05-04T10:00:00Z")
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=News", now: "2026-05-04T10:00:00Z")
        return root
    }

    private func calls(_ root: TestRoot) throws -> Int {
        let url = root.url.appendingPathComponent("feed-calls.log")
        guard FileManager.default.fileExists(atPath: url.path) else { return 0 }
        return try String(contentsOf: url, encoding: .utf8).split(separator: "\n").count
    }

    func testStatusShowsTheExceptionNotTheTracebackHeader() throws {
        let root = try makeRoot()
        let run = try root.run(["run"], now: "2026-05-04T10:00:00Z")
        XCTAssertEqual(run.status, 0)
        let exception = "ConnectionError: the feed at feeds.example.org refused the connection"
        XCTAssertEqual(run.stdout, "handler feed is failing: feed exited with status 1: \(exception)\n")
        let status = try root.ok("status", now: "2026-05-04T10:01:00Z")
        XCTAssertTrue(status.contains("handler:  feed failing for 2 events: feed exited with status 1: \(exception)\n"), status)
        XCTAssertTrue(status.contains("          failing since 2026-05-04T10:00:00Z, next attempt 2026-05-04T10:05:00Z\n"), status)
        // The last lines of stderr, below: where the traceback ends.
        XCTAssertTrue(status.contains("          |     raise ConnectionError(\"the feed at feeds.example.org refused the connection\")\n"
            + "          | \(exception)\n"), status)
        XCTAssertFalse(status.contains(": Traceback (most recent call last):"), status)
        // The subtree handler's work was kept.
        XCTAssertEqual(try root.mails().map(\.to), ["ann@example.com"])
    }

    /// A handler stuck printing its traceback in a loop: 180 MB on stderr. Only the end of it is
    /// read (it was read whole and split into lines: half a minute and gigabytes for the run).
    func testAHandlerThatFloodsStderrCostsTheRunOnlyItsEnd() throws {
        let root = try makeRoot()
        try root.write("handlers/feed/feedhandler", """
            #!/bin/sh
            cat >/dev/null
            echo 'Traceback (most recent call last):' >&2
            yes '  File "feed.py", line 3, in fetch' | head -n 5000000 >&2
            echo 'ConnectionError: the feed at feeds.example.org refused the connection' >&2
            exit 1
            """, executable: true)
        let started = Date()
        let run = try root.run(["run"], now: "2026-05-04T10:00:00Z")
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertEqual(run.status, 0, run.stderr)
        let exception = "ConnectionError: the feed at feeds.example.org refused the connection"
        XCTAssertEqual(run.stdout, "handler feed is failing: feed exited with status 1: \(exception)\n")
        XCTAssertLessThan(elapsed, 15, "the end of the stderr, not all 180 MB")
        let status = try root.ok("status", now: "2026-05-04T10:01:00Z")
        XCTAssertTrue(status.contains("          |   File \"feed.py\", line 3, in fetch\n          | \(exception)\n"), status)
        XCTAssertLessThan(status.utf8.count, 2_000, status)
    }

    func testAFailingHandlerBacksOffFrom5MinutesDoublingToAnHour() throws {
        let root = try makeRoot()
        // (run time, whether the handler is started): it fails each time it runs.
        let schedule: [(String, Bool)] = [
            ("10:00", true),   // fails; next attempt 10:05
            ("10:01", false), ("10:04", false),
            ("10:05", true),   // next 10:15
            ("10:10", false),
            ("10:15", true),   // next 10:35
            ("10:30", false),
            ("10:35", true),   // next 11:15
            ("11:10", false),
            ("11:15", true),   // next 12:15: the hour is the cap
            ("12:10", false),
            ("12:15", true),   // next 13:15
            ("13:10", false),
            ("13:15", true),
        ]
        var expected = 0
        for (time, starts) in schedule {
            if starts { expected += 1 }
            let run = try root.run(["run"], now: "2026-05-04T\(time):00Z")
            XCTAssertEqual(run.status, 0, run.stderr)
            XCTAssertEqual(try calls(root), expected, "at \(time)")
        }
        let json = try root.ok("status", "--json", now: "2026-05-04T13:15:00Z")
        XCTAssertTrue(json.contains(#""next_attempt":"2026-05-04T14:15:00Z""#), json)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event WHERE handled_at IS NULL AND type = 'ezpublish'"), 1,
                       "the event waits for the handler")
    }

    /// A run with a clock set wrong (here a --now a day ahead) must not leave the handler waiting a
    /// day once the clock is right again: no backoff is longer than an hour.
    func testABackoffSetByAClockThatWentBackIsNotWaitedFor() throws {
        let root = try makeRoot()
        XCTAssertEqual(try root.run(["run"], now: "2026-05-05T10:00:00Z").status, 0)
        XCTAssertEqual(try calls(root), 1)
        XCTAssertEqual(try root.run(["run"], now: "2026-05-04T10:05:00Z").status, 0)
        XCTAssertEqual(try calls(root), 2, "the next attempt (2026-05-05T10:05) is more than an hour ahead: started")
        XCTAssertEqual(try root.run(["run"], now: "2026-05-04T10:06:00Z").status, 0)
        XCTAssertEqual(try calls(root), 2, "and backs off from there")
        XCTAssertEqual(try root.run(["run"], now: "2026-05-04T10:15:00Z").status, 0)
        XCTAssertEqual(try calls(root), 3)
    }

    func testAfterHandlerGiveUpAfterItsEventsGoOnAndAreReportedOnce() throws {
        let root = try makeRoot()
        XCTAssertEqual(try root.run(["run"], now: "2026-05-04T10:00:00Z").status, 0)
        XCTAssertEqual(try root.ok("run", now: "2026-05-06T10:00:00Z"), "", "two days: still waiting, already reported")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event WHERE handled_at IS NULL AND type = 'ezpublish'"), 1)

        // Five days (the default HandlerGiveUpAfter) after the event: the handler gives up on it.
        let run = try root.run(["run"], now: "2026-05-09T10:00:00Z")
        XCTAssertEqual(run.status, 0, "giving up is not a run failure")
        XCTAssertEqual(run.stdout, "handler feed gave up on event 1 after 5 days: feed exited with status 1: "
            + "ConnectionError: the feed at feeds.example.org refused the connection\n")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event WHERE id = 1 AND handled_at IS NOT NULL"), 1, "the event is done")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM handler_gave_up WHERE event_id = 1 AND handler = 'feed'"), 1)
        let status = try root.ok("status", now: "2026-05-09T10:00:00Z")
        XCTAssertTrue(status.contains("gave up on 1 events"), status)
        let listed = try root.ok("event", "list", now: "2026-05-09T10:00:00Z")
        XCTAssertTrue(listed.contains("\thandled 2026-05-09T10:00:00Z\tfeed gave up after 5 days: feed exited with status 1: "), listed)
        let check = try root.run(["status", "--check"], now: "2026-05-09T10:00:00Z")
        XCTAssertEqual(check.status, 2, "the handler still fails")
        XCTAssertTrue(check.stdout.contains("handler feed gave up on 1 event"), check.stdout)

        XCTAssertEqual(try root.ok("run", now: "2026-05-09T12:00:00Z"), "", "reported once")
        XCTAssertEqual(try root.mails().map(\.to), ["ann@example.com"], "and nobody was mailed twice")

        // Taken out of the settings, the handler is no longer a failing one.
        try root.write("settings/override/notification.ini.append.php", "")
        XCTAssertFalse(try root.ok("status", now: "2026-05-09T12:01:00Z").contains("failing"))
        XCTAssertTrue(try root.run(["status", "--check"], now: "2026-05-09T12:01:00Z").stdout.hasPrefix("EVENTFILTER WARNING - handler feed gave up on 1 event | "))
    }

    func testHandlerGiveUpAfterIsASetting() throws {
        let root = try makeRoot(extraSettings: "[EventFilterSettings]\nHandlerGiveUpAfter=3600\n")
        XCTAssertEqual(try root.run(["run"], now: "2026-05-04T10:00:00Z").status, 0)
        XCTAssertEqual(try root.ok("run", now: "2026-05-04T11:05:00Z"), "handler feed gave up on event 1 after 3600 s: "
            + "feed exited with status 1: ConnectionError: the feed at feeds.example.org refused the connection\n")
    }
}
