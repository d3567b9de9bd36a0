import XCTest
@testable import EventFilterKit

/// Several requests' writes under one commit: what an answer promises is what the commit keeps.
final class GroupCommitTests: XCTestCase {
    private var directory: URL!
    private var db: Database!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ef-group-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        db = try Database(path: directory.appendingPathComponent("group.db").path)
        try db.execute("CREATE TABLE parent(id INTEGER PRIMARY KEY)")
        try db.execute("CREATE TABLE item(name TEXT NOT NULL, parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)")
    }

    override func tearDownWithError() throws {
        db = nil
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    private func names() throws -> [String] {
        try db.map("SELECT name FROM item ORDER BY name") { try $0.string("name") }
    }

    /// When every item is kept, each is run once, all in one transaction, and all are committed.
    func testItemsAllKeptAreRunOnceAndCommittedTogether() throws {
        var calls: [Int] = []
        var autocommitSeen: [Bool] = []
        let answers = try GroupCommit(database: db).run(3, { index -> Int in
            calls.append(index)
            autocommitSeen.append(self.db.isAutocommit)
            try? self.db.execute("INSERT INTO item(name) VALUES (?)", ["item \(index)"])
            return 200
        }, kept: { $0 < 300 })
        XCTAssertEqual(answers, [200, 200, 200])
        XCTAssertEqual(calls, [0, 1, 2])
        XCTAssertEqual(autocommitSeen, [false, false, false], "every item runs inside the one transaction")
        XCTAssertEqual(try names(), ["item 0", "item 1", "item 2"])
        XCTAssertTrue(db.isAutocommit, "the transaction is over")
    }

    /// Each item is stored unless its own answer says it was not; one transaction for all. The
    /// first pass stops at the item not kept and is rolled back whole; the items are then run
    /// again, each in a savepoint.
    func testAnItemNotKeptIsUndoneAndTheOthersAreCommitted() throws {
        var changesSeen: [Int] = []
        let answers = try GroupCommit(database: db).run(4, { index -> Int in
            try? self.db.execute("INSERT INTO item(name) VALUES (?)", ["item \(index)"])
            if index == 2 { try? self.db.execute("INSERT INTO item(name) VALUES (?)", ["item 2, second row"]) }
            changesSeen.append(index)
            return index == 2 ? 400 : 200
        }, kept: { $0 < 300 })
        XCTAssertEqual(answers, [200, 200, 400, 200])
        XCTAssertEqual(changesSeen, [0, 1, 2, 0, 1, 2, 3])
        XCTAssertEqual(try names(), ["item 0", "item 1", "item 3"])
        XCTAssertTrue(db.isAutocommit, "the transaction is over")
    }

    /// A commit that fails (here a deferred foreign key, checked at COMMIT) throws, and nothing of
    /// any item stays: every one of them is then answered as not stored.
    func testACommitThatFailsKeepsNothing() throws {
        XCTAssertThrowsError(try GroupCommit(database: db).run(3, { index -> Int in
            try? self.db.execute("INSERT INTO item(name, parent) VALUES (?, ?)", ["item \(index)", index == 1 ? 99 : nil as Int?])
            return 200
        }, kept: { $0 < 300 })) { error in
            XCTAssertTrue("\(error)".contains("FOREIGN KEY"), "\(error)")
        }
        XCTAssertEqual(try names(), [])
        XCTAssertTrue(db.isAutocommit)
    }

    /// A transaction SQLite rolled back on the way (as after a full disk) is not committed in
    /// pieces: the items after it are not run in autocommit mode, and the group throws.
    func testATransactionLostOnTheWayThrowsAndStoresNothingAfter() throws {
        var ran: [Int] = []
        XCTAssertThrowsError(try GroupCommit(database: db).run(3, { index -> Int in
            ran.append(index)
            try? self.db.execute("INSERT INTO item(name) VALUES (?)", ["item \(index)"])
            if index == 1 { try? self.db.execute("ROLLBACK") }   // what SQLite does itself after SQLITE_FULL
            return index == 1 ? 500 : 200
        }, kept: { $0 < 300 })) { error in
            XCTAssertEqual("\(error)", "the transaction was rolled back before its commit")
        }
        XCTAssertEqual(ran, [0, 1, 0, 1], "the first pass stops at the item not kept, the second at the lost transaction")
        XCTAssertEqual(try names(), [])
    }

    /// The same when the item whose transaction was lost says it was kept: nothing is committed.
    func testATransactionLostUnderAKeptItemThrows() throws {
        var ran: [Int] = []
        XCTAssertThrowsError(try GroupCommit(database: db).run(3, { index -> Int in
            ran.append(index)
            try? self.db.execute("INSERT INTO item(name) VALUES (?)", ["item \(index)"])
            if index == 1 { try? self.db.execute("ROLLBACK") }
            return 200
        }, kept: { $0 < 300 })) { error in
            XCTAssertEqual("\(error)", "the transaction was rolled back before its commit")
        }
        XCTAssertEqual(ran, [0, 1])
        XCTAssertEqual(try names(), [])
        XCTAssertTrue(db.isAutocommit)
    }
}
