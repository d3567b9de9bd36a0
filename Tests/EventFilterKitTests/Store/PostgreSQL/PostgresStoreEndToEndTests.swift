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
}
