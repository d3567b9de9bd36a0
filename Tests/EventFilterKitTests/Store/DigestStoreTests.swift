import XCTest
@testable import EventFilterKit

/// Digest items leave with the digest that sends them, a content with its last item, in
/// statements of a few hundred ids however long the backlog.
final class DigestStoreTests: XCTestCase {
    func testABacklogLeavesWholeAndContentsStayWhileAnotherReaderWaitsForThem() throws {
        let run = try RunFixture()
        let ann = try run.user("ann@example.com", following: "2", digest: ["daily", "08:00"])
        let bob = try run.user("bob@example.com", following: "2", digest: ["daily", "08:00"])
        let event = try run.event("ezpublish", ["node_id": "60", "path": "/1/2/60/", "name": "News"])
        let count = 2 * Store.idsPerStatement + 1
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
        let annItems = try run.store.db.map("SELECT id FROM digest_item WHERE user_id = ? ORDER BY id", [ann.id]) { try $0.int64("id") }
        let bobItems = try run.store.db.map("SELECT id FROM digest_item WHERE user_id = ? ORDER BY id", [bob.id]) { try $0.int64("id") }

        try run.store.inTransaction {
            XCTAssertEqual(try run.store.removeDigestItems(annItems), count)
            try run.store.deleteUnreferencedContents(contents + contents)
        }
        XCTAssertEqual(try run.count("digest_item"), bobItems.count)
        XCTAssertEqual(try run.count("content"), bobItems.count, "bob still waits for every other one")

        try run.store.inTransaction {
            XCTAssertEqual(try run.store.removeDigestItems(annItems.prefix(3) + bobItems), bobItems.count,
                           "ids already gone are not counted: the caller learns its items changed")
            try run.store.deleteUnreferencedContents(contents)
        }
        XCTAssertEqual(try run.count("digest_item"), 0)
        XCTAssertEqual(try run.count("content"), 0)
    }
}
