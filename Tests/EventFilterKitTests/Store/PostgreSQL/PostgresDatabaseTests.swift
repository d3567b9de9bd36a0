import Foundation
import XCTest

@testable import EventFilterKit

/// `PostgresDatabase`: the store's SQL, written once for both backends, on a real server.
final class PostgresDatabaseTests: XCTestCase {
    private var database: TestPostgresDatabase!
    private var db: PostgresDatabase!

    override func setUpWithError() throws {
        database = try TestPostgres.server().makeDatabase()
        db = try PostgresDatabase(connection: database.connect())
        try PostgresMigrations.migrate(db)
    }

    override func tearDown() {
        db = nil
        database = nil
    }

    func testPlaceholdersAreNumberedAndTheTableUserQuotedOutsideLiteralsNamesAndComments() {
        XCTAssertEqual(PostgresSQL.translate("SELECT id FROM user WHERE email = ? AND enabled = ?"),
                       #"SELECT id FROM "user" WHERE email = $1 AND enabled = $2"#)
        XCTAssertEqual(PostgresSQL.translate("SELECT u.user_id, 'user?' AS \"user\" FROM USER AS u -- user?\nWHERE x = ?"),
                       "SELECT u.user_id, 'user?' AS \"user\" FROM \"user\" AS u -- user?\nWHERE x = $1")
        XCTAssertEqual(PostgresSQL.translate("SELECT 'it''s ?', ? FROM user_account"), "SELECT 'it''s ?', $1 FROM user_account")
    }

    func testTheStoresSQLRunsWithRowsReadByNameAndByPosition() throws {
        try db.execute("INSERT INTO user(email, name, token, created_at) VALUES (?, ?, ?, ?)", ["Ann@Example.com", "Ann", "t1", 1_777_888_000])
        XCTAssertEqual(db.changes, 1)
        let id = db.lastInsertRowID
        let row = try XCTUnwrap(db.first("SELECT id, email, name, created_at FROM user WHERE email = ?", ["ann@example.COM"]) {
            (try $0.int64("id"), try $0.string("email"), $0.string(2), $0.int64(3), $0.isNull(1))
        })
        XCTAssertEqual(row.0, id)
        XCTAssertEqual(row.1, "Ann@Example.com", "found whatever the case, as SQLite's COLLATE NOCASE does")
        XCTAssertEqual(row.2, "Ann")
        XCTAssertEqual(row.3, 1_777_888_000)
        XCTAssertFalse(row.4)
        XCTAssertEqual(try db.scalarInt("SELECT count(*) FROM user WHERE id IN (\(db.elements(of: .integer)))", ["[\(id), 999]"]), 1)
        XCTAssertEqual(try db.map("SELECT email FROM user WHERE email IN (\(db.elements(of: .text)))", [#"["ann@example.com"]"#]) {
            try $0.string("email")
        }, ["Ann@Example.com"])
        try db.execute("UPDATE user SET name = ? WHERE id = ?", ["Ann E.", id])
        XCTAssertEqual(db.changes, 1)
    }

    func testTransactionsSavepointsAndDryRuns() throws {
        struct Failure: Error {}
        try db.inTransaction {
            XCTAssertTrue(db.isInTransaction)
            try db.execute("INSERT INTO run_log(started_at) VALUES (?)", [1])
            XCTAssertThrowsError(try db.inSavepoint {
                try db.execute("INSERT INTO run_log(started_at) VALUES (?)", [2])
                throw Failure()
            })
        }
        XCTAssertFalse(db.isInTransaction)
        XCTAssertThrowsError(try db.inTransaction {
            try db.execute("INSERT INTO run_log(started_at) VALUES (?)", [3])
            throw Failure()
        })
        let kept = try db.inRolledBackTransaction {
            try db.execute("INSERT INTO run_log(started_at) VALUES (?)", [4])
            return try db.scalarInt("SELECT count(*) FROM run_log") ?? 0
        }
        XCTAssertEqual(kept, 2, "the dry run sees its own write")
        XCTAssertEqual(try db.map("SELECT started_at FROM run_log ORDER BY id") { try $0.int64("started_at") }, [1])
    }

    func testAnEventsNodeIsComputedFromItsParams() throws {
        try db.execute("INSERT INTO event(type, params, created_at) VALUES (?, ?, ?)", ["ezpublish", #"{"node_id":77,"path":"/1/2/77/"}"#, 1])
        try db.execute("INSERT INTO event(type, params, created_at) VALUES (?, ?, ?)", ["ezpublish", #"{"node_id":"kaltura-1"}"#, 1])
        XCTAssertEqual(try db.map("SELECT node_id, json_extract(params, '$.path') AS path FROM event ORDER BY id") {
            [try $0.string("node_id"), try $0.optionalString("path") ?? "-"]
        }, [["77", "/1/2/77/"], ["kaltura-1", "-"]])
    }
}
