import Foundation
import XCTest

/// `run` is quiet when all is well and prints each new problem once, so cron mails the operator
/// once per problem, not every five minutes.
final class ProblemReportEndToEndTests: XCTestCase {
    private var pool: SMTPServerPool!

    override func setUpWithError() throws {
        pool = try SMTPServerPool("ef-problems")
    }

    override func tearDown() {
        pool.stop()
    }

    private func smtpRoot() throws -> (TestRoot, SMTPTestServer) {
        let server = try pool.start()
        let root = try TestRoot(siteINI: TestRoot.smtpSiteINI(port: server.port, timeout: nil))
        return (root, server)
    }

    /// Like cron: five runs, five minutes apart, with one permanent failure among good mail.
    func testCronHearsOfOnePermanentFailureExactlyOnce() throws {
        let (root, server) = try smtpRoot()
        for email in ["ok@example.com", "bad@example.com"] {
            try root.ok("user", "add", email, now: "2026-05-04T09:00:00Z")
            try root.ok("subscribe", email, "2", now: "2026-05-04T09:00:00Z")
        }
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=News", now: "2026-05-04T09:00:00Z")
        var outputs: [String] = []
        for (index, minute) in ["00", "05", "10", "15", "20"].enumerated() {
            if index == 2 {  // more good mail in between: still quiet
                try root.ok("event", "add", "ezpublish", "node_id=6", "path=/1/2/6/", "name=More", now: "2026-05-04T10:10:00Z")
                try root.ok("user", "remove", "bad@example.com", now: "2026-05-04T10:10:00Z")
            }
            let run = try root.run(["run"], now: "2026-05-04T10:\(minute):00Z")
            XCTAssertEqual(run.status, 0, "a delivery problem is not a run failure: \(run.stderr)")
            XCTAssertEqual(run.stderr, "")
            outputs.append(run.stdout)
        }
        XCTAssertEqual(outputs, [
            "mail 2 to bad@example.com failed: smtp 127.0.0.1:\(server.port): recipient rejected: 550 5.1.1 no such user\n",
            "", "", "", "",
        ])
        XCTAssertEqual(try server.received().map(\.envelope.recipients), [["ok@example.com"], ["ok@example.com"]])
    }

    func testDeferredTooLongIsReportedOnceAndAFailureAgainAfterARetry() throws {
        let (root, server) = try smtpRoot()
        try root.write("settings/override/notification.ini.append.php", """
            [EventFilterSettings]
            WarnDeferredAfter=1800
            """)
        for email in ["busy@example.com", "bad@example.com"] {
            try root.ok("user", "add", email, now: "2026-05-04T10:00:00Z")
            try root.ok("subscribe", email, "2", now: "2026-05-04T10:00:00Z")
        }
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=News", now: "2026-05-04T10:00:00Z")
        let failure = "mail 2 to bad@example.com failed: smtp 127.0.0.1:\(server.port): recipient rejected: 550 5.1.1 no such user\n"
        XCTAssertEqual(try root.ok("run", now: "2026-05-04T10:00:00Z"), failure)
        XCTAssertEqual(try root.ok("run", now: "2026-05-04T10:20:00Z"), "", "deferred 20 minutes: not yet a problem")
        XCTAssertEqual(try root.ok("run", now: "2026-05-04T10:40:00Z"),
                       "mail 1 to busy@example.com deferred since 2026-05-04T10:00:00Z: smtp 127.0.0.1:\(server.port): "
                        + "recipient deferred: 451 4.3.0 mailbox busy, try again later\n")
        XCTAssertEqual(try root.ok("run", now: "2026-05-04T11:00:00Z"), "")
        XCTAssertEqual(try root.ok("run", now: "2026-05-04T11:30:00Z"), "")

        // Retried by hand, the message fails again: a new occurrence, reported again.
        XCTAssertEqual(try root.ok("mail", "retry", "2", now: "2026-05-04T11:31:00Z"), "requeued message 2\n")
        XCTAssertEqual(try root.ok("run", now: "2026-05-04T11:35:00Z"), failure)
        // Acknowledged: the operator knows; nothing more to say.
        XCTAssertEqual(try root.ok("mail", "ack", "2", now: "2026-05-04T11:36:00Z"), "acknowledged message 2\n")
        XCTAssertEqual(try root.ok("run", now: "2026-05-04T11:40:00Z"), "")

        // The message reported as deferred gives up after 5 days in the queue: now it has failed, a new problem.
        XCTAssertEqual(try root.ok("run", now: "2026-05-09T10:00:00Z"),
                       "mail 1 to busy@example.com failed: gave up after 5 days in the queue: smtp 127.0.0.1:\(server.port): "
                        + "recipient deferred: 451 4.3.0 mailbox busy, try again later\n")
        XCTAssertEqual(try root.ok("run", now: "2026-05-09T10:05:00Z"), "")
    }

