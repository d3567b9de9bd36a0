import Foundation
import XCTest

@testable import EventFilterKit

/// Webhooks taken at the same moment by `eventfilter ingest` processes on one PostgreSQL store
/// (as on several hosts), whose transactions do not exclude each other as SQLite's do. The test
/// holds a table lock from its own session until every process waits, so the processes overlap
/// for certain, then lets them go; what they leave must be what one after the other leaves.
/// Each test has a database of its own on the test server, whichever backend the suite runs.
final class ConcurrentIntakeEndToEndTests: XCTestCase {
    private typealias F = IngestFixture
    private var database: TestPostgresDatabase!

    override func setUpWithError() throws {
        database = try TestPostgres.server().makeDatabase()
    }

    override func tearDown() {
        database = nil
    }

    /// An installation with the intake fixture's sources on `database` (a fresh one by default).
    private func makeRoot(on database: TestPostgresDatabase? = nil) throws -> TestRoot {
        let root = try TestRoot(siteINI: TestRoot.defaultSiteINI + """

            [DatabaseSettings]
            Backend=postgresql
            ConnectionString=\((database ?? self.database).connectionString)

            """)
        try root.write("settings/webhooks.ini", F.webhooksINI)
        try root.ok("user", "add", "ann@example.com", now: F.scheduleNow)
        try root.ok("subscribe", "ann@example.com", "webinars", now: F.scheduleNow)
        return root
    }

