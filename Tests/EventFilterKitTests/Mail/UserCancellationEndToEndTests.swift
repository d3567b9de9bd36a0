import Foundation
import XCTest

/// Removing or disabling a user cancels what was waiting for them: nobody removed is mailed
/// afterwards, even when the server that deferred their mail comes back.
final class UserCancellationEndToEndTests: XCTestCase {
    private var server: SMTPTestServer?
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ef-cancel-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDown() {
        server?.stop()
        try? FileManager.default.removeItem(at: scratch)
    }

    func testRemovedAndDisabledUsersMailIsCancelledAndNeverSent() throws {
        // The SMTP server is down at first: every message is deferred.
        let port = try SMTPTestServer.unusedPort()
        let root = try TestRoot(siteINI: TestRoot.smtpSiteINI(port: port, timeout: nil))
        let now = "2026-05-04T10:00:00Z"
        for email in ["stays@example.com", "removed@example.com", "disabled@example.com", "digest@example.com"] {
            try root.ok("user", "add", email, now: now)
            try root.ok("subscribe", email, "2", now: now)
        }
        try root.ok("digest", "digest@example.com", "daily", "08:00", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=News", now: now)
        XCTAssertEqual(try root.run(["run"], now: now).status, 0)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox WHERE state = 'deferred'"), 3)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM digest_item"), 1)

        try root.ok("user", "remove", "removed@example.com", now: "2026-05-04T10:01:00Z")
        try root.ok("user", "disable", "disabled@example.com", now: "2026-05-04T10:01:00Z")
        try root.ok("user", "disable", "digest@example.com", now: "2026-05-04T10:01:00Z")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM digest_item"), 0, "the waiting digest item is cancelled")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM content"), 0, "with the content nobody else waits for")

        let cancelled = try root.ok("mail", "list", "--cancelled", now: "2026-05-04T10:01:00Z")
        let lines = cancelled.split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
        XCTAssertEqual(lines.map { [$0[1], $0[2]] }, [["cancelled", "removed@example.com"], ["cancelled", "disabled@example.com"]])
        XCTAssertTrue(cancelled.contains("cancelled: the user was removed or disabled"), cancelled)
        let all = try root.ok("mail", "list", now: "2026-05-04T10:01:00Z")
        XCTAssertEqual(all.split(separator: "\n").filter { $0.contains("\tcancelled\t") }.count, 2, "shown in the default list too")
        XCTAssertTrue(try root.ok("status", now: "2026-05-04T10:01:00Z").contains("1 deferred"), "only stays@ is still waiting")

        // The server comes back; the digest would have been due at 08:00 the next day.
        server = try SMTPTestServer.start(port: port, directory: scratch.appendingPathComponent("server"), arguments: [])
        XCTAssertEqual(try root.run(["run"], now: "2026-05-05T08:00:00Z").status, 0)
        XCTAssertEqual(try server!.received().map(\.envelope.recipients), [["stays@example.com"]], "nobody removed or disabled is mailed")

        // Enabled again, the user gets what comes next, not what was cancelled.
        try root.ok("user", "enable", "disabled@example.com", now: "2026-05-05T09:00:00Z")
        try root.ok("event", "add", "ezpublish", "node_id=6", "path=/1/2/6/", "name=Later", now: "2026-05-05T09:00:00Z")
        XCTAssertEqual(try root.run(["run"], now: "2026-05-05T09:00:00Z").status, 0)
        XCTAssertEqual(try server!.received().map(\.envelope.recipients),
                       [["stays@example.com"], ["stays@example.com"], ["disabled@example.com"]])
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox WHERE state = 'cancelled'"), 2)
    }

    func testMailCancelledWhileTheServerHoldsItStaysCancelled() throws {
        // The server hangs on RCPT TO: the run is in the middle of delivering ann's message when
        // she is removed. The timeout that follows must not put the cancelled message back in the
        // queue (it was deferred again, and mailed to her at the next run).
        let server = try SMTPTestServer.start(port: 0, directory: scratch.appendingPathComponent("server"), arguments: [])
        self.server = server
        let root = try TestRoot(siteINI: TestRoot.smtpSiteINI(port: server.port, connectTimeout: nil, timeout: "3"))
        let now = "2026-05-04T10:00:00Z"
        for email in ["ann@example.com", "bob@example.com"] {
            try root.ok("user", "add", email, now: now)
            try root.ok("subscribe", email, "2", now: now)
        }
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=News", now: now)
        try server.misbehave("hang rcpt")

        let run = Process()
        run.executableURL = TestRoot.executable
        run.arguments = ["--root", root.path, "--now", now, "run"]
        run.standardInput = FileHandle.nullDevice
        run.standardOutput = FileHandle.nullDevice
        run.standardError = FileHandle.nullDevice
        try run.run()
        var waited = 0
        while try server.count("mail-commands") == 0 && waited < 200 {
            usleep(50_000)
            waited += 1
        }
        XCTAssertEqual(try server.count("mail-commands"), 1, "the run reached the server")
        try root.ok("user", "remove", "ann@example.com", now: "2026-05-04T10:00:01Z")
        run.waitUntilExit()
        XCTAssertEqual(run.terminationStatus, 0)

        XCTAssertEqual(try root.text("SELECT recipient || ' ' || state FROM outbox JOIN outbox_message ON outbox_id = id ORDER BY id"),
                       "ann@example.com cancelled\nbob@example.com deferred")
        try server.misbehave(nil)
        XCTAssertEqual(try root.run(["run"], now: "2026-05-04T12:00:00Z").status, 0)
        XCTAssertEqual(try server.received().map(\.envelope.recipients), [["bob@example.com"]], "nobody removed is mailed")
    }

    func testRemovingAnUnknownUserChangesNothing() throws {
        let root = try TestRoot()
        try root.ok("user", "add", "ann@example.com", now: "2026-05-04T10:00:00Z")
        let before = try root.dump()
        for command in [["user", "remove", "nobody@example.com"], ["user", "disable", "nobody@example.com"]] {
            let result = try root.run(command, now: "2026-05-04T10:00:00Z")
            XCTAssertEqual(result.status, 1)
            XCTAssertEqual(result.stderr, "eventfilter: unknown user nobody@example.com\n")
        }
        XCTAssertEqual(try root.dump(), before)
    }
}
