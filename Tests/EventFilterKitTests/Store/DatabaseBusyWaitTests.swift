import Foundation
import XCTest
@testable import EventFilterKit

/// A writer that finds the write lock taken waits for it (retrying often, so a short commit of
/// another process costs little), and gives up after its busy timeout with SQLite's "locked" error.
final class DatabaseBusyWaitTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ef-busy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    func testAWriterWaitsForALockReleasedSoonAndGetsIt() throws {
        let path = directory.appendingPathComponent("busy.db").path
        nonisolated(unsafe) let holder = try Database(path: path)
        try holder.execute("CREATE TABLE t(x INTEGER)")
        let waiter = try Database(path: path, busyTimeout: 10_000)
        try holder.execute("BEGIN IMMEDIATE")
        let released = expectation(description: "released")
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.05) {
            try? holder.execute("COMMIT")
            released.fulfill()
        }
        let start = Date()
        try waiter.execute("BEGIN IMMEDIATE")
        try waiter.execute("INSERT INTO t(x) VALUES (1)")
        try waiter.execute("COMMIT")
        wait(for: [released], timeout: 10)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 0.04, "it waited for the lock")
        XCTAssertEqual(try waiter.scalarInt("SELECT count(*) FROM t"), 1)
    }

    func testAWriterGivesUpAfterItsBusyTimeout() throws {
        let path = directory.appendingPathComponent("busy.db").path
        let holder = try Database(path: path)
        try holder.execute("CREATE TABLE t(x INTEGER)")
        try holder.execute("BEGIN IMMEDIATE")
        let waiter = try Database(path: path, busyTimeout: 300)
        let start = Date()
        XCTAssertThrowsError(try waiter.execute("BEGIN IMMEDIATE")) { error in
            XCTAssertTrue("\(error)".contains("locked"), "\(error)")
        }
        let waited = Date().timeIntervalSince(start)
        XCTAssertGreaterThanOrEqual(waited, 0.29, "it waited the whole busy timeout")
        XCTAssertLessThan(waited, 5, "and then gave up")
        let impatient = try Database(path: path, busyTimeout: 0)
        XCTAssertThrowsError(try impatient.execute("BEGIN IMMEDIATE"))
        try holder.execute("ROLLBACK")
    }
}