    /// The fixture's session notification as a later job that moves the session to 11:00Z.
    private let move = F.schedule
        .replacingOccurrences(of: "33578094492", with: "33578094500")
        .replacingOccurrences(of: #""eventType":2"#, with: #""eventType":3"#)
        .replacingOccurrences(of: #""startDate":1767258000"#, with: #""startDate":1767265200"#)
        .replacingOccurrences(of: #""endDate":1767261600"#, with: #""endDate":1767268800"#)

    private func signature(_ body: String) throws -> String {
        try F.python("import hashlib, sys; print(hashlib.sha1((sys.argv[1] + sys.argv[2]).encode()).hexdigest(), end='')",
                     F.kalturaSecret, body)
    }

    /// `eventfilter ingest` started and not waited for; its stdout and stderr go to files.
    private struct Started {
        let process: Process
        let output: URL
        let errors: URL

        func finish() throws -> (status: Int32, stdout: String, stderr: String) {
            process.waitUntilExit()
            return (process.terminationStatus, try String(contentsOf: output, encoding: .utf8), try String(contentsOf: errors, encoding: .utf8))
        }
    }

    private func startIngest(_ root: TestRoot, _ arguments: [String], body: String, now: String) throws -> Started {
        let scratch = root.url.appendingPathComponent("io-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let input = scratch.appendingPathComponent("in"), output = scratch.appendingPathComponent("out")
        let errors = scratch.appendingPathComponent("err")
        try Data(body.utf8).write(to: input)
        try Data().write(to: output)
        try Data().write(to: errors)
        let process = Process()
        process.executableURL = TestRoot.executable
        process.arguments = ["--root", root.path, "--now", now, "ingest"] + arguments
        process.standardInput = try FileHandle(forReadingFrom: input)
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()
        return Started(process: process, output: output, errors: errors)
    }

    /// Holds `lock` (a `LOCK TABLE ...` statement) from a session of the test's own while `body`
    /// starts processes, until `waiting` other sessions wait for a lock (at most 30 s); then
    /// commits, letting them go on, and returns what `body` returned.
    private func whileLocked<T>(_ lock: String, waiting: Int, _ body: () throws -> T) throws -> T {
        let holder = try database.connect()
        // Another session watches: inside a transaction, pg_stat_activity stays as it first read.
        let observer = try database.connect()
        try holder.executeScript("BEGIN; \(lock)")
        let started: T
        do {
            started = try body()
            let deadline = Date().addingTimeInterval(30)
            while true {
                let blocked = try observer.first("""
                    SELECT count(*) AS blocked FROM pg_stat_activity
                    WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'
                    """)?.int64("blocked") ?? 0
                if blocked >= waiting { break }
                guard Date() < deadline else {
                    let sessions = try observer.query("""
                        SELECT coalesce(state, '-') || ' ' || coalesce(wait_event_type, '-') || '/' || coalesce(wait_event, '-') || ': ' || left(query, 80)
                            AS session
                        FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
                        """).map { try $0.string("session") }
                    XCTFail("only \(blocked) of \(waiting) processes came to wait within 30 s: \(sessions)")
                    break
                }
                usleep(20_000)
            }
        } catch {
            try? holder.executeScript("ROLLBACK")
            throw error
        }
        try holder.executeScript("COMMIT")
        return started
    }

    /// The rows intake writes, as text, ids included.
    private func intakeRows(_ database: TestPostgresDatabase) throws -> [String] {
        let db = try database.connect()
        let queries = [
            "SELECT id, type, params, not_before, handled_at, dedupe_key FROM event ORDER BY id",
            "SELECT key, event_id FROM dedupe_key ORDER BY key",
            """
            SELECT source, object_type, object_id, start_date, end_date, cancelled, reminder_event_id, notice_event_id,
                   told_start, ready_at, sequence FROM webhook_object ORDER BY source, object_type, object_id
            """,
        ]
        return try queries.flatMap { sql in
            try db.query(sql).map { row in
                try row.columnNames.map { try row.optionalString($0) ?? "NULL" }.joined(separator: " | ")
            }
        }
    }

    /// The same notification reaching four processes at once is stored once: every one answers
    /// with the one event's id.
    func testOneNotificationTakenByFourProcessesAtOnceIsStoredOnce() throws {
        let root = try makeRoot()
        let arguments = ["kaltura", "--content-type", F.form]
        let started = try whileLocked("LOCK TABLE event IN EXCLUSIVE MODE", waiting: 4) {
            try (0..<4).map { _ in try startIngest(root, arguments, body: F.kalturaSingle, now: F.scheduleNow) }
        }
        let answers = try started.map { try $0.finish() }
        for answer in answers {
            XCTAssertEqual(answer.status, 0, answer.stderr)
        }
        XCTAssertEqual(Set(answers.map(\.stdout)), ["1\n"], "each names the one stored event")
        let db = try database.connect()
        XCTAssertEqual(try db.first("SELECT count(*) AS events FROM event")?.int64("events"), 1)
        XCTAssertEqual(try db.query("SELECT event_id FROM dedupe_key").map { try $0.int64("event_id") }, [1], "one key, naming the event")
    }

    /// A session's move arriving twice at once (a retry reaching a second host) while the
    /// announcement still waits: applied once, leaving exactly the rows the two leave one after
    /// the other (the announcement withdrawn, one new notice, the reminder moved, and the session
    /// knowing subscribers were told of nothing yet).
    func testAMoveTakenTwiceAtOnceLeavesWhatOneAfterTheOtherLeaves() throws {
        let moveSignature = try signature(move)
        let headers = ["webinars", "--content-type", "application/json", "--header"]
        func announce(_ root: TestRoot) throws {
            let result = try root.run(["ingest"] + headers + ["X-Kaltura-Signature: \(try signature(F.schedule))"], now: F.scheduleNow, stdin: F.schedule)
            XCTAssertEqual(result.status, 0, result.stderr)
        }

        let sequential = try TestPostgres.server().makeDatabase()
        let one = try makeRoot(on: sequential)
        try announce(one)
        let oneAfterTheOther = try (0..<2).map { _ in
            try one.run(["ingest"] + headers + ["X-Kaltura-Signature: \(moveSignature)"], now: "2026-01-01T07:30:00Z", stdin: move)
        }
        for result in oneAfterTheOther {
            XCTAssertEqual(result.status, 0, result.stderr)
        }

        let root = try makeRoot()
        try announce(root)
        // Writes to the session's row wait: without turns, both would read the session before
        // either wrote it.
        let started = try whileLocked("LOCK TABLE webhook_object IN EXCLUSIVE MODE", waiting: 2) {
            try (0..<2).map { _ in
                try startIngest(root, headers + ["X-Kaltura-Signature: \(moveSignature)"], body: move, now: "2026-01-01T07:30:00Z")
            }
        }
        let answers = try started.map { try $0.finish() }
        for answer in answers {
            XCTAssertEqual(answer.status, 0, answer.stderr)
        }
        XCTAssertEqual(answers.map(\.stdout).sorted(), oneAfterTheOther.map(\.stdout).sorted(), "one stores, the other finds it")
        let expected = try intakeRows(sequential)
        XCTAssertEqual(try intakeRows(database), expected)
        XCTAssertTrue(expected.contains { $0.hasPrefix("webinars | schedule_event | 4711 |") && $0.contains("| NULL | NULL | 33578094500") },
                      "the session was told of nothing yet: \(expected)")
    }
}
