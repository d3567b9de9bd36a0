import XCTest
@testable import EventFilterKit

/// `ezsubtree`'s batch method: given events and the store's rules, which items; it writes nothing.
final class SubtreeHandlerTests: XCTestCase {
    func testAPublishGoesToEveryoneFollowingItsPathOnceDeepestRuleFirstButTheAuthor() throws {
        let run = try RunFixture()
        try run.user("ann@example.com", following: "2")
        try run.user("bob@example.com", following: "2", "60", digest: ["daily", "08:00"])
        try run.user("carol@example.com", following: "60")
        try run.user("dan@example.com", following: "99")
        let event = try run.event("ezpublish", ["node_id": "60", "path": "/1/2/60/", "name": "News", "author": "CAROL@example.com"])
        let before = try run.count("digest_item") + run.count("outbox") + run.count("content")

        let outcomes = try SubtreeHandler().items(for: [event], renderer: run.renderer, store: run.store)
        let items = RunFixture.mail(outcomes[event.id])
        XCTAssertEqual(items.count, 1)
        XCTAssertEqual(items[0].recipients.map(\.email), ["bob@example.com", "ann@example.com"])
        XCTAssertEqual(items[0].recipients[0].unsubscribeSubject, "\"News\" and everything below it", "bob's deepest rule is on 60")
        XCTAssertEqual(items[0].recipients[1].unsubscribeSubject, "node 2 and everything below it")
        XCTAssertNotNil(items[0].recipients[0].digest)
        XCTAssertEqual(items[0].delivery, .recipientSetting)
        XCTAssertEqual(items[0].content.subject, "[Test Site] Item \"News\" was published")
        XCTAssertEqual(items[0].content.line?.nodeID, "60")
        XCTAssertEqual(try run.count("digest_item") + run.count("outbox") + run.count("content"), before, "a handler never writes")
    }

    func testADeletionIsANoteForTheSinkAndMailsNobody() throws {
        let run = try RunFixture()
        try run.user("ann@example.com", following: "2")
        let event = try run.event("ezdelete", ["node_id": "60", "path": "/1/2/60/"])
        let outcomes = try SubtreeHandler().items(for: [event], renderer: run.renderer, store: run.store)
        guard case .done(let items)? = outcomes[event.id], items.count == 1, case .nodeDeleted("60", event.createdAt) = items[0] else {
            return XCTFail("expected one deleted-node note, got \(String(describing: outcomes[event.id]))")
        }
        XCTAssertEqual(try run.count("deleted_node"), 0, "the sink records it, not the handler")
    }

    func testEventsNobodyFollowsOrOfOtherKindsGiveNoItems() throws {
        let run = try RunFixture()
        try run.user("ann@example.com", following: "2")
        let events = [
            try run.event("ezpublish", ["node_id": "70", "path": "/1/3/70/"]),
            try run.event("ezcollaboration", ["identifier": "ezapprove", "participants": [["email": "ann@example.com", "role": "approver"]]]),
            try run.event("ezpublish", ["node_id": "61", "path": "/1/2/61/", "quiet": true]),
        ]
        let outcomes = try SubtreeHandler().items(for: events, renderer: run.renderer, store: run.store)
        for event in events { XCTAssertTrue(RunFixture.mail(outcomes[event.id]).isEmpty, "event \(event.type) \(event.params)") }
    }
}
