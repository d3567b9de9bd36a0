import XCTest
@testable import EventFilterKit

/// The store's units of work as callers outside `Store/` use them: all or nothing.
final class StoreTransactionTests: XCTestCase {
    private var dir: URL!
    private struct Refused: Error {}

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ef-store-transaction-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    func testATransactionCommitsEverythingOrNothing() throws {
        let store = try Store(root: dir)
        let id = try store.inTransaction {
            try store.addUser(email: "ann@example.com", name: "Ann", timezone: "UTC", now: 0).id
        }
        XCTAssertEqual(try store.user(email: "ann@example.com")?.id, id)

        XCTAssertThrowsError(try store.inTransaction {
            try store.addUser(email: "bob@example.com", name: "Bob", timezone: "UTC", now: 0)
            try store.addEvent(type: "ezpublish", params: ["node_id": "77"], now: 0)
            throw Refused()
        }) { XCTAssertTrue($0 is Refused, "\($0)") }
        XCTAssertNil(try store.user(email: "bob@example.com"), "the user was rolled back with the failure")
        XCTAssertEqual(try store.status(now: 0).unhandledDue, 0, "and so was the event")
    }

    func testANestedTransactionJoinsTheOuterOne() throws {
        let store = try Store(root: dir)
        XCTAssertThrowsError(try store.inTransaction {
            try store.inTransaction { _ = try store.addUser(email: "ann@example.com", name: "", timezone: "UTC", now: 0) }
            throw Refused()
        })
        XCTAssertNil(try store.user(email: "ann@example.com"), "the inner unit committed nothing on its own")
    }

    func testASavepointUndoesItsOwnWritesAndTheTransactionGoesOn() throws {
        let store = try Store(root: dir)
        try store.inTransaction {
            _ = try store.addUser(email: "ann@example.com", name: "", timezone: "UTC", now: 0)
            XCTAssertThrowsError(try store.inSavepoint {
                _ = try store.addUser(email: "bob@example.com", name: "", timezone: "UTC", now: 0)
                throw Refused()
            })
        }
        XCTAssertNotNil(try store.user(email: "ann@example.com"))
        XCTAssertNil(try store.user(email: "bob@example.com"))
    }

    func testARolledBackTransactionKeepsNothingItReturns() throws {
        let store = try Store(root: dir)
        let seen = try store.inRolledBackTransaction {
            _ = try store.addUser(email: "ann@example.com", name: "", timezone: "UTC", now: 0)
            return try store.user(email: "ann@example.com")?.email
        }
        XCTAssertEqual(seen, "ann@example.com", "the work saw its own writes")
        XCTAssertNil(try store.user(email: "ann@example.com"), "and kept none of them")
    }
}
