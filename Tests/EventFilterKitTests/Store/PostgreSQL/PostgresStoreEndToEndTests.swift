import Foundation
import XCTest

@testable import EventFilterKit

/// The store on PostgreSQL (`[DatabaseSettings] Backend=postgresql`), through the real
/// `eventfilter` executable, each test in a database of its own on the test server.
final class PostgresStoreEndToEndTests: XCTestCase {
    private let now = "2026-05-04T10:00:00Z"
    private var database: TestPostgresDatabase!

    override func setUpWithError() throws {
        database = try TestPostgres.server().makeDatabase()
    }

    override func tearDown() {
        database = nil
    }

    /// An installation whose site.ini selects PostgreSQL with `connectionString`.
    private func postgresRoot(_ connectionString: String? = nil) throws -> TestRoot {
        try TestRoot(siteINI: TestRoot.defaultSiteINI + """

            [DatabaseSettings]
            Backend=postgresql
            ConnectionString=\(connectionString ?? database.connectionString)

            """)
    }

    private func schemaVersion() throws -> Int64? {
        try database.connect().first("SELECT version FROM eventfilter_schema")?.int64("version")
    }

    func testUserAndEventCommandsAndStatusWorkOnPostgreSQL() throws {
        let root = try postgresRoot()
        try root.ok("user", "add", "ann@example.com", "--name", "Ann Editor", now: now)
        try root.ok("user", "add", "bob@example.com", now: now)
        let duplicate = try root.run(["user", "add", "ANN@example.com"], now: now)
        XCTAssertEqual(duplicate.status, 1)
        XCTAssertEqual(duplicate.stderr, "eventfilter: user ANN@example.com already exists\n", "emails compare without case, as on SQLite")
        let users = try root.ok("user", "list", now: now)
        XCTAssertTrue(users.contains("ann@example.com"), users)
        XCTAssertTrue(users.contains("Ann Editor"), users)
        XCTAssertTrue(users.contains("bob@example.com"), users)

        try root.ok("event", "add", "ezpublish", "node_id=77", "path=/1/2/77/", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=78", "path=/1/2/78/", "--key", "k1", now: now)
        let replay = try root.ok("event", "add", "ezpublish", "node_id=78", "path=/1/2/78/", "--key", "k1", now: now)
        XCTAssertTrue(replay.contains("2"), "a replayed key names the first event: \(replay)")
        let events = try root.ok("event", "list", now: now)
        XCTAssertEqual(events.split(separator: "\n").filter { $0.contains("ezpublish") && $0.contains("unhandled") }.count, 2, events)

        let status = try root.ok("status", "--json", now: now)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any])
        let queued = try XCTUnwrap(json["events"] as? [String: Any])
        XCTAssertEqual(queued["unhandled"] as? Int, 2)

