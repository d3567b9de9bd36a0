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

    /// On PostgreSQL intake runs beside the filter: an event the filter is handling (its mail
    /// made, its handled mark waiting for the transaction's end) cannot be withdrawn or moved by
    /// another process meanwhile. The withdrawal waits for the transaction and then finds the
    /// event handled, so intake knows its notice went out; otherwise the mark would overwrite a
    /// withdrawal that intake had counted on.
    func testAnEventTheFilterIsHandlingIsNotWithdrawnUnderIt() throws {
        try XCTSkipUnless(TestBackend.current == .postgresql, "on SQLite the filter's transaction holds the one write lock")
        let run = try RunFixture()
        let event = try run.event("ezpublish", ["node_id": "77", "path": "/1/2/77/", "version": "3"])
        nonisolated(unsafe) let intake = try Store(root: run.root)
        let watcher = try Store(root: run.root)
        let outcome = WithdrawalOutcome()
        let done = DispatchSemaphore(value: 0)
        let now = run.now
        try run.store.inTransaction {
            try run.store.deferringHandledMarks(now: now) {
                XCTAssertTrue(try run.store.isStillWaiting(event.id, notBefore: nil))
                try run.store.markEventHandled(event.id, now: now)
                Thread {
                    defer { done.signal() }
                    outcome.set(Result { try intake.withdrawWaitingEvent(event.id, now: now + 1) })
                }.start()
                // Either the withdrawal ends while the transaction is open, or it waits for a lock.
                var waited = false
                for _ in 0..<500 where !outcome.isSet {
                    let blocked = try watcher.db.scalarInt("""
                        SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
                        """) ?? 0
                    if blocked > 0 { waited = true; break }
                    usleep(20_000)
                }
                XCTAssertTrue(waited, "the withdrawal went ahead while the filter was handling the event")
            }
        }
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
        XCTAssertEqual(try outcome.value?.get(), false, "once the filter committed, the event is no longer waiting")
        XCTAssertEqual(try run.store.db.scalarInt("SELECT handled_at FROM event WHERE id = ?", [event.id]), Int(now))
        XCTAssertEqual(try run.store.db.scalarInt("SELECT count(*) FROM event WHERE id = ? AND params LIKE '%withdrawn%'", [event.id]), 0)
    }

    private func unhandled(_ run: RunFixture) throws -> [Int64] {
        try run.store.dueEvents(after: 0, now: run.now, limit: 100).map(\.id)
    }
}

/// What the intake thread of a test reports back, behind a lock.
private final class WithdrawalOutcome: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<Bool, any Error>?

    func set(_ result: Result<Bool, any Error>) {
        lock.lock()
        self.result = result
        lock.unlock()
    }

    var value: Result<Bool, any Error>? {
        lock.lock()
        defer { lock.unlock() }
        return result
    }

    var isSet: Bool { value != nil }
}