    func testAFailingHandlerIsReportedWhenItStartsFailingAndAgainWhenItFailsAnew() throws {
        let root = try TestRoot()
        try root.write("settings/override/notification.ini.append.php", """
            [NotificationEventHandlerSettings]
            RepositoryDirectories[]=handlers
            AvailableNotificationEventTypes[]=feed
            """)
        try root.write("handlers/feed/feedhandler", """
            #!/bin/sh
            cat >/dev/null
            if [ -e feed-works ]; then exit 0; fi
            echo "feed: the upstream API answered 503" >&2
            exit 2
            """, executable: true)
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", now: "2026-05-04T10:00:00Z")
        let line = "handler feed is failing: feed exited with status 2: feed: the upstream API answered 503\n"
        XCTAssertEqual(try root.ok("run", now: "2026-05-04T10:00:00Z"), line)
        for minute in ["05", "10", "15", "20"] {
            XCTAssertEqual(try root.ok("run", now: "2026-05-04T10:\(minute):00Z"), "", "still the same problem at 10:\(minute)")
        }
        try root.write("feed-works", "")
        XCTAssertEqual(try root.ok("run", now: "2026-05-04T11:00:00Z"), "", "recovered: nothing to report")
        try FileManager.default.removeItem(at: root.url.appendingPathComponent("feed-works"))
        try root.ok("event", "add", "ezpublish", "node_id=6", "path=/1/2/6/", now: "2026-05-04T11:05:00Z")
        XCTAssertEqual(try root.ok("run", now: "2026-05-04T11:05:00Z"), line, "failing anew is a new problem")
    }

    /// A run that finds no problem forgets those reported before, so one that comes back is
    /// printed again; a run that still finds it stays quiet.
    func testAProblemGoneAndBackIsReportedAgain() throws {
        let typo = TestRoot.defaultSiteINI + "[ExtensionSettings]\nActiveExtension[]=mysite\n"
        let root = try TestRoot(siteINI: typo)
        let line = "settings/site.ini:10: unknown key ActiveExtension in [ExtensionSettings] (did you mean ActiveExtensions?)\n"
        XCTAssertEqual(try root.ok("run", now: "2026-05-04T10:00:00Z"), line)
        XCTAssertEqual(try root.ok("run", now: "2026-05-04T10:05:00Z"), "", "reported once")
        try root.write("settings/site.ini", TestRoot.defaultSiteINI)
        XCTAssertEqual(try root.ok("run", now: "2026-05-04T10:10:00Z"), "", "fixed: nothing to report")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM reported_problem"), 0, "the fixed problem is forgotten")
        try root.write("settings/site.ini", typo)
        XCTAssertEqual(try root.ok("run", now: "2026-05-04T10:15:00Z"), line, "back again: a new problem")
        XCTAssertEqual(try root.ok("run", now: "2026-05-04T10:20:00Z"), "")
    }

    func testManyFailuresAtOnceAreCutToAFewLinesAndACount() throws {
        let (root, _) = try smtpRoot()
        for index in 1...8 {
            try root.ok("user", "add", "bad\(index)@example.com", now: "2026-05-04T10:00:00Z")
            try root.ok("subscribe", "bad\(index)@example.com", "2", now: "2026-05-04T10:00:00Z")
        }
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", now: "2026-05-04T10:00:00Z")
        let lines = try root.ok("run", now: "2026-05-04T10:00:00Z").split(separator: "\n")
        XCTAssertEqual(lines.count, 6, lines.joined(separator: "\n"))
        XCTAssertTrue(lines[0].hasPrefix("mail 1 to bad1@example.com failed: "), String(lines[0]))
        XCTAssertEqual(lines[5], "... and 3 more failed messages (see eventfilter mail list --failed)")
        XCTAssertEqual(try root.ok("run", now: "2026-05-04T10:05:00Z"), "")
    }
}
