import Foundation
import XCTest
@testable import EventFilterKit

/// The writer's commits never checkpoint; the background thread copies the log into the
/// database file while the writer goes on, and everything committed stays readable.
final class BackgroundCheckpointerTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ef-checkpoint-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    private func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
    }

    /// 600 commits of 2 KB each (about 1.2 MB of log).
    private func write(_ db: Database) throws {
        try db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, payload TEXT NOT NULL)")
        for index in 0..<600 {
            try db.inTransaction { try db.execute("INSERT INTO t(payload) VALUES (?)", [String(repeating: "x", count: 2000) + "\(index)"]) }
        }
    }

    func testCheckpointsHappenBesideTheWriterAndNotInItsCommits() throws {
        let path = directory.appendingPathComponent("busy.db").path
        let db = try Database(path: path)
        let checkpointer = try BackgroundCheckpointer(database: db, intervalMilliseconds: 20)
        defer { checkpointer.stop() }
        XCTAssertEqual(try db.scalarInt("PRAGMA wal_autocheckpoint"), 0, "the writer's commits do not checkpoint")
        try write(db)
        // Bounded wait: the thread copies the log into the database file.
        let deadline = Date().addingTimeInterval(10)
        while size(path) < 1_000_000 && Date() < deadline { usleep(20_000) }
        XCTAssertGreaterThan(size(path), 1_000_000, "the rows reached the database file")
        XCTAssertEqual(try db.scalarInt("SELECT count(*) FROM t"), 600)
        try db.inTransaction { try db.execute("INSERT INTO t(payload) VALUES ('after')") }
        XCTAssertEqual(try db.scalarInt("SELECT count(*) FROM t"), 601)
    }

    /// Beside a batch writer (the run's filter) the writer keeps its own automatic checkpoints,
    /// the bound on the log; the thread still copies the log meanwhile; and `stopAndWait()`
    /// returns as soon as the thread has ended, without sitting out its interval.
    func testBesideABatchWriterTheWriterKeepsItsBoundAndStoppingDoesNotWaitOutTheInterval() throws {
        let path = directory.appendingPathComponent("batch.db").path
        let db = try Database(path: path)
        try db.execute("PRAGMA wal_autocheckpoint=10000")
        let checkpointer = try BackgroundCheckpointer(database: db, intervalMilliseconds: 20, writerCheckpoints: true)
        XCTAssertEqual(try db.scalarInt("PRAGMA wal_autocheckpoint"), 10000, "the writer's own bound stays")
        try write(db)
        let deadline = Date().addingTimeInterval(10)
        while size(path) < 1_000_000 && Date() < deadline { usleep(20_000) }
        XCTAssertGreaterThan(size(path), 1_000_000, "the thread copied the log into the database file")
        checkpointer.stopAndWait()

        let slow = try BackgroundCheckpointer(database: db, intervalMilliseconds: 60_000, writerCheckpoints: true)
        let started = Date()
        slow.stopAndWait()
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "stopping ends the wait between checkpoints")
        // No checkpoint of the thread runs any more: the writer's own is not turned away as busy.
        XCTAssertEqual(try db.first("PRAGMA wal_checkpoint(PASSIVE)") { $0.int(0) }, 0)
    }

    /// The same writes without it: the log keeps them and the database file stays small, so the
    /// test above sees the thread's work and not the writer's own.
    func testWithoutItTheWritesStayInTheLogWhenAutomaticCheckpointsAreOff() throws {
        let path = directory.appendingPathComponent("quiet.db").path
        let db = try Database(path: path)
        try db.execute("PRAGMA wal_autocheckpoint=0")
        try write(db)
        usleep(200_000)
        XCTAssertLessThan(size(path), 100_000)
        XCTAssertGreaterThan(size(path + "-wal"), 1_000_000)
    }
}
