import Foundation
import XCTest
@testable import EventFilterKit

/// The settling of recorded acceptances on PostgreSQL, on a database of the test's own (whatever
/// backend the suite runs on).
final class PostgresOutboxSettleTests: XCTestCase {
    /// A working outbox is mostly sent mail, and autovacuum analyzes it between runs, so its
    /// statistics say that nearly nothing waits. Settling a batch must still match each acceptance
    /// with its message by key (a lookup, or a hash): a plan that compares outbox rows with every
    /// acceptance grows with the outbox times the batch (seconds a batch on a store of 10,000).
    /// A message already sent keeps its values.
    func testSettlingMatchesEachAcceptanceByKeyWhenTheStatisticsSayEverythingIsSent() throws {
        let fixture = try PostgresOutboxFixture(messages: 0) { _ in [] }
        let store = fixture.store
        // The statistics stay the ones taken below while the test runs.
        try store.db.execute("ALTER TABLE outbox SET (autovacuum_enabled = false)")
        try store.db.execute("ALTER TABLE outbox_delivered SET (autovacuum_enabled = false)")
        try store.db.execute("""
            INSERT INTO outbox(state, attempts, created_at, next_attempt_at, last_attempt_at, sent_at)
            SELECT 'sent', 1, 100, 100, 150, 150 FROM generate_series(1, 20000)
            """)
        try store.db.execute("ANALYZE outbox")
        try store.db.execute("ANALYZE outbox_delivered")
        let batch = try store.db.map("SELECT id FROM outbox ORDER BY id LIMIT 500") { try $0.int64("id") }
        let alreadySent = batch[0], waiting = batch.dropFirst()
        try store.db.execute("UPDATE outbox SET state = 'queued', attempts = 0, last_attempt_at = NULL, sent_at = NULL WHERE id > ? AND id <= ?",
                             [alreadySent, batch.last!])
        _ = try store.recordGroup(batch.map { (id: $0, disposition: .accepted(reply: "250 2.0.0 Ok: queued as \($0)")) }, now: 400)

        let plan = try XCTUnwrap(store.db.first("EXPLAIN (ANALYZE, FORMAT JSON) \(Store.settlingOnPostgreSQL)") { try $0.string("QUERY PLAN") })
        let nodes = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(plan.utf8)) as? [[String: Any]])
        XCTAssertLessThan(Self.rowsCompared(nodes.compactMap { $0["Plan"] as? [String: Any] }), batch.count,
                          "rows read and thrown away while matching acceptances with messages:\n\(plan)")

        let rows = try store.db.map("""
            SELECT id, state, attempts, last_attempt_at, sent_at, COALESCE(last_error, '-') AS last_error
            FROM outbox WHERE id <= ? ORDER BY id
            """, [batch.last!]) { row in
            "\(try row.int64("id")) \(try row.string("state")) \(try row.int("attempts")) \(try row.int64("last_attempt_at"))"
                + " \(try row.int64("sent_at")) \(try row.string("last_error"))"
        }
        XCTAssertEqual(rows, ["\(alreadySent) sent 1 150 150 -"] + waiting.map { "\($0) sent 1 400 400 250 2.0.0 Ok: queued as \($0)" })
        XCTAssertEqual(try store.db.scalarInt("SELECT count(*) FROM outbox_delivered"), 0)
        withExtendedLifetime(fixture) {}
    }

    /// The rows a plan's nodes read and discarded by a filter or a join filter, over every loop
    /// (EXPLAIN's figures are per loop).
    private static func rowsCompared(_ nodes: [[String: Any]]) -> Int {
        nodes.reduce(0) { total, node in
            let removed = ((node["Rows Removed by Filter"] as? Int) ?? 0) + ((node["Rows Removed by Join Filter"] as? Int) ?? 0)
            return total + removed * ((node["Actual Loops"] as? Int) ?? 1) + rowsCompared((node["Plans"] as? [[String: Any]]) ?? [])
        }
    }
}
