import XCTest
@testable import EventFilterKit

/// A store on a PostgreSQL database of the test's own (whatever backend the suite runs on), with
/// `count` messages queued at `now`: the outbox the PostgreSQL-only outbox tests start from.
///
///     let fixture = try PostgresOutboxFixture(messages: 4) { Array("Subject: \($0)\r\n\r\nHello\r\n".utf8) }
///     XCTAssertEqual(try fixture.store.claimDueOutbox(now: 100, after: 0, limit: 500).map(\.id), fixture.ids)
struct PostgresOutboxFixture {
    /// Keeps the database for as long as the fixture lives.
    let root: TestRoot
    let store: Store
    /// The queued messages' ids, in order.
    let ids: [Int64]

    /// `body(index)` is message `index`'s bytes; each goes to its own reader.
    init(messages count: Int, now: Int64 = 100, body: (Int) -> [UInt8]) throws {
        root = try TestRoot(postgres: try TestPostgres.server().makeDatabase())
        store = try Store(root: root.url)
        XCTAssertEqual(store.db.dialect, .postgresql)
        for index in 0..<count {
            let message = ComposedMessage(messageID: "<\(index).outbox@example.com>", bytes: body(index))
            try store.queueMessage(recipient: "reader\(index)@example.com", sender: "notify@example.com", subject: "Hello",
                                   message: message, now: now)
        }
        ids = try store.db.map("SELECT id FROM outbox ORDER BY id") { try $0.int64("id") }
    }
}
