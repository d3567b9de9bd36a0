import XCTest
@testable import EventFilterKit

/// The digest stage: every user whose items are due gets one digest composed from their items,
/// which leave with it; nothing is sent before its time.
final class DigestRunTests: XCTestCase {
    /// Ann and Bob follow node 2 with a daily 08:00 digest; two publishes wait in their digests.
    private func fixture() throws -> RunFixture {
        let run = try RunFixture()
        try run.user("ann@example.com", name: "Ann", following: "2", digest: ["daily", "08:00"])
        try run.user("bob@example.com", name: "Bob", following: "2", digest: ["daily", "08:00"])
        let events = [try run.event("ezpublish", ["node_id": "60", "path": "/1/2/60/", "name": "Spring news"]),
                      try run.event("ezpublish", ["node_id": "61", "path": "/1/2/61/", "name": "Summer plans"])]
        let outcomes = try SubtreeHandler().items(for: events, renderer: run.renderer, store: run.store)
        try run.sink.inTransaction {
            for event in events {
                guard case .done(let items)? = outcomes[event.id] else { return XCTFail("no items for \(event.id)") }
                try run.sink.accept(items, event: event)
            }
        }
        XCTAssertEqual(try run.count("digest_item"), 4)
        return run
    }

    private func digests(_ run: RunFixture) -> DigestRun {
        DigestRun(store: run.store, renderer: run.renderer, sink: run.sink, handlerOrder: ["ezsubtree"])
    }

    func testEachDueUserGetsOneDigestOfTheirItemsAndTheItemsGo() throws {
        let run = try fixture()
        let nextMorning = run.now + 21 * 3600
        let tick = try run.event(EventType.currentTime, ["time": .string(String(nextMorning))], at: nextMorning)
        guard case .done = try digests(run).sendDigests(dueAt: tick) else { return XCTFail("digests failed") }

        let queued = try run.queued()
        XCTAssertEqual(queued.map { $0.components(separatedBy: ":")[0] }, ["ann@example.com", "bob@example.com"])
        for message in try run.messages() {
            XCTAssertTrue(message.text.contains("Spring news") && message.text.contains("Summer plans"), message.text)
        }
        XCTAssertEqual(run.sink.committed.digestsSent, 2)
        XCTAssertEqual(run.sink.committed.messagesQueued, 2)
        XCTAssertEqual(try run.count("digest_item"), 0)
        XCTAssertEqual(try run.count("content"), 0, "the contents went with their last items")
    }

    func testNothingIsSentBeforeItsTime() throws {
        let run = try fixture()
        let tick = try run.event(EventType.currentTime, ["time": .string(String(run.now + 3600))], at: run.now + 3600)
        let before = run.sink.committed
        guard case .done = try digests(run).sendDigests(dueAt: tick) else { return XCTFail("digests failed") }
        XCTAssertEqual(try run.count("outbox"), 0)
        XCTAssertEqual(try run.count("digest_item"), 4)
        XCTAssertEqual(run.sink.committed, before)
    }

    func testItemsNoRuleCoversAnyMoreGoWithoutADigest() throws {
        let run = try fixture()
        try run.store.unsubscribe(email: "bob@example.com", node: "2")
        let nextMorning = run.now + 21 * 3600
        let tick = try run.event(EventType.currentTime, ["time": .string(String(nextMorning))], at: nextMorning)
        guard case .done = try digests(run).sendDigests(dueAt: tick) else { return XCTFail("digests failed") }
        XCTAssertEqual(try run.queued().map { $0.components(separatedBy: ":")[0] }, ["ann@example.com"])
        XCTAssertEqual(try run.count("digest_item"), 0)
    }
}
