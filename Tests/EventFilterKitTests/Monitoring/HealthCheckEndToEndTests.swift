import Foundation
import XCTest

/// `eventfilter status --check`, the monitoring plugin, driven by real SMTP outcomes, failed runs
/// and runs in progress; `mail ack`.
final class HealthCheckEndToEndTests: XCTestCase {
    private var pool: SMTPServerPool!

    override func setUpWithError() throws {
        pool = try SMTPServerPool("ef-health")
    }

    override func tearDown() {
        pool.stop()
    }

    private func check(_ root: TestRoot, now: String, file: StaticString = #filePath, line: UInt = #line) throws -> (Int32, String) {
        let result = try root.run(["status", "--check"], now: now)
        XCTAssertEqual(result.stderr, "", file: file, line: line)
        XCTAssertEqual(result.stdout.filter { $0 == "\n" }.count, 1, "one line: \(result.stdout)", file: file, line: line)
        return (result.status, result.stdout.trimmingCharacters(in: .newlines))
    }

    private func publish(_ email: String, node: Int, in root: TestRoot, now: String) throws {
        try root.ok("user", "add", email, now: now)
        try root.ok("subscribe", email, "\(node)", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=\(node)", "path=/1/\(node)/", "name=News \(node)", now: now)
    }

    func testOKWarningAndCriticalFollowRealSMTPOutcomes() throws {
        let server = try pool.start()
        let root = try TestRoot(siteINI: TestRoot.smtpSiteINI(port: server.port, timeout: nil))
        let perf = { (deferred: Int, tooLong: Int, failed: Int, unacknowledged: Int) in
            "unhandled=0 queued=0 deferred=\(deferred) deferred_too_long=\(tooLong) failed=\(failed) "
                + "failed_unacknowledged=\(unacknowledged) failing_handlers=0 digest_items=0"
        }
        XCTAssertEqual(try check(root, now: "2026-05-04T09:00:00Z").0, 1, "no run yet is a warning")

        // OK: the message was accepted.
        try publish("ok@example.com", node: 2, in: root, now: "2026-05-04T10:00:00Z")
        XCTAssertEqual(try root.ok("run", now: "2026-05-04T10:00:00Z"), "")
        var result = try check(root, now: "2026-05-04T10:00:00Z")
        XCTAssertEqual(result.0, 0)
        XCTAssertEqual(result.1, "EVENTFILTER OK - last run 2026-05-04T10:00:00Z; 0 queued, 0 deferred, 0 failed | \(perf(0, 0, 0, 0))")

        // A 451 defers the message: fine at first, a WARNING once deferred longer than an hour.
        try publish("busy@example.com", node: 3, in: root, now: "2026-05-04T10:10:00Z")
        try root.ok("run", now: "2026-05-04T10:10:00Z")
        XCTAssertEqual(try check(root, now: "2026-05-04T10:10:00Z").0, 0)
        try root.ok("run", now: "2026-05-04T11:15:00Z")
        result = try check(root, now: "2026-05-04T11:15:00Z")
        XCTAssertEqual(result.0, 1)
        XCTAssertEqual(result.1, "EVENTFILTER WARNING - 1 message deferred longer than 1 h | \(perf(1, 1, 0, 0))")

        // A 550 fails a message for good: CRITICAL until someone acknowledges it.
        try publish("bad@example.com", node: 4, in: root, now: "2026-05-04T11:20:00Z")
        try root.ok("run", now: "2026-05-04T11:20:00Z")
        result = try check(root, now: "2026-05-04T11:20:00Z")
        XCTAssertEqual(result.0, 2)
        XCTAssertEqual(result.1, "EVENTFILTER CRITICAL - 1 failed message not acknowledged; 1 message deferred longer than 1 h | \(perf(1, 1, 1, 1))")

        // Acknowledging: a wrong id changes nothing; the right one ends the CRITICAL.
        let before = try root.dump()
        let wrong = try root.run(["mail", "ack", "1"], now: "2026-05-04T11:21:00Z")
        XCTAssertEqual(wrong.status, 1)
        XCTAssertEqual(wrong.stderr, "eventfilter: message 1 is not a failed message\n")
        let malformed = try root.run(["mail", "ack", "three"], now: "2026-05-04T11:21:00Z")
        XCTAssertEqual(malformed.status, 2)
        XCTAssertEqual(malformed.stderr, "eventfilter: ID: expected a positive whole number, got 'three'\n")
        XCTAssertEqual(try root.dump(), before)
        XCTAssertEqual(try root.ok("mail", "ack", "--all", now: "2026-05-04T11:21:00Z"), "acknowledged 1 failed message\n")
        XCTAssertTrue(try root.ok("mail", "list", "--failed", now: "2026-05-04T11:21:00Z").contains("acknowledged 2026-05-04T11:21:00Z"))
        result = try check(root, now: "2026-05-04T11:21:00Z")
        XCTAssertEqual(result.0, 1)
        XCTAssertEqual(result.1, "EVENTFILTER WARNING - 1 message deferred longer than 1 h | \(perf(1, 1, 1, 0))")
        let json = try root.ok("status", "--json", now: "2026-05-04T11:21:00Z")
        XCTAssertTrue(json.contains(#""failed_unacknowledged":0"#), json)
    }

    func testUnknownWhenTheCheckCannotTell() throws {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("ef-nowhere-\(UUID().uuidString)")
        let process = Process()
        process.executableURL = TestRoot.executable
        process.arguments = ["--root", missing.path, "status", "--check"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 3)
        XCTAssertEqual(output, "EVENTFILTER UNKNOWN - \(missing.path) is not an eventfilter installation: it has no settings/ directory\n")
    }

    func testUnknownWhenTheStoreFileIsNotAStore() throws {
        // About the SQLite file in var/.
        try TestRoot.requireSQLite("a store file that is not an SQLite database")
        let root = try TestRoot()
        try root.write("var/eventfilter.db", String(repeating: "not a database ", count: 100))
        let result = try root.run(["status", "--check"], now: "2026-05-04T10:00:00Z")
        XCTAssertEqual(result.status, 3)
        XCTAssertEqual(result.stdout, "EVENTFILTER UNKNOWN - \(root.path)/var/eventfilter.db is not an eventfilter store: not an SQLite database\n")
    }

    /// Its own threshold unreadable or a malformed line anywhere: the check can still tell that
    /// runs refuse to start, which is CRITICAL, as `status` says too (not UNKNOWN).
    func testSettingsThatCannotBeReadAreCriticalNotUnknown() throws {
        let root = try TestRoot()
        try root.ok("run", now: "2026-05-04T10:00:00Z")
        let perf = " | unhandled=0 queued=0 deferred=0 deferred_too_long=0 failed=0 failed_unacknowledged=0 failing_handlers=0 digest_items=0"
        try root.write("settings/override/notification.ini.append.php", "[EventFilterSettings]\nWarnDeferredAfter=soon\n")
        var result = try check(root, now: "2026-05-04T10:01:00Z")
        XCTAssertEqual(result.0, 2)
        XCTAssertEqual(result.1, "EVENTFILTER CRITICAL - settings error, runs refuse to start: settings/override/notification.ini.append.php:2: "
            + "[EventFilterSettings] WarnDeferredAfter must be a whole number, not \"soon\"" + perf)
        try FileManager.default.removeItem(at: root.url.appendingPathComponent("settings/override/notification.ini.append.php"))

        try root.write("settings/override/site.ini.append.php", "[SiteSettings\nSiteName=Typo\n")
        result = try check(root, now: "2026-05-04T10:02:00Z")
        XCTAssertEqual(result.0, 2)
        // site.ini unreadable: the check reads var/eventfilter.db (the environment's connection
        // string never chooses the backend), so on PostgreSQL it finds no run there.
        let noRun = TestBackend.current == .postgresql ? "; no run recorded yet" : ""
        XCTAssertEqual(result.1, "EVENTFILTER CRITICAL - settings error, runs refuse to start: settings/override/site.ini.append.php:1: "
            + "malformed line \"[SiteSettings\": a block header needs a closing ']'" + noRun + perf, "listed once, not '(and 1 more)'")
        XCTAssertEqual(try root.run(["run"], now: "2026-05-04T10:05:00Z").status, 1)
    }

    func testSettingsARunWouldRefuseAndAFailedRunAreCritical() throws {
        let root = try TestRoot()
        try root.ok("run", now: "2026-05-04T10:00:00Z")
        XCTAssertEqual(try check(root, now: "2026-05-04T10:01:00Z").0, 0)

        // Settings a run refuses: critical at once, before any run has been refused.
        try root.write("settings/notification.ini", "")
        var result = try check(root, now: "2026-05-04T10:02:00Z")
        XCTAssertEqual(result.0, 2)
        XCTAssertTrue(result.1.hasPrefix("EVENTFILTER CRITICAL - settings error, runs refuse to start: "
            + "settings/notification.ini: has no settings: a run needs it | "), result.1)
        XCTAssertEqual(try root.run(["run"], now: "2026-05-04T10:05:00Z").status, 1)
        let json = try root.ok("status", "--json", now: "2026-05-04T10:06:00Z")
        XCTAssertTrue(json.contains(#""settings_errors":["settings/notification.ini: has no settings: a run needs it"]"#), json)
        try root.write("settings/notification.ini", TestRoot.stockNotificationINI)

        // A run that fails while working (the mail directory cannot be created): recorded with its error.
        try FileManager.default.removeItem(at: root.url.appendingPathComponent("var/log/mail"))
        try root.write("var/log/mail", "a file where the mail directory should be")
        let failed = try root.run(["run"], now: "2026-05-04T10:10:00Z")
        XCTAssertEqual(failed.status, 1)
        XCTAssertEqual(failed.stderr.filter { $0 == "\n" }.count, 1, failed.stderr)
        let error = String(failed.stderr.dropFirst("eventfilter: ".count).dropLast())
        result = try check(root, now: "2026-05-04T10:11:00Z")
        XCTAssertEqual(result.0, 2)
        XCTAssertTrue(result.1.hasPrefix("EVENTFILTER CRITICAL - last run failed: "), result.1)
        let status = try root.ok("status", now: "2026-05-04T10:11:00Z")
        XCTAssertTrue(status.contains("last run: 2026-05-04T10:10:00Z failed: \(error)\n"), "the error as run printed it:\n" + status + error)

        // Fixed: the next run completes and the check is OK again.
        try FileManager.default.removeItem(at: root.url.appendingPathComponent("var/log/mail"))
        XCTAssertEqual(try root.run(["run"], now: "2026-05-04T10:15:00Z").status, 0)
        XCTAssertEqual(try check(root, now: "2026-05-04T10:16:00Z").0, 0)
    }

    /// A handler's error that quotes its output (an address with a line break in it) stays on the
    /// plugin's one line: a second line reading "EVENTFILTER OK" must not reach the monitor.
    func testAnErrorWithALineBreakStaysOnOneLine() throws {
        let root = try TestRoot()
        try root.write("settings/override/notification.ini.append.php", """
            [NotificationEventHandlerSettings]
            RepositoryDirectories[]=handlers
            AvailableNotificationEventTypes[]=feed
            """)
        try root.write("handlers/feed/feedhandler", """
            #!/usr/bin/env python3
            import json, sys
            for line in sys.stdin:
                event = json.loads(line)
                print(json.dumps({"event_id": event["id"], "to": "x\\nEVENTFILTER OK - fine | a=1 <x@example.com>",
                                  "subject": "s", "text": "t"}))
            """, executable: true)
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", now: "2026-05-04T10:00:00Z")
        XCTAssertEqual(try root.run(["run"], now: "2026-05-04T10:00:00Z").status, 0)
        let result = try check(root, now: "2026-05-04T10:01:00Z")
        XCTAssertEqual(result.0, 2)
        XCTAssertEqual(result.1, "EVENTFILTER CRITICAL - handler feed failing: feed output line 1: invalid address "
            + "'x EVENTFILTER OK - fine / a=1 <x@example.com>' | unhandled=2 queued=0 deferred=0 deferred_too_long=0 failed=0 "
            + "failed_unacknowledged=0 failing_handlers=1 digest_items=0")
        let status = try root.ok("status", now: "2026-05-04T10:01:00Z")
        XCTAssertFalse(status.contains("\nEVENTFILTER"), status)
    }

    /// A run held inside a custom handler: `status` shows it with its pid; too long is CRITICAL;
    /// a run killed with -9 is seen to have died.
    func testARunInProgressAndARunThatDied() throws {
        let root = try TestRoot()
        try root.write("settings/override/notification.ini.append.php", """
            [NotificationEventHandlerSettings]
            RepositoryDirectories[]=handlers
            AvailableNotificationEventTypes[]=slow
            """)
        // Holds the run while the file `hold` exists (at most 30 s).
        try root.write("handlers/slow/slowhandler", """
            #!/bin/sh
            cat >/dev/null
            touch started
            i=0
            while [ -e hold ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
            exit 0
            """, executable: true)

        func startHeldRun(now: String) throws -> Process {
            try root.write("hold", "")
            try? FileManager.default.removeItem(at: root.url.appendingPathComponent("started"))
            let process = Process()
            process.executableURL = TestRoot.executable
            process.arguments = ["--root", root.path, "--now", now, "run"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            for _ in 0..<300 where !FileManager.default.fileExists(atPath: root.url.appendingPathComponent("started").path) {
                usleep(100_000)
            }
            XCTAssertTrue(FileManager.default.fileExists(atPath: root.url.appendingPathComponent("started").path), "the handler started")
            return process
        }

        let run = try startHeldRun(now: "2026-05-04T10:00:00Z")
        let pid = run.processIdentifier
        let status = try root.ok("status", now: "2026-05-04T10:00:30Z")
        XCTAssertTrue(status.contains("last run: 2026-05-04T10:00:00Z in progress (pid \(pid))"), status)
        let json = try root.ok("status", "--json", now: "2026-05-04T10:00:30Z")
        XCTAssertTrue(json.contains(#""in_progress":true"#) && json.contains(#""pid":\#(pid)"#), json)
        var result = try check(root, now: "2026-05-04T10:30:00Z")
        XCTAssertEqual(result.0, 0, result.1)
        XCTAssertTrue(result.1.hasPrefix("EVENTFILTER OK - run in progress; "), result.1)
        result = try check(root, now: "2026-05-04T11:01:00Z")
        XCTAssertEqual(result.0, 2)
        XCTAssertTrue(result.1.hasPrefix("EVENTFILTER CRITICAL - the run started 2026-05-04T10:00:00Z (pid \(pid)) has not finished after 1 h 1 min | "),
                      result.1)
        try FileManager.default.removeItem(at: root.url.appendingPathComponent("hold"))
        run.waitUntilExit()
        XCTAssertEqual(run.terminationStatus, 0)
        XCTAssertEqual(try check(root, now: "2026-05-04T11:02:00Z").0, 0)

        let killed = try startHeldRun(now: "2026-05-04T12:00:00Z")
        kill(killed.processIdentifier, SIGKILL)
        killed.waitUntilExit()
        try FileManager.default.removeItem(at: root.url.appendingPathComponent("hold"))
        let after = try root.ok("status", now: "2026-05-04T12:01:00Z")
        XCTAssertTrue(after.contains("last run: 2026-05-04T12:00:00Z did not finish (pid \(killed.processIdentifier) is gone)"), after)
        result = try check(root, now: "2026-05-04T12:01:00Z")
        XCTAssertEqual(result.0, 2)
        XCTAssertTrue(result.1.hasPrefix("EVENTFILTER CRITICAL - the run started 2026-05-04T12:00:00Z (pid \(killed.processIdentifier)) died without finishing | "),
                      result.1)
    }
}
