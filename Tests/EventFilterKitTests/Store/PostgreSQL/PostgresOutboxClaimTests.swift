import XCTest
@testable import EventFilterKit

/// A delivery's claim of a batch on PostgreSQL, where several runs share the outbox, on a
/// database of the test's own (whatever backend the suite runs on).
final class PostgresOutboxClaimTests: XCTestCase {
    /// A message whose acceptance is recorded but not yet settled has left: no claim hands it out
    /// again (another run would send it twice); the settling then marks it sent.
    func testAClaimLeavesOutAMessageWhoseAcceptanceIsRecordedButNotSettled() throws {
        let fixture = try PostgresOutboxFixture(messages: 4) { Array("Subject: \($0)\r\n\r\nHello\r\n".utf8) }
        let store = fixture.store, ids = fixture.ids
        XCTAssertEqual(ids.count, 4)
        _ = try store.recordGroup([(id: ids[1], disposition: .accepted(reply: "250 2.0.0 Ok: queued as 4F2A1"))], now: 200)

        XCTAssertEqual(try store.claimDueOutbox(now: 200, after: 0, limit: 500).map(\.id), [ids[0], ids[2], ids[3]])
        try store.settleDeliveredMail()
        XCTAssertEqual(try store.db.first("SELECT state FROM outbox WHERE id = ?", [ids[1]]) { try $0.string("state") }, "sent")
        XCTAssertEqual(try store.claimDueOutbox(now: 200, after: 0, limit: 500).map(\.id), [ids[0], ids[2], ids[3]],
                       "this run's own claims, the sent message not among them")
        withExtendedLifetime(fixture) {}
    }
}
