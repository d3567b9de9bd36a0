import CSQLite
import XCTest
@testable import EventFilterKit

/// What the rest of eventfilter decides from a store error, the same for either backend.
final class StorageErrorTests: XCTestCase {
    private let sqliteFull = DatabaseError(code: SQLITE_FULL, extendedCode: SQLITE_FULL, message: "database or disk is full",
                                           sql: "INSERT INTO outbox(recipient) VALUES (?)")
    private let postgresFull = PostgresError(sqlState: "53100", message: "could not extend file \"base/16384/2619\": No space left on device",
                                             sql: "INSERT INTO outbox(recipient) VALUES ($1)")

    func testAFullDiskIsReportedInTheSameWordsByEitherBackend() {
        let errors: [any StorageError] = [sqliteFull, postgresFull]
        let reports = errors.map { $0.report }
        let sentence = "the store's disk is full: nothing more can be written until space is freed; free space, then run the command again ("
        for report in reports {
            XCTAssertTrue(report.hasPrefix(sentence), report)
            XCTAssertFalse(report.contains("\n"), report)
        }
        XCTAssertTrue(reports[0].hasSuffix("(SQLite error 13: database or disk is full (in: INSERT INTO outbox(recipient) VALUES (?)))"), reports[0])
        XCTAssertTrue(reports[1].contains("(PostgreSQL error 53100: could not extend file"), reports[1])
    }

    func testOtherErrorsAreReportedAsTheBackendSaysThem() {
        let busy = DatabaseError(code: SQLITE_BUSY, extendedCode: SQLITE_BUSY, message: "database is locked", sql: nil)
        let duplicate = PostgresError(sqlState: "23505", message: "duplicate key value violates unique constraint \"user_email\"")
        XCTAssertEqual(busy.report, "SQLite error 5: database is locked")
        XCTAssertEqual(duplicate.report, "PostgreSQL error 23505: duplicate key value violates unique constraint \"user_email\"")
    }

    /// Callers catch `any StorageError` and decide by `kind`: both backends' errors are caught, with
    /// the same meaning for the same situation.
    func testEitherBackendsErrorIsCaughtAsAStorageErrorWithItsMeaning() {
        func caught(_ error: any Error) -> StorageErrorKind? {
            do { throw error } catch let error as any StorageError { return error.kind } catch { return nil }
        }
        XCTAssertEqual(caught(DatabaseError(code: SQLITE_LOCKED, extendedCode: SQLITE_LOCKED, message: "locked", sql: nil)), .retryable)
        XCTAssertEqual(caught(PostgresError(sqlState: "40001", message: "could not serialize access")), .retryable)
        XCTAssertEqual(caught(sqliteFull), .diskFull)
        XCTAssertEqual(caught(postgresFull), .diskFull)
        XCTAssertNil(caught(EventFilterError.failure("not a store error")))
    }
}
