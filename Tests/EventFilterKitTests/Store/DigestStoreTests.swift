import XCTest
@testable import EventFilterKit

/// A digest removes its reader's due items, exactly those, and a content goes with its last
/// item, in one statement however long the backlog.
final class DigestStoreTests: XCTestCase {
    /// Many groups in one call (more rows than one statement carries): every reader of every
    /// content gets exactly one item with that content's send time, and an item a reader already
    /// had keeps its own send time.
    func testEveryReaderOfEveryGroupGetsOneItemAndAnExistingItemIsKept() throws {
        let run = try RunFixture()
        let ann = try run.user("ann@example.com", following: "2", digest: ["daily", "08:00"])
        let bob = try run.user("bob@example.com", following: "2", digest: ["daily", "08:00"])
        let event = try run.event("ezpublish", ["node_id": "60", "path": "/1/2/60/", "name": "News"])
        var groups: [Store.DigestRows] = []
        try run.store.inTransaction {
            for index in 0..<400 {
                let content = RenderedContent(handler: "ezsubtree", subject: "[Test Site] \(index)", text: "t", html: nil, thread: nil)
                let id = try run.store.insertContent(content, eventID: event.id, now: run.now)
                groups.append(Store.DigestRows(contentID: id, sendAt: run.now + Int64(index), userIDs: [ann.id, bob.id]))
            }
            try run.store.insertDigestItems([Store.DigestRows(contentID: groups[399].contentID, sendAt: 7, userIDs: [bob.id])])
            try run.store.insertDigestItems(groups)
        }
        let rows = try run.store.db.map("SELECT user_id, content_id, send_at FROM digest_item ORDER BY user_id, content_id", []) {
            [try $0.int64("user_id"), try $0.int64("content_id"), try $0.int64("send_at")]
        }
        var expected: [[Int64]] = []
        for user in [ann.id, bob.id].sorted() {
            for (index, group) in groups.enumerated() {
                expected.append([user, group.contentID, user == bob.id && index == 399 ? 7 : group.sendAt])
            }
        }
        XCTAssertEqual(rows, expected)
    }

    func testABacklogLeavesWholeAndContentsStayWhileAnotherReaderWaitsForThem() throws {
        let run = try RunFixture()
        let ann = try run.user("ann@example.com", following: "2", digest: ["daily", "08:00"])
        let bob = try run.user("bob@example.com", following: "2", digest: ["daily", "08:00"])
        let event = try run.event("ezpublish", ["node_id": "60", "path": "/1/2/60/", "name": "News"])
        let count = 2_001
        var contents: [Int64] = []
        try run.store.inTransaction {
            for index in 0..<count {
                let content = RenderedContent(handler: "ezsubtree", subject: "[Test Site] \(index)", text: "t", html: nil, thread: nil)
                let id = try run.store.insertContent(content, eventID: event.id, now: run.now)
                contents.append(id)
                try run.store.insertDigestItems([Store.DigestRows(contentID: id, sendAt: run.now,
                                                                   userIDs: index % 2 == 0 ? [ann.id, bob.id] : [ann.id])])
            }
        }
        // One more of ann's, due a day later: not part of this digest.
        let later = try run.store.insertContent(RenderedContent(handler: "ezsubtree", subject: "[Test Site] later", text: "t", html: nil, thread: nil),
                                                eventID: event.id, now: run.now)
        try run.store.insertDigestItems([Store.DigestRows(contentID: later, sendAt: run.now + 86_400, userIDs: [ann.id])])
        let annItems = try run.store.db.map("SELECT content_id FROM digest_item WHERE user_id = ? AND send_at <= ? ORDER BY content_id",
                                            [ann.id, run.now]) { try $0.int64("content_id") }
        let bobItems = try run.store.db.map("SELECT content_id FROM digest_item WHERE user_id = ? ORDER BY content_id", [bob.id]) {
            try $0.int64("content_id")
        }
        XCTAssertEqual(annItems, contents, "one item of ann's per content, named by it")

        try run.store.inTransaction {
            XCTAssertEqual(try run.store.removeDueDigestItems(userID: ann.id, dueAt: run.now).sorted(), annItems)
            try run.store.deleteUnreferencedContents(contents + contents + [later])
        }
        XCTAssertEqual(try run.count("digest_item"), bobItems.count + 1, "bob's items and ann's later one stay")
        XCTAssertEqual(try run.count("content"), bobItems.count + 1, "bob still waits for every other one, ann for the later one")

        try run.store.inTransaction {
            XCTAssertEqual(try run.store.removeDueDigestItems(userID: ann.id, dueAt: run.now), [], "nothing of ann's is due any more")
            XCTAssertEqual(try run.store.removeDueDigestItems(userID: bob.id, dueAt: run.now).sorted(), bobItems)
            try run.store.deleteUnreferencedContents(contents)
        }
        XCTAssertEqual(try run.count("digest_item"), 1)
        XCTAssertEqual(try run.store.db.map("SELECT id FROM content") { try $0.int64("id") }, [later])
    }

    /// The filter lets SQLite's log grow to 10,000 pages between checkpoints and its digest
    /// stage does the same inside it: when the digests are done, the filter's limit is back (not
    /// SQLite's default), and after the filter the default is.
    func testALargerLogInsideAnotherGivesTheOuterLimitBack() throws {
        let run = try RunFixture()
        guard run.store.db.dialect == .sqlite else { throw XCTSkip("SQLite only: PostgreSQL has no such setting per session") }
        func limit() throws -> Int? { try run.store.db.scalarInt("PRAGMA wal_autocheckpoint") }
        try run.store.checkpointingEvery(pages: 5_000) {
            XCTAssertEqual(try limit(), 5_000)
            try run.store.checkpointingEvery(pages: 10_000) { XCTAssertEqual(try limit(), 10_000) }
            XCTAssertEqual(try limit(), 5_000)
        }
        XCTAssertEqual(try limit(), 1_000)
    }
}
