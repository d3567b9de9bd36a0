import EventFilterKit
import Foundation
import XCTest

/// Transactions, savepoints and row claiming on a real PostgreSQL server, seen from a second
/// connection where it matters (what another process would see).
final class PostgresTransactionTests: XCTestCase {
    private var database: TestPostgresDatabase!
    private var db: PostgresConnection!
    private var other: PostgresConnection!

    private struct Refused: Error {}

    override func setUpWithError() throws {
        database = try TestPostgres.server().makeDatabase()
        db = try database.connect()
        other = try database.connect()
        try db.executeScript("CREATE TABLE item (name text PRIMARY KEY, n bigint NOT NULL DEFAULT 0)")
        // A lock the tests do not expect fails in 5 s instead of hanging the run.
        for connection in [db!, other!] { try connection.executeScript("SET lock_timeout = '5s'") }
    }

    override func tearDown() {
        db = nil
        other = nil
        database = nil
    }

    private func names(_ connection: PostgresConnection) throws -> [String] {
        try connection.query("SELECT name FROM item ORDER BY name").map { try $0.string("name") }
    }

    func testATransactionCommitsWhenItsBodyReturns() throws {
        let result = try db.inTransaction {
            try db.execute("INSERT INTO item(name) VALUES ($1)", ["a"])
            XCTAssertEqual(try names(other), [], "not visible before the commit")
            return 42
        }
        XCTAssertEqual(result, 42)
        XCTAssertFalse(db.isInTransaction)
        XCTAssertEqual(try names(other), ["a"])
    }

    func testATransactionRollsBackWhenItsBodyThrows() throws {
        XCTAssertThrowsError(try db.inTransaction {
            try db.execute("INSERT INTO item(name) VALUES ($1)", ["a"])
            throw Refused()
        }) { error in XCTAssertTrue(error is Refused, "the body's own error comes out: \(error)") }
        XCTAssertFalse(db.isInTransaction)
        XCTAssertEqual(try names(other), [])
        XCTAssertEqual(try names(db), [])
    }

    func testASavepointUndoesOnlyItsOwnWrites() throws {
        try db.inTransaction {
            try db.execute("INSERT INTO item(name) VALUES ($1)", ["a"])
            XCTAssertThrowsError(try db.inSavepoint {
                try db.execute("INSERT INTO item(name) VALUES ($1)", ["b"])
                throw Refused()
            })
            // A nested transaction is a savepoint too; a failed statement in it is undone with it.
            XCTAssertThrowsError(try db.inTransaction {
                try db.execute("INSERT INTO item(name) VALUES ($1)", ["c"])
                try db.execute("INSERT INTO item(name) VALUES ($1)", ["a"])  // duplicate key
            }) { error in XCTAssertEqual((error as? PostgresError)?.sqlState, "23505") }
            try db.inSavepoint { try db.execute("INSERT INTO item(name) VALUES ($1)", ["d"]) }
        }
        XCTAssertEqual(try names(other), ["a", "d"])
    }

    func testAStatementThatFailedInsideATransactionPreventsTheCommit() throws {
        XCTAssertThrowsError(try db.inTransaction {
            try db.execute("INSERT INTO item(name) VALUES ($1)", ["a"])
            // The body swallows the failure; PostgreSQL has aborted the transaction all the same.
            _ = try? db.execute("INSERT INTO item(name) VALUES ($1)", ["a"])
        }) { error in
            XCTAssertEqual("\(error)", "PostgreSQL error: the transaction was rolled back: a statement in it failed")
        }
        XCTAssertEqual(try names(other), [])
        try db.execute("INSERT INTO item(name) VALUES ($1)", ["b"])  // the connection is usable again
        XCTAssertEqual(try names(other), ["b"])
    }

    func testALostUpdateIsASerializationFailureToRetry() throws {
        try db.execute("INSERT INTO item(name, n) VALUES ($1, $2)", ["counter", 1])
        XCTAssertThrowsError(try db.inTransaction(.repeatableRead) {
            let n = try XCTUnwrap(db.first("SELECT n FROM item WHERE name = $1", ["counter"])).int64("n")
            // Another process changes the row after this transaction's snapshot was taken.
            try other.execute("UPDATE item SET n = n + 10 WHERE name = $1", ["counter"])
            try db.execute("UPDATE item SET n = $1 WHERE name = $2", [n + 1, "counter"])
        }) { error in
            let error = error as? PostgresError
            XCTAssertEqual(error?.sqlState, "40001")
            XCTAssertEqual(error?.kind, .retryable)
            XCTAssertEqual(error?.message, "could not serialize access due to concurrent update")
        }
        XCTAssertEqual(try other.first("SELECT n FROM item WHERE name = $1", ["counter"])?.int("n"), 11, "the other update was not lost")
        // Run again, the transaction sees the new value.
        try db.inTransaction(.repeatableRead) {
            let n = try XCTUnwrap(db.first("SELECT n FROM item WHERE name = $1", ["counter"])).int64("n")
            try db.execute("UPDATE item SET n = $1 WHERE name = $2", [n + 1, "counter"])
        }
        XCTAssertEqual(try other.first("SELECT n FROM item WHERE name = $1", ["counter"])?.int("n"), 12)
    }

