import Foundation
import XCTest

/// Writers never starve each other: the digest stage commits user by user, `event import` checks
/// its whole input before it takes the write lock, and delivery waits out a locked store after a
/// server accepted a message instead of sending it again. Hold times come from the store's own
/// instrumentation (`EVENTFILTER_TRACE_WRITE_LOCK=1`: one stderr line per transaction).
final class WriteLockEndToEndTests: XCTestCase {
    private let trace = ["EVENTFILTER_TRACE_WRITE_LOCK": "1"]

    private func writeLockLines(_ stderr: String) -> [Substring] {
        stderr.split(separator: "\n").filter { $0.hasPrefix("write lock: ") }
    }

    func testADigestRunOfManyUsersCommitsUserByUser() throws {
        // The trace reports SQLite's write lock (one writer at a time); PostgreSQL locks rows.
        try TestRoot.requireSQLite("the write-lock trace")
        let root = try TestRoot()
        let users = (1...25).map { "user\($0)@example.com" }
        for user in users {
            try root.ok("user", "add", user, now: "2026-05-04T06:00:00Z")
            try root.ok("subscribe", user, "2", now: "2026-05-04T06:00:00Z")
            try root.ok("digest", user, "daily", "08:00", now: "2026-05-04T06:00:00Z")
        }
        for node in 5...7 {
            try root.ok("event", "add", "ezpublish", "node_id=\(node)", "path=/1/2/\(node)/", now: "2026-05-04T06:00:00Z")
        }
        try root.ok("run", now: "2026-05-04T07:00:00Z")  // 75 items held for 08:00
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM digest_item"), 75)

        let run = try root.run(["run"], now: "2026-05-04T08:00:00Z", environment: trace)
        XCTAssertEqual(run.status, 0, run.stderr)
        let holds = writeLockLines(run.stderr)
        XCTAssertEqual(holds.count, run.stderr.split(separator: "\n").count, "nothing but the trace: \(run.stderr)")
        // One transaction per user's digest, plus the tick, the tick's handled mark and the outbox settling.
        XCTAssertGreaterThanOrEqual(holds.count, users.count, run.stderr)
        XCTAssertTrue(holds.allSatisfy { $0.hasSuffix(" committed") }, run.stderr)
        XCTAssertEqual(try root.mails().count, users.count, "one digest each")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM digest_item"), 0)
    }

