import Foundation
import XCTest

/// The rest of the command line: locking, dry runs, import, listing, removal, help.
final class CommandLineEndToEndTests: XCTestCase {
    func testSecondOverlappingRunExitsQuietlyAndDoesNothing() throws {
        // On PostgreSQL runs share the work through claims (ClaimStoreEndToEndTests) and take no file lock.
        try TestRoot.requireSQLite("one run at a time: the flock on var/eventfilter.lock")
        let root = try TestRoot()
        try root.ok("user", "add", "r@example.com", now: "2026-05-04T10:00:00Z")
        try root.ok("subscribe", "r@example.com", "2", now: "2026-05-04T10:00:00Z")
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", now: "2026-05-04T10:00:00Z")
        // Another run holds the lock (a process holding flock on the lock file).
        let holder = try RunLockHolder(root)

        let second = try root.run(["run"], now: "2026-05-04T10:00:00Z")
        XCTAssertEqual(second.status, 0)
        XCTAssertEqual(second.stdout + second.stderr, "", "quietly")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event"), 1, "not even an ezcurrenttime event")
        XCTAssertEqual(try root.mailFiles().count, 0)

        holder.release()
        try root.ok("run", now: "2026-05-04T10:01:00Z")
        XCTAssertEqual(try root.mailFiles().count, 1, "once the lock is free the next run works")
    }

