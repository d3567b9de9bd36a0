import XCTest
@testable import EventFilterKit

/// What the PostgreSQL schema's storage settings buy, on a database of the test's own (whatever
/// backend the suite runs on).
final class PostgresMigrationsTests: XCTestCase {
    /// A delivery's claim of a batch rewrites no index: each claimed row's new version stays on
    /// its page (a heap-only update), as the outbox's pages keep room for it.
    func testClaimingABatchUpdatesTheOutboxRowsInPlaceWithoutIndexEntries() throws {
        let fixture = try PostgresOutboxFixture(messages: 300) { _ in Array(repeating: 65, count: 2_000) }
        let store = fixture.store
        let heapOnly = try store.db.inTransaction { () -> Int in
            XCTAssertEqual(try store.claimDueOutbox(now: 100, after: 0, limit: 500).count, 300)
            // This transaction's own counts: no other statement's updates are in them.
            return try XCTUnwrap(store.db.scalarInt("SELECT n_tup_hot_upd::integer FROM pg_stat_xact_user_tables WHERE relname = 'outbox'"))
        }
        XCTAssertEqual(heapOnly, 300, "every claim a heap-only update")
        withExtendedLifetime(fixture) {}
    }
}
