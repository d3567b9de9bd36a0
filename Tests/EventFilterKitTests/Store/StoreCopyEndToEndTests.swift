import Foundation
import XCTest

@testable import EventFilterKit

/// `eventfilter db copy`: an SQLite store with rows in every table copied into an empty
/// PostgreSQL database, then read back through the store on PostgreSQL.
final class StoreCopyEndToEndTests: XCTestCase {
    private let now = "2026-05-04T10:00:00Z"
    private var database: TestPostgresDatabase!

    override func setUpWithError() throws {
        database = try TestPostgres.server().makeDatabase()
    }

    override func tearDown() {
        database = nil
    }

    private func sqlitePath(_ root: TestRoot) -> String { root.url.appendingPathComponent("var/eventfilter.db").path }

    /// A store with at least one row in every table: made by commands and a run where they make
    /// rows, the rest written directly.
    private func populatedStore() throws -> TestRoot {
        let root = try TestRoot()
        try root.ok("user", "add", "ann@example.com", "--name", "Ann Editor", now: now)
        try root.ok("user", "add", "bob@example.com", now: now)
        try root.ok("subscribe", "ann@example.com", "2", now: now)
        try root.ok("subscribe", "bob@example.com", "2", now: now)
        try root.ok("collaboration", "subscribe", "ann@example.com", "ezapprove", now: now)
        try root.ok("digest", "ann@example.com", "daily", "08:00", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=77", "path=/1/2/77/", "name=Spring news", "--key", "k1", now: now)
        try root.ok("run", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=78", "path=/1/2/78/", "--not-before", "2026-06-01T00:00:00Z", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=79", "path=/1/2/79/", now: now)
        let db = try Database(path: sqlitePath(root))
        // The newest event purged: SQLite never hands its id out again, and neither may PostgreSQL.
        let purged = try XCTUnwrap(db.scalarInt("SELECT max(id) FROM event"))
        try db.execute("DELETE FROM event WHERE id = ?", [purged])
        let waiting = try XCTUnwrap(db.scalarInt("SELECT max(id) FROM event"))
        let outbox = try XCTUnwrap(db.scalarInt("SELECT min(id) FROM outbox"))
        let user = try XCTUnwrap(db.scalarInt("SELECT min(id) FROM user"))
        try db.execute("INSERT INTO event_progress(event_id, handler, done, attempts, last_error, updated_at) VALUES (?, 'custom', 0, 2, 'exit 3', 1777888000)", [waiting])
        try db.execute("INSERT INTO outbox_delivered(outbox_id, sent_at, reply) VALUES (?, 1777888000, '250 2.0.0 Ok') ON CONFLICT DO NOTHING", [outbox])
        try db.execute("INSERT INTO webhook_object(source, object_type, object_id, start_date, cancelled, updated_at) VALUES ('kaltura', 'entry', '0_abc', 1777900000, 0, 1777888000)")
        try db.execute("INSERT INTO installation_secret(name, value) VALUES ('test', ?) ON CONFLICT DO NOTHING", [[0, 1, 254, 255] as [UInt8]])
        try db.execute("INSERT INTO bounce(outbox_id, hard, recipient, status, diagnostic, received_at) VALUES (?, 1, 'bob@example.com', '5.1.1', 'no such user', 1777888000)", [outbox])
        try db.execute("INSERT INTO bounce_address(address, hard, soft, last_status, updated_at) VALUES ('Bob@Example.com', 1, 0, '5.1.1', 1777888000)")
        try db.execute("INSERT INTO deleted_node(node_id, deleted_at, event_id) VALUES ('66', 1777888000, NULL)")
        try db.execute("INSERT INTO reported_problem(key, message, reported_at, seen_run) VALUES ('handler:custom', 'custom fails', 1777888000, 1) ON CONFLICT DO NOTHING")
        try db.execute("INSERT INTO handler_state(handler, failing_since, failures, next_attempt_at, last_error, stderr_tail) VALUES ('custom', 1777888000, 2, 1777889000, 'exit 3', 'line')")
        try db.execute("INSERT INTO handler_gave_up(event_id, handler, error, gave_up_at) VALUES (?, 'other', 'gave up', 1777888000)", [waiting])
        try db.execute("INSERT INTO settings_token(hash, user_id, created_at) VALUES ('ab12', ?, 1777888000) ON CONFLICT DO NOTHING", [user])
        for table in try tables(db) {
            XCTAssertGreaterThan(try db.scalarInt("SELECT count(*) FROM \"\(table)\"") ?? 0, 0, "the test store has rows in \(table)")
        }
        return root
    }

    private func tables(_ db: Database) throws -> [String] {
        try db.map("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name") { try $0.string("name") }
    }

    /// Every row of `table` on each side, in the columns PostgreSQL stores, sorted.
    private func contents(_ table: String, sqlite: Database, postgres: PostgresConnection) throws -> (sqlite: [String], postgres: [String]) {
        let columns = try postgres.query("""
            SELECT column_name FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER' ORDER BY ordinal_position
            """, [table]).map { try $0.string("column_name") }
        XCTAssertFalse(columns.isEmpty, "\(table) exists on PostgreSQL")
        let list = columns.map { "\"\($0)\"" }.joined(separator: ", ")
        let left = try sqlite.map("SELECT \(list) FROM \"\(table)\"") { row in
            "\((0..<Int32(columns.count)).map { row.value($0) })"
        }
        let right = try postgres.query("SELECT \(list) FROM \"\(table)\"").map { row in
            "\(try columns.map { try row.value($0) })"
        }
        return (left.sorted(), right.sorted())
    }

    func testEveryTableIsCopiedAndReadsBackThroughTheStoreOnPostgreSQL() throws {
        let root = try populatedStore()
        let statusBefore = try root.ok("status", "--json", now: now)
        let usersBefore = try root.ok("user", "list", now: now)
        let eventsBefore = try root.ok("event", "list", now: now)
        let sqlite = try Database(path: sqlitePath(root))
        let tableNames = try tables(sqlite)
        let rows = try tableNames.reduce(0) { $0 + (try sqlite.scalarInt("SELECT count(*) FROM \"\($1)\"") ?? 0) }

        let target = PostgresConnectionString(database.connectionString).redacted
        XCTAssertEqual(try root.ok("db", "copy", "--to", database.connectionString, now: now),
                       "copied \(rows) rows in \(tableNames.count) tables from \(sqlitePath(root)) to \(target)\n")

        let postgres = try database.connect()
        for table in tableNames {
            let (left, right) = try contents(table, sqlite: sqlite, postgres: postgres)
            XCTAssertEqual(left, right, "\(table) holds the same rows on both")
        }

        // The installation switched to PostgreSQL reads the same store.
        try root.write("settings/override/site.ini.append.php", """
            [DatabaseSettings]
            Backend=postgresql
            ConnectionString=\(database.connectionString)

            """)
        XCTAssertEqual(try root.ok("status", "--json", now: now), statusBefore)
        XCTAssertEqual(try root.ok("user", "list", now: now), usersBefore)
        XCTAssertEqual(try root.ok("event", "list", now: now), eventsBefore)
        // Ids go on after the highest SQLite ever gave out, the purged event's included.
        let highest = try XCTUnwrap(sqlite.first("SELECT seq FROM sqlite_sequence WHERE name = 'event'", []) { try $0.int64("seq") })
        XCTAssertEqual(try root.ok("event", "add", "ezpublish", "node_id=80", "path=/1/2/80/", now: now), "\(highest + 1)\n")
        try root.ok("user", "add", "cy@example.com", now: now)
        XCTAssertEqual(try postgres.first("SELECT count(*) AS n FROM \"user\"")?.int64("n"), 3)
    }

    /// Acceptances a killed run recorded beside the SQLite store (its acceptance log) and no
    /// settle marked sent yet are copied as rows of outbox_delivered, which the next run on
    /// PostgreSQL settles, so those messages are not sent again.
    func testAcceptancesWaitingInTheLogAreCopiedForTheNextRunToSettle() throws {
        let root = try populatedStore()
        let sqlite = try Database(path: sqlitePath(root))
        // The message's acceptance in the log alone, as a delivery on SQLite records it.
        try sqlite.execute("DELETE FROM outbox_delivered")
        let waiting = try XCTUnwrap(sqlite.scalarInt("SELECT min(id) FROM outbox"))
        let source = try Store(path: sqlitePath(root))
        _ = try source.acceptanceLog(recording: true)  // as a delivery draws it before recording
        try source.recordAccepted(id: Int64(waiting), reply: "250 2.0.0 Ok: queued as 4F2A1", now: 1_777_888_100)
        XCTAssertEqual(try source.unsettledAcceptances(), [Int64(waiting)])
        XCTAssertEqual(try sqlite.scalarInt("SELECT count(*) FROM outbox_delivered"), 0, "in the log, not the table")
        let tableRows = try tables(sqlite).reduce(0) { $0 + (try sqlite.scalarInt("SELECT count(*) FROM \"\($1)\"") ?? 0) }
        let summary = try root.ok("db", "copy", "--to", database.connectionString, now: now)
        // The log's id stays behind (one row fewer), its acceptance comes along (one more).
        XCTAssertTrue(summary.hasPrefix("copied \(tableRows) rows in "), summary)
        let postgres = try database.connect()
        XCTAssertEqual(try postgres.first("SELECT count(*) AS n FROM installation_secret WHERE name = 'acceptance-log'")?.int64("n"), 0)
        let row = try XCTUnwrap(postgres.query("SELECT sent_at, reply FROM outbox_delivered WHERE outbox_id = $1", ["\(waiting)"]).first)
        XCTAssertEqual(try row.int64("sent_at"), 1_777_888_100)
        XCTAssertEqual(try row.string("reply"), "250 2.0.0 Ok: queued as 4F2A1")
        XCTAssertEqual(try postgres.first("SELECT count(*) AS n FROM outbox_delivered")?.int64("n"), 1)
    }

    func testANonEmptyTargetIsRefusedAndLeftAsItWas() throws {
        let root = try populatedStore()
        let postgres = try database.connect()
        try postgres.executeScript("CREATE TABLE notes (text text); INSERT INTO notes VALUES ('keep me')")
        let target = PostgresConnectionString(database.connectionString).redacted
        let refused = try root.run(["db", "copy", "--to", database.connectionString], now: now)
        XCTAssertEqual(refused.status, 1)
        XCTAssertEqual(refused.stderr, "eventfilter: \(target) is not empty (tables: notes); db copy only fills an empty database\n")
        XCTAssertEqual(try postgres.query("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()").map { try $0.string("tablename") },
                       ["notes"])
        XCTAssertEqual(try postgres.first("SELECT text FROM notes")?.string("text"), "keep me")

        // A database that already holds a store is not empty either: a second copy is refused.
        let other = try TestPostgres.server().makeDatabase()
        XCTAssertEqual(try root.run(["db", "copy", "--to", other.connectionString], now: now).status, 0)
        let again = try root.run(["db", "copy", "--to", other.connectionString], now: now)
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.hasSuffix("db copy only fills an empty database\n"), again.stderr)
        XCTAssertEqual(try other.connect().first("SELECT count(*) AS n FROM \"user\"")?.int64("n"), 2)
    }

