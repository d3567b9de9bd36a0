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

    /// A run killed (kill -9) after the digest stage's per-user transactions and before the tick's
    /// own: the digests it queued stay queued once, and the next run sends nobody a second one,
    /// leaves no item behind and marks the dead run's tick handled.
    func testARunKilledBetweenTheDigestsAndItsTickSendsNobodyASecondDigest() throws {
        let run = try fixture()
        let nextMorning = run.now + 21 * 3600
        // The fixture's publishes were handled by an earlier run, which wrote the items.
        try run.store.inTransaction {
            for id in try run.store.db.map("SELECT id FROM event", []) { try $0.int64("id") } {
                try run.store.markEventHandled(id, now: run.now)
            }
        }
        // What the killed run committed: its tick, and the digests, user by user.
        let tick = try run.event(EventType.currentTime, ["time": .string(String(nextMorning))], at: nextMorning)
        guard case .done = try digests(run).sendDigests(dueAt: tick) else { return XCTFail("digests failed") }
        XCTAssertEqual(try run.count("outbox"), 2)

        let next = try Filter(root: run.root, settings: Settings(root: run.root), store: run.store)
            .run(now: nextMorning + 300, transport: nil)
        XCTAssertEqual(next.digestsSent, 0)
        XCTAssertEqual(try run.queued().map { $0.components(separatedBy: ":")[0] }, ["ann@example.com", "bob@example.com"])
        XCTAssertEqual(try run.count("digest_item"), 0)
        XCTAssertEqual(try run.count("content"), 0)
        XCTAssertEqual(try run.store.db.scalarInt("SELECT count(*) FROM event WHERE handled_at IS NULL"), 0)
    }
}
