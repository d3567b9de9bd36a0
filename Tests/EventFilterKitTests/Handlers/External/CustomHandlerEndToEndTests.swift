import Foundation
import XCTest

/// Custom handlers: executables speaking JSON lines; a failing one stays pending alone.
final class CustomHandlerEndToEndTests: XCTestCase {
    /// Two custom handlers after the built-in ones. `steady` always works and logs each call;
    /// `flaky` fails until a flag file exists.
    private func makeRoot() throws -> TestRoot {
        let root = try TestRoot()
        try root.write("settings/override/notification.ini.append.php", """
            <?php /* #?ini charset="utf-8"?
            [NotificationEventHandlerSettings]
            RepositoryDirectories[]=handlers
            AvailableNotificationEventTypes[]=steady
            AvailableNotificationEventTypes[]=flaky
            */ ?>
            """)
        try root.write("handlers/steady/steadyhandler", """
            #!/usr/bin/env python3
            import json, sys
            with open("steady-calls.log", "a") as log:
                log.write("call\\n")
            for line in sys.stdin:
                event = json.loads(line)
                if event["type"] == "ezpublish":
                    print(json.dumps({"event_id": event["id"], "to": "steady@example.com",
                                      "subject": "steady saw " + event["params"]["name"], "text": "seen\\n"}))
            """, executable: true)
        try root.write("handlers/flaky/flakyhandler", """
            #!/usr/bin/env python3
            import json, os, sys
            events = [json.loads(line) for line in sys.stdin if line.strip()]
            if not os.path.exists("flaky-may-work"):
                print("database of the flaky service is down", file=sys.stderr)
                sys.exit(3)
            for event in events:
                if event["type"] == "ezpublish":
                    print(json.dumps({"event_id": event["id"], "to": "flaky@example.com",
                                      "subject": "flaky saw " + event["params"]["name"], "text": "seen\\n",
                                      "html": "<p>seen</p>"}))
            """, executable: true)
        try root.ok("user", "add", "reader@example.com", now: "2026-05-04T10:00:00Z")
        try root.ok("subscribe", "reader@example.com", "2", now: "2026-05-04T10:00:00Z")
        return root
    }