    func testADeadlockIsRetryableAndTheOtherTransactionGoesOn() throws {
        try db.execute("INSERT INTO item(name, n) VALUES ($1, 0), ($2, 0)", ["x", "y"])
        // This connection checks for deadlocks after 100 ms, the other after 10 s: this one is
        // the transaction PostgreSQL chooses to break.
        try db.executeScript("SET deadlock_timeout = '100ms'")
        let connectionString = database.connectionString
        let outcome = ThreadOutcome()
        let holdsY = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        let thread = Thread {
            defer { done.signal() }
            do {
                let other = try PostgresConnection(connectionString)
                try other.executeScript("SET deadlock_timeout = '10s'; SET lock_timeout = '20s'")
                try other.inTransaction {
                    try other.execute("UPDATE item SET n = n + 1 WHERE name = $1", ["y"])
                    holdsY.signal()
                    try other.execute("UPDATE item SET n = n + 1 WHERE name = $1", ["x"])  // waits for this test's lock
                }
                outcome.set("committed")
            } catch {
                outcome.set("\(error)")
            }
        }
        XCTAssertThrowsError(try db.inTransaction {
            try db.execute("UPDATE item SET n = n + 10 WHERE name = $1", ["x"])
            thread.start()
            XCTAssertEqual(holdsY.wait(timeout: .now() + 10), .success)
            // Once the other transaction queues for x, reaching for y makes each wait for the other.
            XCTAssertNotNil(try waitForALockWait(), "the other transaction never waited for x")
            try db.execute("UPDATE item SET n = n + 10 WHERE name = $1", ["y"])
        }) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "40P01", "\(error)")
            XCTAssertEqual((error as? PostgresError)?.kind, .retryable)
        }
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
        XCTAssertEqual(outcome.value, "committed")
        // The broken transaction left nothing; the other one's writes are all there.
        let values = try other.query("SELECT name, n FROM item ORDER BY name").map { "\(try $0.string("name"))=\(try $0.int("n"))" }
        XCTAssertEqual(values, ["x=1", "y=1"])
    }

    /// The pid of another session of this database waiting for a lock, polled for at most 10 s.
    private func waitForALockWait() throws -> Int? {
        for _ in 0..<500 {
            if let row = try other.first("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'") {
                return try row.int("pid")
            }
            usleep(20_000)
        }
        return nil
    }

    func testTwoConnectionsClaimDisjointRowsWithSkipLocked() throws {
        try db.executeScript("CREATE TABLE job (id bigint PRIMARY KEY, claimed_by text)")
        for id in 1...10 { try db.execute("INSERT INTO job(id) VALUES ($1)", [id]) }
        let claim = """
            UPDATE job SET claimed_by = $1 WHERE id IN (
                SELECT id FROM job WHERE claimed_by IS NULL ORDER BY id LIMIT 4 FOR UPDATE SKIP LOCKED)
            RETURNING id
            """
        func claimed(_ connection: PostgresConnection, _ worker: String) throws -> [Int] {
            try connection.query(claim, [worker]).map { try $0.int("id") }.sorted()
        }
        var first: [Int] = [], second: [Int] = []
        try db.inTransaction {
            first = try claimed(db, "first")
            // While the first claim's rows are locked, the second worker skips them instead of waiting.
            try other.inTransaction { second = try claimed(other, "second") }
        }
        XCTAssertEqual(first, [1, 2, 3, 4])
        XCTAssertEqual(second, [5, 6, 7, 8])
        let owners = try other.query("SELECT id, claimed_by FROM job ORDER BY id").map { try $0.optionalString("claimed_by") }
        XCTAssertEqual(owners, Array(repeating: "first", count: 4) + Array(repeating: "second", count: 4) + [nil, nil])
    }
}

/// What a test's second thread reports back, behind a lock.
private final class ThreadOutcome: @unchecked Sendable {
    private let lock = NSLock()
    private var text: String?

    func set(_ value: String) { lock.withLock { text = value } }
    var value: String? { lock.withLock { text } }
}
