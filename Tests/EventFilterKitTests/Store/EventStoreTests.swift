import XCTest
@testable import EventFilterKit

/// Handled marks written together at the end of one of the filter's transactions: in it, never
/// lost with it, and counted as handled before they are written.
final class EventStoreTests: XCTestCase {
    /// A newer version handled earlier in the same transaction no longer supersedes an older one
    /// (as when each mark was written at once), and the marks are in the store when the unit ends.
    func testMarksOfAUnitAreWrittenAtItsEndAndCountAsHandledMeanwhile() throws {
        let run = try RunFixture()
        let newer = try run.event("ezpublish", ["node_id": "77", "path": "/1/2/77/", "version": "3"])
        let older = try run.event("ezpublish", ["node_id": "77", "path": "/1/2/77/", "version": "2"])
        XCTAssertTrue(try run.store.isSuperseded(older, now: run.now))
        try run.store.inTransaction {
            try run.store.deferringHandledMarks(now: run.now) {
                try run.store.markEventHandled(newer.id, now: run.now)
                XCTAssertEqual(try unhandled(run), [newer.id, older.id], "written at the unit's end")
                XCTAssertFalse(try run.store.isSuperseded(older, now: run.now))
            }
            XCTAssertEqual(try unhandled(run), [older.id])
        }
        XCTAssertEqual(try unhandled(run), [older.id])
        XCTAssertEqual(try run.store.db.scalarInt("SELECT handled_at FROM event WHERE id = ?", [newer.id]), Int(run.now))
    }

    /// A unit that fails writes no mark, and forgets the ones it collected: the events wait for
    /// the next run, and the older version is superseded again.
    func testAUnitThatFailsMarksNothing() throws {
        let run = try RunFixture()
        let newer = try run.event("ezpublish", ["node_id": "77", "path": "/1/2/77/", "version": "3"])
        let older = try run.event("ezpublish", ["node_id": "77", "path": "/1/2/77/", "version": "2"])
        struct Stop: Error {}
        XCTAssertThrowsError(try run.store.inTransaction {
            try run.store.deferringHandledMarks(now: run.now) {
                try run.store.markEventHandled(newer.id, now: run.now)
                throw Stop()
            }
        }) { XCTAssertTrue($0 is Stop) }
        XCTAssertEqual(try unhandled(run), [newer.id, older.id])
        XCTAssertTrue(try run.store.isSuperseded(older, now: run.now))
        try run.store.markEventHandled(older.id, now: run.now)   // outside a unit: written at once
        XCTAssertEqual(try unhandled(run), [newer.id])
    }

    private func unhandled(_ run: RunFixture) throws -> [Int64] {
        try run.store.dueEvents(after: 0, now: run.now, limit: 100).map(\.id)
    }
}