    func testFailingHandlerStaysPendingAloneAndSucceedsOnRetryWithoutDuplicates() throws {
        let root = try makeRoot()
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=Launch", now: "2026-05-04T10:00:00Z")
        let first = try root.run(["run"], now: "2026-05-04T10:00:00Z")
        XCTAssertEqual(first.status, 0, "a failing custom handler does not fail the run: \(first.stderr)")
        XCTAssertEqual(Set(try root.mails().map(\.to)), ["reader@example.com", "steady@example.com"])

        let status = try root.ok("status", now: "2026-05-04T10:01:00Z")
        // Two events: the ezpublish one and the run's own ezcurrenttime event.
        XCTAssertTrue(status.contains("handler:  flaky failing for 2 events: flaky exited with status 3: database of the flaky service is down"), status)
        let listed = try root.ok("event", "list", "--unhandled", now: "2026-05-04T10:01:00Z")
        XCTAssertTrue(listed.contains("ezpublish") && listed.contains("flaky failed"), listed)

        // Still failing after its 5-minute backoff: nothing new, nothing repeated; the next attempt waits 10 minutes.
        try root.ok("run", now: "2026-05-04T10:05:00Z")
        XCTAssertEqual(try root.mailFiles().count, 2)

        try root.write("flaky-may-work", "")
        try root.ok("run", now: "2026-05-04T10:15:00Z")
        let mails = try root.mails()
        XCTAssertEqual(mails.map(\.to).sorted(), ["flaky@example.com", "reader@example.com", "steady@example.com"],
                       "the retry adds flaky's mail and repeats nobody's")
        XCTAssertEqual(mails.first { $0.to == "flaky@example.com" }?.subject, "[Test Site] flaky saw Launch", "a custom handler's subject follows the site's pattern too")
        XCTAssertEqual(mails.first { $0.to == "flaky@example.com" }?.html?.contains("<p>seen</p>"), true)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event WHERE handled_at IS NULL"), 0)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event_progress"), 0)
        // steady ran for the first batch only: later runs had nothing left for it.
        let calls = try String(contentsOf: root.url.appendingPathComponent("steady-calls.log"), encoding: .utf8)
        XCTAssertEqual(calls.split(separator: "\n").count, 3, "once per run with events due (each run adds its ezcurrenttime event)")
        let status2 = try root.ok("status", now: "2026-05-04T10:11:00Z")
        XCTAssertFalse(status2.contains("failing"), status2)
    }

    func testUnparsableOutputLeavesTheEventsPending() throws {
        let root = try TestRoot()
        try root.write("settings/override/notification.ini.append.php", """
            [NotificationEventHandlerSettings]
            RepositoryDirectories[]=handlers
            AvailableNotificationEventTypes[]=garbled
            """)
        try root.write("handlers/garbled/garbledhandler", "#!/bin/sh\ncat >/dev/null\necho 'this is not json'\n", executable: true)
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", now: "2026-05-04T10:00:00Z")
        try root.ok("run", now: "2026-05-04T10:00:00Z")
        let status = try root.ok("status", now: "2026-05-04T10:00:00Z")
        XCTAssertTrue(status.contains("garbled failing for 2 events: garbled output line 1 is not JSON"), status)
    }

    func testItemForADigestUserJoinsTheirDigest() throws {
        let root = try TestRoot()
        try root.write("settings/override/notification.ini.append.php", """
            [NotificationEventHandlerSettings]
            RepositoryDirectories[]=handlers
            AvailableNotificationEventTypes[]=echo
            """)
        try root.write("handlers/echo/echohandler", """
            #!/usr/bin/env python3
            import json, sys
            for line in sys.stdin:
                e = json.loads(line)
                if e["type"] == "ezpublish":
                    print(json.dumps({"event_id": e["id"], "to": "d@example.com", "subject": "custom item", "text": "custom text"}))
            """, executable: true)
        try root.ok("user", "add", "d@example.com", now: "2026-05-04T00:00:00Z")
        try root.ok("digest", "d@example.com", "daily", "09:00", now: "2026-05-04T00:00:00Z")
        try root.ok("subscribe", "d@example.com", "2", now: "2026-05-04T00:00:00Z")
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=Launch", now: "2026-05-04T10:00:00Z")
        try root.ok("run", now: "2026-05-04T10:00:00Z")
        XCTAssertEqual(try root.mailFiles().count, 0)
        try root.ok("run", now: "2026-05-05T09:00:00Z")
        let mails = try root.mails()
        XCTAssertEqual(mails.count, 1, "one digest with the subtree item and the custom item")
        XCTAssertTrue(mails[0].text.contains("custom item") && mails[0].text.contains("Launch"), mails[0].text)
    }

    func testAHandlerThatHangsIsStoppedWithWhatItStarted() throws {
        let root = try TestRoot()
        try root.write("settings/override/notification.ini.append.php", """
            [NotificationEventHandlerSettings]
            RepositoryDirectories[]=handlers
            AvailableNotificationEventTypes[]=hang
            [EventFilterSettings]
            HandlerTimeout=1
            """)
        // Starts a long child, notes its pid, and waits for it: it never answers.
        try root.write("handlers/hang/hanghandler", "#!/bin/sh\ncat >/dev/null\nsleep 300 &\necho $! > child.pid\nwait\n", executable: true)
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", now: "2026-05-04T10:00:00Z")
        let run = try root.run(["run"], now: "2026-05-04T10:00:00Z")
        XCTAssertEqual(run.status, 0, run.stderr)
        let status = try root.ok("status", now: "2026-05-04T10:00:00Z")
        XCTAssertTrue(status.contains("hang failing for 2 events: hang timed out after 1 s"), status)
        let child = try XCTUnwrap(Int32(String(contentsOf: root.url.appendingPathComponent("child.pid"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)))
        // The child was killed with its group; it may take a moment to be reaped by init.
        var alive = true
        for _ in 0..<100 where alive {
            alive = kill(child, 0) == 0 && !Self.isZombie(child)
            if alive { usleep(10_000) }
        }
        XCTAssertFalse(alive, "the handler's child process was stopped too")
    }

    private static func isZombie(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
        return stat.split(separator: ")").last?.split(separator: " ").first == "Z"
    }
}