    func testTheTargetDefaultsToTheConfiguredConnection() throws {
        let root = try populatedStore()
        let missing = try root.run(["db", "copy"], now: now)
        XCTAssertEqual(missing.status, 2)
        XCTAssertEqual(missing.stderr, "eventfilter: db copy needs the target: --to CONNECTION, EVENTFILTER_DATABASE, "
                       + "or site.ini [DatabaseSettings] ConnectionString\n")
        let copied = try root.run(["db", "copy"], now: now, environment: ["EVENTFILTER_DATABASE": database.connectionString])
        XCTAssertEqual(copied.status, 0, copied.stderr)
        XCTAssertEqual(try database.connect().first("SELECT count(*) AS n FROM \"user\"")?.int64("n"), 2)
    }

    func testACopyBackFromPostgreSQLIsANewSQLiteStoreWithTheSameRows() throws {
        let root = try populatedStore()
        let original = sqlitePath(root)
        try root.ok("db", "copy", "--to", database.connectionString, now: now)
        let statusBefore = try root.ok("status", "--json", now: now)
        let moved = original + ".before"
        XCTAssertEqual(rename(original, moved), 0)
        for suffix in ["-wal", "-shm"] { unlink(original + suffix) }

        let target = PostgresConnectionString(database.connectionString).redacted
        let sqlite = try Database(path: moved)
        let tableNames = try tables(sqlite)
        let rows = try tableNames.reduce(0) { $0 + (try sqlite.scalarInt("SELECT count(*) FROM \"\($1)\"") ?? 0) }
        XCTAssertEqual(try root.ok("db", "copy", "--from", database.connectionString, now: now),
                       "copied \(rows) rows in \(tableNames.count) tables from \(target) to \(original)\n")
        let copy = try Database(path: original)
        let postgres = try database.connect()
        for table in tableNames {
            let (left, right) = try contents(table, sqlite: copy, postgres: postgres)
            XCTAssertEqual(left, right, "\(table) holds the same rows on both")
        }
        XCTAssertEqual(try copy.scalarInt("SELECT seq FROM sqlite_sequence WHERE name = 'event'"),
                       try sqlite.scalarInt("SELECT seq FROM sqlite_sequence WHERE name = 'event'"), "purged ids stay used")
        XCTAssertEqual(try root.ok("status", "--json", now: now), statusBefore)

        let again = try root.run(["db", "copy", "--from", database.connectionString], now: now)
        XCTAssertEqual(again.status, 1)
        XCTAssertEqual(again.stderr, "eventfilter: \(original) already exists; db copy --from makes a new SQLite store, so move it away first\n")
    }
}