    func testEventImportChecksItsWholeInputBeforeLocking() throws {
        let root = try TestRoot()
        try root.ok("user", "add", "ann@example.com", now: "2026-05-04T10:00:00Z")
        let before = try root.dump()
        let good = #"{"type":"ezpublish","params":{"node_id":"5","path":"/1/2/5/"}}"#
        let input = Array(repeating: good, count: 1000) + [#"{"type":"ezpublish","params":{"node_id":"a b"}}"#]
        let result = try root.run(["event", "import", "-"], now: "2026-05-04T10:00:00Z", stdin: input.joined(separator: "\n"),
                                  environment: trace)
        XCTAssertEqual(result.status, 2)
        XCTAssertEqual(result.stderr,
                       "eventfilter: line 1001: invalid node id 'a b': one path element, no '/', spaces, '.' or '..'\n",
                       "refused without a write transaction (no trace line)")
        XCTAssertEqual(try root.dump(), before)

        let imported = try root.run(["event", "import", "-"], now: "2026-05-04T10:00:00Z",
                                    stdin: input.dropLast().joined(separator: "\n"), environment: trace)
        XCTAssertEqual(imported.status, 0, imported.stderr)
        XCTAssertEqual(imported.stdout, "imported 1000 events, 0 duplicates\n")
        if TestBackend.current == .sqlite {  // the trace reports SQLite's write lock
            XCTAssertEqual(writeLockLines(imported.stderr).count, 1, "one transaction for all: \(imported.stderr)")
        }
    }

    /// An import reading from a producer that has not finished does not lock out `event add`.
    func testAnEventAddIsNotHeldUpByAnImportStillReading() throws {
        // Waits for the importer to open the store file and bounds SQLite's busy timeout.
        try TestRoot.requireSQLite("an open store file and SQLite's busy timeout")
        let root = try TestRoot()
        try root.ok("user", "add", "ann@example.com", now: "2026-05-04T10:00:00Z")
        let importer = Process()
        importer.executableURL = TestRoot.executable
        importer.arguments = ["--root", root.path, "--now", "2026-05-04T10:00:00Z", "event", "import", "-"]
        let input = Pipe(), output = Pipe()
        importer.standardInput = input
        importer.standardOutput = output
        importer.standardError = FileHandle.nullDevice
        try importer.run()
        input.fileHandleForWriting.write(Data(#"{"type":"ezpublish","params":{"node_id":"5","path":"/1/2/5/"}}"#.utf8 + [10]))
        // Wait (bounded) until the importer has the store open: from then on an importer that locked
        // before reading would hold the lock.
        let fds = "/proc/\(importer.processIdentifier)/fd"
        var opened = false
        for _ in 0..<500 where !opened {
            opened = ((try? FileManager.default.contentsOfDirectory(atPath: fds)) ?? []).contains {
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(fds)/\($0)"))?.hasSuffix("eventfilter.db") ?? false
            }
            if !opened { usleep(10_000) }
        }
        XCTAssertTrue(opened, "the importer opened the store")

        let add = try root.run(["event", "add", "ezpublish", "node_id=6", "path=/1/2/6/"], now: "2026-05-04T10:00:00Z",
                               environment: ["EVENTFILTER_BUSY_TIMEOUT_MS": "200"])
        XCTAssertEqual(add.status, 0, "event add did not wait for the importer: \(add.stderr)")
        XCTAssertTrue(importer.isRunning, "the importer is still reading")

        input.fileHandleForWriting.closeFile()
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        importer.waitUntilExit()
        XCTAssertEqual(importer.terminationStatus, 0)
        XCTAssertEqual(String(decoding: printed, as: UTF8.self), "imported 1 events, 0 duplicates\n")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event"), 2)
    }

    /// The server accepts the first message and, before its 250 reply, takes the store's write
    /// lock for 1.5 s: ten times the busy timeout given to eventfilter. Recording the acceptance
    /// waits it out; the next run sends nothing again.
    func testAStoreLockedAfterA250IsWaitedOutAndNothingIsSentTwice() throws {
        // The test server locks the SQLite file itself (BEGIN EXCLUSIVE) while it holds its reply.
        try TestRoot.requireSQLite("the store file locked by another process")
        try assertALockAfterA250IsWaitedOutAndNothingIsSentTwice()
    }
    /// The same lock held longer than the SMTP timeout: the next message, waiting for the first
    /// one's acceptance to be committed before its final dot, must not run out the timeout and
    /// have the server called dead. Both are sent once, in this run.
    func testAStoreLockedLongerThanTheSMTPTimeoutDefersNothingAndSuspendsNothing() throws {
        try TestRoot.requireSQLite("the store file locked by another process")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ef-lock-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let now = "2026-05-04T10:00:00Z"
        let (root, server) = try twoMessagesForALockingServer(in: scratch, now: now, lockSeconds: "2.5", timeout: 1)
        defer { server.stop() }

        let run = try root.run(["run"], now: now, environment: ["EVENTFILTER_BUSY_TIMEOUT_MS": "150"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.stderr, "")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox WHERE state = 'sent'"), 2)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox WHERE last_error LIKE '%timed out%'"), 0)
        XCTAssertEqual(try server.received().flatMap(\.envelope.recipients).sorted(), ["ann@example.com", "bob@example.com"])
    }

    /// As above with 4 SMTP connections, whose threads record through one store connection
    /// shared by all of them: the thread that finds the store locked waits it out on that
    /// connection while the other waits its turn, and each message is sent and recorded once.
    func testAStoreLockedAfterA250IsWaitedOutWithFourConnections() throws {
        try TestRoot.requireSQLite("the store file locked by another process")
        try assertALockAfterA250IsWaitedOutAndNothingIsSentTwice(settings: ["MaxConnections=4"])
    }

    /// The server takes the store's lock for 1.5 s before its 250 (the busy timeout 150 ms): the
    /// run exits 0 quietly with both messages sent, and the next run sends neither again.
    private func assertALockAfterA250IsWaitedOutAndNothingIsSentTwice(settings: [String] = [],
                                                                      file: StaticString = #filePath, line: UInt = #line) throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ef-lock-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let now = "2026-05-04T10:00:00Z"
        let (root, server) = try twoMessagesForALockingServer(in: scratch, now: now, lockSeconds: "1.5", timeout: 20, extra: settings)
        defer { server.stop() }

        let run = try root.run(["run"], now: now, environment: ["EVENTFILTER_BUSY_TIMEOUT_MS": "150"])
        XCTAssertEqual(run.status, 0, run.stderr, file: file, line: line)
        XCTAssertEqual(run.stderr, "", file: file, line: line)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox WHERE state = 'sent'"), 2, file: file, line: line)

        let again = try root.run(["run"], now: "2026-05-04T10:10:00Z")
        XCTAssertEqual(again.status, 0, again.stderr, file: file, line: line)
        XCTAssertEqual(try server.received().flatMap(\.envelope.recipients).sorted(), ["ann@example.com", "bob@example.com"],
                       "each message sent once", file: file, line: line)
    }

    /// A root with one event for ann@ and bob@ (two immediate messages) that sends through an
    /// SMTP test server which, before its first 250 reply, holds the store's write lock
    /// (BEGIN EXCLUSIVE on the SQLite file) for `lockSeconds`; `timeout` is the SMTP timeout.
    private func twoMessagesForALockingServer(in scratch: URL, now: String, lockSeconds: String,
                                              timeout: Int, extra: [String] = []) throws -> (TestRoot, SMTPTestServer) {
        let root = try TestRoot()
        for email in ["ann@example.com", "bob@example.com"] {
            try root.ok("user", "add", email, now: now)
            try root.ok("subscribe", email, "2", now: now)
        }
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=News", now: now)
        let server = try SMTPTestServer.start(
            port: 0, directory: scratch.appendingPathComponent("server"),
            arguments: ["--lock-db", root.url.appendingPathComponent("var/eventfilter.db").path, "--lock-seconds", lockSeconds])
        do {
            try root.write("settings/site.ini", TestRoot.smtpSiteINI(port: server.port, timeout: "\(timeout)", extra: extra))
        } catch {
            server.stop()
            throw error
        }
        return (root, server)
    }
}