    func testDryRunReportsAndKeepsNothing() throws {
        let root = try TestRoot()
        try root.ok("user", "add", "r@example.com", now: "2026-05-04T10:00:00Z")
        try root.ok("subscribe", "r@example.com", "2", now: "2026-05-04T10:00:00Z")
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", now: "2026-05-04T10:00:00Z")
        let dry = try root.ok("run", "--dry-run", now: "2026-05-04T10:00:00Z")
        XCTAssertEqual(dry, "dry run: would have handled 2 events; queued 1 messages (0 digests); held 0 items for digests\n")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event WHERE handled_at IS NULL"), 1)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox"), 0)
        XCTAssertEqual(try root.mailFiles().count, 0)
    }

    func testVerboseRunReportsEachStagesWallAndCPUTime() throws {
        let root = try TestRoot()
        try root.ok("user", "add", "r@example.com", now: "2026-05-04T10:00:00Z")
        try root.ok("subscribe", "r@example.com", "2", now: "2026-05-04T10:00:00Z")
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", now: "2026-05-04T10:00:00Z")
        let lines = try root.ok("run", "--verbose", now: "2026-05-04T10:00:00Z").split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2, "\(lines)")
        let timing = #" in [0-9]+\.[0-9]{2} s \(CPU [0-9]+\.[0-9]{2} s user, [0-9]+\.[0-9]{2} s system\)$"#
        let expected = [
            "^handled 2 events; queued 1 messages \\(0 digests\\); held 0 items for digests" + timing,
            "^delivered 1, deferred 0, failed 0" + timing,
        ]
        for (line, pattern) in zip(lines, expected) {
            XCTAssertNotNil(line.range(of: pattern, options: .regularExpression), line)
        }
        XCTAssertEqual(try root.mailFiles().count, 1)
    }

    func testImportIsAllOrNothingAndNamesTheBadLine() throws {
        let root = try TestRoot()
        let good = #"{"type":"ezpublish","params":{"node_id":"1","path":"/1/"},"key":"a"}"#
        let bad = #"{"type":"ezpublish","params":{"node_id":"2","path":"/1/2/"},"not_before":"tomorrow"}"#
        let result = try root.run(["event", "import", "-"], now: "2026-05-04T10:00:00Z", stdin: [good, "", bad].joined(separator: "\n"))
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.hasPrefix("eventfilter: line 3: "), result.stderr)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event"), 0, "nothing stored")

        let waiting = #"{"type":"ezpublish","params":{"node_id":"2","path":"/1/2/"},"not_before":"2026-05-05T00:00:00Z"}"#
        let imported = try root.ok("event", "import", "-", now: "2026-05-04T10:00:00Z", stdin: [good, good, waiting].joined(separator: "\n"))
        XCTAssertEqual(imported, "imported 2 events, 1 duplicates\n")
        let listed = try root.ok("event", "list", "--json", now: "2026-05-04T10:00:00Z").split(separator: "\n")
        XCTAssertEqual(listed.count, 2)
        // Newest first: the waiting event heads the list.
        let newest = try JSONSerialization.jsonObject(with: Data(listed[0].utf8)) as? [String: Any]
        XCTAssertEqual(newest?["not_before"] as? String, "2026-05-05T00:00:00Z")
        XCTAssertEqual(newest?["handled_at"] as? NSNull, NSNull())
    }

    func testNotBeforeEventWaitsUntilItsTime() throws {
        let root = try TestRoot()
        try root.ok("user", "add", "r@example.com", now: "2026-05-04T10:00:00Z")
        try root.ok("subscribe", "r@example.com", "2", now: "2026-05-04T10:00:00Z")
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "--not-before", "2026-05-04T12:00:00+02:00",
                    now: "2026-05-04T09:00:00Z")
        try root.ok("run", now: "2026-05-04T09:59:59Z")
        XCTAssertEqual(try root.mailFiles().count, 0)
        XCTAssertTrue(try root.ok("status", now: "2026-05-04T09:59:59Z").contains("1 waiting (next 2026-05-04T10:00:00Z)"))
        try root.ok("run", now: "2026-05-04T10:00:00Z")
        XCTAssertEqual(try root.mailFiles().count, 1)
    }

    func testDigestOffSendsWaitingItemsInOneLastDigestAndRemovingAUserDropsTheirItems() throws {
        let root = try TestRoot()
        let now = "2026-05-04T10:00:00Z"
        for email in ["a@example.com", "b@example.com"] {
            try root.ok("user", "add", email, now: now)
            try root.ok("digest", email, "weekly", "mon", "08:00", now: now)
            try root.ok("subscribe", email, "2", now: now)
        }
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", now: now)
        try root.ok("run", now: now)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM digest_item"), 2)
        try root.ok("digest", "a@example.com", "off", now: "2026-05-05T10:00:00Z")
        try root.ok("user", "remove", "b@example.com", now: "2026-05-05T10:00:00Z")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM digest_item"), 1)
        try root.ok("run", now: "2026-05-05T10:00:00Z")
        XCTAssertEqual(try root.mails().map(\.to), ["a@example.com"])
        XCTAssertTrue(try XCTUnwrap(root.mails().first).subject.hasPrefix("[Test Site] Digest for"))
    }

    func testUnsubscribeStopsMailAndStatusJSONCountsWhatIsLeft() throws {
        let root = try TestRoot()
        let now = "2026-05-04T10:00:00Z"
        try root.ok("user", "add", "r@example.com", now: now)
        try root.ok("subscribe", "r@example.com", "2", now: now)
        try root.ok("unsubscribe", "r@example.com", "2", now: now)
        let again = try root.run(["unsubscribe", "r@example.com", "2"], now: now)
        XCTAssertEqual(again.status, 1)
        XCTAssertEqual(again.stderr, "eventfilter: r@example.com has no subscription to node 2\n")
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=6", "path=/1/2/6/", "--not-before", "2026-05-05T00:00:00Z", now: now)
        try root.ok("run", now: now)
        XCTAssertEqual(try root.mailFiles().count, 0, "no rule, no mail")

        let json = try root.ok("status", "--json", now: now)
        let status = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let events = try XCTUnwrap(status["events"] as? [String: Any])
        XCTAssertEqual(events["unhandled"] as? Int, 0)
        XCTAssertEqual(events["waiting"] as? Int, 1)
        XCTAssertEqual(events["next_waiting"] as? String, "2026-05-05T00:00:00Z")
        let mail = try XCTUnwrap(status["mail"] as? [String: Any])
        XCTAssertEqual(mail["queued"] as? Int, 0)
        XCTAssertEqual(mail["sent"] as? Int, 0)
        let lastRun = try XCTUnwrap(status["last_run"] as? [String: Any])
        XCTAssertEqual(lastRun["started"] as? String, now)
    }

    func testUsageErrorsAndHelp() throws {
        let root = try TestRoot()
        let unknown = try root.run(["frobnicate"])
        XCTAssertEqual(unknown.status, 2)
        XCTAssertEqual(unknown.stderr, "eventfilter: unknown command 'frobnicate'; see 'eventfilter --help'\n")
        let badOption = try root.run(["status", "--colour"])
        XCTAssertEqual(badOption.status, 2)
        XCTAssertEqual(badOption.stderr, "eventfilter: unknown option '--colour' for 'eventfilter status'; see 'eventfilter status --help'\n")
        let badNow = try root.run(["status", "--now", "yesterday"])
        XCTAssertEqual(badNow.status, 2)
        XCTAssertTrue(badNow.stderr.contains("yesterday"), badNow.stderr)
        let badDigest = try root.run(["digest", "x@example.com", "daily", "25:00"])
        XCTAssertEqual(badDigest.status, 2)
        XCTAssertTrue(badDigest.stderr.contains("25:00"), badDigest.stderr)

        let overview = try root.ok("--help")
        for command in ["run", "event add", "event import", "event list", "user add", "user remove", "digest", "subscribe",
                        "unsubscribe", "collaboration subscribe", "status", "handlers", "mail list", "mail retry"] {
            XCTAssertTrue(overview.contains("  \(command) "), "overview lists \(command)")
            let help = try root.ok(contentsOf: command.split(separator: " ").map(String.init) + ["--help"])
            XCTAssertTrue(help.contains("Usage: eventfilter \(command)"), help)
        }
    }
}

extension TestRoot {
    @discardableResult
    func ok(contentsOf arguments: [String], now: String? = nil) throws -> String {
        let result = try run(arguments, now: now)
        XCTAssertEqual(result.status, 0, "eventfilter \(arguments.joined(separator: " ")) failed: \(result.stderr)")
        return result.stdout
    }
}
