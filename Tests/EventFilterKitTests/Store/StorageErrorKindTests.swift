import CSQLite
import EventFilterKit
import Foundation
import XCTest

/// The backend-neutral meaning of store errors, from PostgreSQL's SQLSTATE codes and SQLite's
/// result codes.
final class StorageErrorKindTests: XCTestCase {
    func testSQLStateCodesMapToTheirMeaning() {
        let cases: [(String?, StorageErrorKind)] = [
            ("23505", .uniqueViolation),
            ("23503", .other),           // foreign key: not a duplicate
            ("23502", .other),           // not null
            ("40001", .retryable),       // serialization failure
            ("40P01", .retryable),       // deadlock detected
            ("53100", .diskFull),
            ("53200", .other),           // out of memory
            ("08006", .connectionLost),  // connection failure
            ("08001", .connectionLost),
            ("57P01", .connectionLost),  // administrator shut the session down
            ("08P01", .other),           // protocol violation
            ("42P01", .other),
            (nil, .other),
        ]
        for (sqlState, kind) in cases {
            XCTAssertEqual(PostgresError.kind(forSQLState: sqlState), kind, sqlState ?? "nil")
            XCTAssertEqual(PostgresError(sqlState: sqlState, message: "m").kind, kind)
        }
    }

    func testSQLiteErrorsMapToTheSameMeanings() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ef-kind-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let db = try Database(path: directory.appendingPathComponent("kind.db").path)
        try db.execute("CREATE TABLE account (id INTEGER PRIMARY KEY, email TEXT UNIQUE NOT NULL)")
        try db.execute("INSERT INTO account(id, email) VALUES (?, ?)", [1, "ann@example.com"])
        func kind(_ arguments: [DatabaseValueConvertible]) -> StorageErrorKind? {
            do {
                try db.execute("INSERT INTO account(id, email) VALUES (?, ?)", arguments)
                return nil
            } catch {
                return (error as? DatabaseError)?.kind
            }
        }
        XCTAssertEqual(kind([2, "ann@example.com"]), .uniqueViolation)
        XCTAssertEqual(kind([1, "bob@example.com"]), .uniqueViolation)
        XCTAssertEqual(kind([3, DatabaseValue.null]), .other)
        XCTAssertEqual(try db.scalarInt("SELECT count(*) FROM account"), 1)
    }
}
