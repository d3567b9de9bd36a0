import Foundation
import XCTest
@testable import EventFilterKit

/// `db copy` both ways after the migration that moves a message's fixed facts into
/// `outbox_message`: a class of its own, since it makes a PostgreSQL database itself and so runs
/// in the SQLite pass only (OutboxFactsMigrationEndToEndTests runs on either backend).
final class OutboxFactsCopyEndToEndTests: XCTestCase {
    private let now = "2026-05-04T10:00:00Z"
    private let later = "2026-05-04T10:30:00Z"

    /// `db copy` both ways carries the moved facts: the migrated SQLite store copied to
    /// PostgreSQL and back reads the same.
    func testAMigratedStoreCopiesToPostgreSQLAndBackReadingTheSame() throws {
        try TestRoot.requireSQLite("db copy starts from an SQLite store")
        let root = try TestRoot(siteINI: TestRoot.defaultSiteINI + "[MailSettings]\nBounceAddress=bounces@example.org\n")
        for email in ["ann@example.com", "bob@example.com"] {
            try root.ok("user", "add", email, now: now)
            try root.ok("subscribe", email, "2", now: now)
        }
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=Spring news", now: now)
        try root.ok("run", now: now)
        try root.execute("UPDATE outbox SET state = 'failed', sent_at = NULL, last_error = '550 5.1.1 no such user' WHERE id = 2")
        XCTAssertEqual(try root.bounceByVERP(id: 1, now: later).status, 0)
        try root.takeOutboxBack(to: try root.outboxFactsVersionBefore())
        XCTAssertEqual(try root.run(["db", "migrate"], now: later).status, 0)
        // `status` names the store it reads, so it is left out here.
        let viewsBefore = try root.outboxViews(now: later, status: false)

        let database = try TestPostgres.server().makeDatabase()
        try root.ok("db", "copy", "--to", database.connectionString, now: later)
        let original = root.databasePath
        XCTAssertEqual(rename(original, original + ".before"), 0)
        for suffix in ["-wal", "-shm"] { unlink(original + suffix) }
        let override = "settings/override/site.ini.append.php"
        try root.write(override, "[DatabaseSettings]\nBackend=postgresql\nConnectionString=\(database.connectionString)\n")
        XCTAssertEqual(try root.outboxViews(now: later, status: false), viewsBefore, "read from PostgreSQL")
        try FileManager.default.removeItem(at: root.url.appendingPathComponent(override))
        try root.ok("db", "copy", "--from", database.connectionString, now: later)
        XCTAssertEqual(try root.outboxViews(now: later, status: false), viewsBefore, "read from the copy back")
    }
}
