import Foundation
import XCTest
@testable import EventFilterKit

/// Waiting events that intake moves or withdraws (a session's reminder, a notice superseded by
/// a move) while the filter may be handling them. On SQLite the filter's transaction holds the
/// one write lock, so intake waits for it anyway; these tests are about PostgreSQL, where intake
/// in another process writes beside the filter, so each has a PostgreSQL database of its own.
final class WebhookObjectStoreTests: XCTestCase {
    /// An event the filter is handling (its mail made, its handled mark waiting for the
    /// transaction's end) cannot be withdrawn by another process meanwhile: the withdrawal waits
    /// for the transaction and then finds the event handled, so intake knows its notice went out.
    /// Otherwise the mark, written at the transaction's end, would overwrite a withdrawal that
    /// intake had counted on.
    func testAnEventTheFilterIsHandlingIsNotWithdrawnUnderIt() throws {
        let root = try TestRoot(postgres: try TestPostgres.server().makeDatabase())
        let store = try Store(root: root.url)
        let now: Int64 = 1_780_315_200
        let id = try store.addEvent(type: "ezpublish", params: ["node_id": "77", "path": "/1/2/77/"], now: now).id
        nonisolated(unsafe) let intake = try Store(root: root.url)
        let watcher = try Store(root: root.url)
        let outcome = WithdrawalOutcome()
        let done = DispatchSemaphore(value: 0)
        try store.inTransaction {
            try store.deferringHandledMarks(now: now) {
                XCTAssertTrue(try store.isStillWaiting(id, notBefore: nil))
                try store.markEventHandled(id, now: now)
                let waited = try withdrawalWaitsForALock(id, by: intake, now: now + 1, watcher: watcher, outcome: outcome, done: done)
                XCTAssertTrue(waited, "the withdrawal went ahead while the filter was handling the event")
            }
        }
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
        XCTAssertEqual(try outcome.value?.get(), false, "once the filter committed, the event is no longer waiting")
        XCTAssertEqual(try store.db.scalarInt("SELECT handled_at FROM event WHERE id = ?", [id]), Int(now))
        XCTAssertEqual(try store.db.scalarInt("SELECT count(*) FROM event WHERE id = ? AND params LIKE '%withdrawn%'", [id]), 0)
    }

    /// Events read ahead, several in one statement (`readAhead`), are locked as `isStillWaiting`
    /// locks one: withdrawing one the filter has not come to yet waits for its transaction too.
    /// And the answers are what was read: an event handled since the batch was read is not
    /// waiting, so its mail is not made twice.
    func testEventsReadAheadAreLockedAndAnsweredAsOneAtATime() throws {
        let root = try TestRoot(postgres: try TestPostgres.server().makeDatabase())
        let store = try Store(root: root.url)
        let now: Int64 = 1_780_315_200
        for node in ["77", "78", "79"] {
            _ = try store.addEvent(type: "ezpublish", params: ["node_id": .string(node), "path": .string("/1/2/\(node)/")], now: now)
        }
        let events = try store.dueEvents(after: 0, now: now, limit: 10)
        XCTAssertEqual(events.count, 3)
        let (first, second, handled) = (events[0].id, events[1].id, events[2].id)
        try store.markEventHandled(handled, now: now)  // by another run, after this batch was read
        nonisolated(unsafe) let intake = try Store(root: root.url)
        let watcher = try Store(root: root.url)
        let outcome = WithdrawalOutcome()
        let done = DispatchSemaphore(value: 0)
        try store.inTransaction {
            try store.readingAhead {
                try store.readAhead(events)
                XCTAssertTrue(try store.isStillWaiting(first, notBefore: nil))
                XCTAssertFalse(try store.isStillWaiting(handled, notBefore: nil), "handled by another run since it was read")
                XCTAssertFalse(try store.isStillWaiting(first, notBefore: now), "its time is not the one it had when read")
                let waited = try withdrawalWaitsForALock(second, by: intake, now: now + 1, watcher: watcher, outcome: outcome, done: done)
                XCTAssertTrue(waited, "the withdrawal of an event read ahead went ahead inside the filter's transaction")
                XCTAssertTrue(try store.isStillWaiting(second, notBefore: nil))
                try store.markEventHandled(second, now: now)
            }
        }
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
        XCTAssertEqual(try outcome.value?.get(), false, "once the filter committed, the event is no longer waiting")
        XCTAssertEqual(try store.db.scalarInt("SELECT count(*) FROM event WHERE id = ? AND params LIKE '%withdrawn%'", [second]), 0)
    }

    /// Withdraws event `id` through `intake` on a thread of its own (its result in `outcome`,
    /// `done` signalled when it ends), and watches, up to 10 s, whether it ends first or comes to
    /// wait for a lock: true when it waits.
    private func withdrawalWaitsForALock(_ id: Int64, by intake: Store, now: Int64, watcher: Store,
                                         outcome: WithdrawalOutcome, done: DispatchSemaphore) throws -> Bool {
        nonisolated(unsafe) let intake = intake
        Thread {
            defer { done.signal() }
            outcome.set(Result { try intake.withdrawWaitingEvent(id, now: now) })
        }.start()
        for _ in 0..<500 where !outcome.isSet {
            let blocked = try watcher.db.scalarInt("""
                SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
                """) ?? 0
            if blocked > 0 { return true }
            usleep(20_000)
        }
        return false
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
