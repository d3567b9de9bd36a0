import XCTest
@testable import EventFilterKit

/// The settling of recorded acceptances on PostgreSQL, on a database of the test's own (whatever
/// backend the suite runs on).
final class PostgresOutboxSettleTests: XCTestCase {
    /// A working outbox is mostly sent mail, and autovacuum analyzes it between runs, so its
    /// statistics say that nearly nothing waits. Settling a batch must still match each acceptance
    /// with its message by key (a lookup, or a hash): a plan that compares outbox rows with every
    /// acceptance grows with the outbox times the batch (seconds a batch on a store of 10,000).
    func testSettlingMatchesEachAcceptanceByKeyWhenTheStatisticsSayEverythingIsSent() throws {
        let fixture = try PostgresOutboxFixture(messages: 0) { _ in [] }
        let store = fixture.store
        try store.db.execute("""
            INSERT INTO outbox(state, attempts, created_at, next_attempt_at, last_attempt_at, sent_at)
            SELECT 'sent', 1, 100, 100, 150, 150 FROM generate_series(1, 20000)
            """)
        try store.db.execute("ANALYZE outbox")
        try store.db.execute("ANALYZE outbox_delivered")
        let waiting = try store.db.map("SELECT id FROM outbox ORDER BY id LIMIT 500") { try $0.int64("id") }
        try store.db.execute("UPDATE outbox SET state = 'queued', attempts = 0, sent_at = NULL WHERE id <= ?", [waiting.last!])
        _ = try store.recordGroup(waiting.map { (id: $0, disposition: .accepted(reply: "250 2.0.0 Ok: queued as \($0)")) }, now: 400)

        let plan = try store.db.map("EXPLAIN ANALYZE \(Store.settlingOnPostgreSQL)") { try $0.string("QUERY PLAN") }
        let compared = plan.compactMap { line in
            line.range(of: "Rows Removed by Join Filter: ").flatMap { Int(line[$0.upperBound...].prefix { $0.isNumber }) }
        }.reduce(0, +)
        XCTAssertLessThan(compared, waiting.count, "outbox rows compared with acceptances they were not:\n\(plan.joined(separator: "\n"))")

        let settled = try store.db.map("SELECT id, state, attempts, sent_at, last_error FROM outbox WHERE id <= ? ORDER BY id",
                                       [waiting.last!]) { row in
            "\(try row.int64("id")) \(try row.string("state")) \(try row.int("attempts")) \(try row.int64("sent_at")) \(try row.string("last_error"))"
        }
        XCTAssertEqual(settled, waiting.map { "\($0) sent 1 400 250 2.0.0 Ok: queued as \($0)" })
        XCTAssertEqual(try store.db.scalarInt("SELECT count(*) FROM outbox_delivered"), 0)
        withExtendedLifetime(fixture) {}
    }
}