        // Everything is in PostgreSQL and nothing in SQLite.
        let db = try database.connect()
        XCTAssertEqual(try db.first("SELECT count(*) AS n FROM \"user\"")?.int64("n"), 2)
        XCTAssertEqual(try db.first("SELECT count(*) AS n FROM event")?.int64("n"), 2)
        XCTAssertEqual(try db.first("SELECT node_id FROM event WHERE dedupe_key = 'k1'")?.string("node_id"), "78")
        XCTAssertFalse(FileManager.default.fileExists(atPath: root.url.appendingPathComponent("var/eventfilter.db").path))
    }

    func testTwoProcessesOpeningANewDatabaseAtOnceMigrateItOnce() throws {
        let root = try postgresRoot()
        let processes = try ["ann@example.com", "bob@example.com", "cy@example.com"].map { email -> Process in
            let process = Process()
            process.executableURL = TestRoot.executable
            process.arguments = ["--root", root.path, "--now", now, "user", "add", email]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            return process
        }
        for process in processes {
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0, "every process finds the schema made, by itself or another")
        }
        XCTAssertEqual(try schemaVersion(), Int64(PostgresMigrations.all.count))
        let db = try database.connect()
        XCTAssertEqual(try db.first("SELECT count(*) AS n FROM eventfilter_schema")?.int64("n"), 1)
        XCTAssertEqual(try db.first("SELECT count(*) AS n FROM \"user\"")?.int64("n"), 3)
    }

    func testAnUpToDateStoreOpensWithoutTheMigrationLockWhileANewOneIsMadeUnderIt() throws {
        let root = try postgresRoot()
        try root.ok("user", "add", "ann@example.com", now: now)
        // Another session holds the migration lock (as one migrating would); waits for it end after 3 s.
        let holder = try database.connect()
        try holder.execute("SELECT pg_advisory_lock($1::bigint)", [PostgresMigrations.lockKey])
        let bounded = ["PGOPTIONS": "-c lock_timeout=3000"]

        let run = try root.run(["run"], now: now, environment: bounded)
        XCTAssertEqual(run.status, 0, "an up-to-date store is only read: \(run.stderr)")
        XCTAssertEqual(run.stdout + run.stderr, "")
        XCTAssertEqual(try database.connect().first("SELECT count(*) AS n FROM run_log WHERE error IS NULL")?.int64("n"), 1)

        // Advisory locks belong to their database: the same lock, held in a database with no store yet.
        let fresh = try TestPostgres.server().makeDatabase()
        let freshHolder = try fresh.connect()
        try freshHolder.execute("SELECT pg_advisory_lock($1::bigint)", [PostgresMigrations.lockKey])
        let newRoot = try postgresRoot(fresh.connectionString)
        let made = try newRoot.run(["user", "add", "bob@example.com"], now: now, environment: bounded)
        XCTAssertEqual(made.status, 1, "a new store is made under the lock, so it waits for it")
        XCTAssertTrue(made.stderr.contains("lock timeout"), made.stderr)
        XCTAssertEqual(try fresh.connect().query("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()").count, 0)

        try freshHolder.execute("SELECT pg_advisory_unlock($1::bigint)", [PostgresMigrations.lockKey])
        try newRoot.ok("user", "add", "bob@example.com", now: now)
    }

    func testAStoreOfANewerEventfilterIsRefusedAndLeftAsItWas() throws {
        let root = try postgresRoot()
        try root.ok("user", "add", "ann@example.com", now: now)
        let newer = PostgresMigrations.all.count + 1
        try database.connect().execute("UPDATE eventfilter_schema SET version = $1", [newer])
        let target = PostgresConnectionString(database.connectionString).redacted
        for command in [["user", "add", "bob@example.com"], ["user", "list"], ["status"], ["db", "migrate"]] {
            let result = try root.run(command, now: now)
            XCTAssertEqual(result.status, 1, command.joined(separator: " "))
            XCTAssertEqual(result.stderr, "eventfilter: \(target) has schema version \(newer), newer than this eventfilter knows "
                           + "(\(newer - 1)): it was written by a newer version; use that one\n", command.joined(separator: " "))
        }
        XCTAssertEqual(try schemaVersion(), Int64(newer))
        XCTAssertEqual(try database.connect().first("SELECT count(*) AS n FROM \"user\"")?.int64("n"), 1)
    }

    func testReadOnlyCommandsNeverMigrate() throws {
        let root = try postgresRoot()
        let listing = try root.run(["user", "list"], now: now)
        XCTAssertEqual(listing.status, 0, listing.stderr)
        XCTAssertEqual(listing.stdout, "", "a database without tables reads as an empty store")
        XCTAssertEqual(try database.connect().query("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()").count, 0)
    }

    func testTheEnvironmentVariableOverridesTheConnectionStringOfTheFile() throws {
        let root = try postgresRoot("host=\(database.server.directory.path) user=postgres dbname=no_such_database")
        let fromFile = try root.run(["user", "add", "ann@example.com"], now: now)
        XCTAssertEqual(fromFile.status, 1)
        XCTAssertTrue(fromFile.stderr.contains("no_such_database"), fromFile.stderr)
        let fromEnvironment = try root.run(["user", "add", "ann@example.com"], now: now,
                                           environment: ["EVENTFILTER_DATABASE": database.connectionString])
        XCTAssertEqual(fromEnvironment.status, 0, fromEnvironment.stderr)
        XCTAssertEqual(try database.connect().first("SELECT email FROM \"user\"")?.string("email"), "ann@example.com")
    }

    func testABadConnectionStringIsOneLineWithoutThePassword() throws {
        for connection in ["postgresql://ann:s3cretword@127.0.0.1:1/eventfilter?connect_timeout=5",
                           "host=127.0.0.1 port=1 user=ann password=s3cretword dbname=eventfilter connect_timeout=5",
                           "host=127.0.0.1 password=s3cretword nonsense"] {
            let root = try postgresRoot(connection)
            let result = try root.run(["user", "add", "ann@example.com"], now: now)
            XCTAssertEqual(result.status, 1, connection)
            XCTAssertEqual(result.stderr.filter { $0 == "\n" }.count, 1, "one line: \(result.stderr)")
            XCTAssertTrue(result.stderr.hasPrefix("eventfilter: PostgreSQL error: cannot connect to "), result.stderr)
            XCTAssertFalse(result.stderr.contains("s3cretword"), result.stderr)
            XCTAssertTrue(result.stderr.contains("***"), result.stderr)
        }
    }

    func testDbMigrateCreatesThenFindsTheStoreUpToDate() throws {
        let root = try postgresRoot()
        let target = PostgresConnectionString(database.connectionString).redacted
        XCTAssertEqual(try root.ok("db", "migrate", now: now),
                       "created the store in \(target) (schema version \(PostgresMigrations.all.count))\n")
        XCTAssertEqual(try root.ok("db", "migrate", now: now), "\(target) is up to date (schema version \(PostgresMigrations.all.count))\n")
        XCTAssertEqual(try schemaVersion(), Int64(PostgresMigrations.all.count))
    }

    func testDbMigrateBringsAnOlderSQLiteStoreUpToDate() throws {
        let root = try TestRoot()
        let path = root.url.appendingPathComponent("var/eventfilter.db").path
        try FileManager.default.createDirectory(at: root.url.appendingPathComponent("var"), withIntermediateDirectories: true)
        let old = Migrations.all.count - 2
        do {
            let db = try Database(path: path)
            try db.execute("PRAGMA application_id = \(Store.applicationID)")
            for migration in Migrations.all.prefix(old) { try db.execute(migration) }
            try db.execute("PRAGMA user_version = \(old)")
        }
        XCTAssertEqual(try root.ok("db", "migrate", now: now),
                       "migrated \(path) from schema version \(old) to \(Migrations.all.count)\n")
        XCTAssertEqual(try Database(path: path).scalarInt("PRAGMA user_version"), Migrations.all.count)
        XCTAssertEqual(try root.ok("db", "migrate", now: now), "\(path) is up to date (schema version \(Migrations.all.count))\n")
    }

    func testADatabaseOfAnotherProgramIsRefusedAndLeftAsItWas() throws {
        let root = try postgresRoot()
        try database.connect().executeScript("CREATE TABLE notes (text text); INSERT INTO notes VALUES ('keep me')")
        let target = PostgresConnectionString(database.connectionString).redacted
        for command in [["user", "add", "ann@example.com"], ["user", "list"]] {
            let result = try root.run(command, now: now)
            XCTAssertEqual(result.status, 1)
            XCTAssertEqual(result.stderr, "eventfilter: \(target) is not an eventfilter store: it has tables (notes) but no eventfilter_schema\n")
        }
        let db = try database.connect()
        XCTAssertEqual(try db.query("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()").map { try $0.string("tablename") }, ["notes"])
        XCTAssertEqual(try db.first("SELECT text FROM notes")?.string("text"), "keep me")
    }

    func testAReadOnlyStoreOnPostgreSQLCannotWrite() throws {
        try Store(postgreSQL: database.connectionString).addUser(email: "ann@example.com", name: "", timezone: "UTC", now: 1)
        let store = try Store(postgreSQL: database.connectionString, access: .readOnly)
        XCTAssertEqual(try store.listUsers().map(\.email), ["ann@example.com"])
        XCTAssertThrowsError(try store.addUser(email: "bob@example.com", name: "", timezone: "UTC", now: 1)) {
            XCTAssertEqual(($0 as? PostgresError)?.sqlState, "25006", "read_only_sql_transaction: \($0)")
        }
        XCTAssertEqual(try Store(postgreSQL: database.connectionString).listUsers().count, 1)
    }
}
