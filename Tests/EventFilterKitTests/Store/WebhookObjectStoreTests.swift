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
                Thread {
                    defer { done.signal() }
                    outcome.set(Result { try intake.withdrawWaitingEvent(id, now: now + 1) })
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
        XCTAssertEqual(try store.db.scalarInt("SELECT handled_at FROM event WHERE id = ?", [id]), Int(now))
        XCTAssertEqual(try store.db.scalarInt("SELECT count(*) FROM event WHERE id = ? AND params LIKE '%withdrawn%'", [id]), 0)
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
