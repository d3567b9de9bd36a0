import XCTest
@testable import EventFilterKit

/// Who follows a path (each enabled user once, deepest rule first) and who takes part in a
/// collaboration item, however long the path or the list of participants.
final class SubscriberStoreTests: XCTestCase {
    /// A path longer than the store's limit on bound values (SQLite's is 32,766 as built upstream,
    /// 250,000 as Debian builds it; PostgreSQL's 65,535) still finds its readers, each once with
    /// their deepest rule, in order across the queries it takes.
    func testAPathLongerThanTheBoundValueLimitFindsItsReadersDeepestRuleFirst() throws {
        let run = try RunFixture()
        let nodes = (1...Self.longPath).map(String.init)
        try run.user("ann@example.com", following: "1", "259990")
        try run.user("bob@example.com", following: "130000")
        try run.user("carol@example.com", following: "260000")
        let off = try run.user("dan@example.com", following: "5")
        _ = try run.store.setUserEnabled(email: off.email, false, now: run.now)

        let readers = try run.store.subscribers(ofPath: nodes)
        XCTAssertEqual(readers.map(\.recipient.email), ["carol@example.com", "ann@example.com", "bob@example.com"])
        XCTAssertEqual(readers.map(\.ruleNode), ["260000", "259990", "130000"])
    }

    /// Within one of the filter's transactions each node's readers are read once and shared by
    /// the events whose paths hold it, and an answer by the paths with the same nodes with
    /// readers at the same depths: every path still gets the store's answer (each reader once,
    /// deepest rule first), and once the unit ends a rule added meanwhile counts at once.
    func testReadersCachedWithinAUnitAreTheStoresAndARuleAddedAfterItCounts() throws {
        let run = try RunFixture()
        try run.user("ann@example.com", following: "2")
        try run.user("bob@example.com", following: "60", "77")
        let uncached = try run.store.subscribers(ofPath: ["1", "2", "60", "77"])
        XCTAssertEqual(uncached.map(\.recipient.email), ["bob@example.com", "ann@example.com"])
        XCTAssertEqual(uncached.map(\.ruleNode), ["77", "2"])
        try run.store.cachingSubscribers {
            let first = try run.store.subscribers(ofPath: ["1", "2", "60", "77"])
            XCTAssertEqual(first.map(\.recipient.email), ["bob@example.com", "ann@example.com"])
            XCTAssertEqual(first.map(\.ruleNode), ["77", "2"])
            // Shares 1, 2 and 60 with the path before: bob's deepest rule here is 60.
            let second = try run.store.subscribers(ofPath: ["1", "2", "60", "78"])
            XCTAssertEqual(second.map(\.recipient.email), ["bob@example.com", "ann@example.com"])
            XCTAssertEqual(second.map(\.ruleNode), ["60", "2"])
            // The same nodes with readers at the same depths: the same answer.
            let third = try run.store.subscribers(ofPath: ["1", "2", "60", "79"])
            XCTAssertEqual(third.map(\.ruleNode), ["60", "2"])
            // The same nodes with readers, nested the other way round: the deepest rule is now 2.
            let reversed = try run.store.subscribers(ofPath: ["60", "2"])
            XCTAssertEqual(reversed.map(\.recipient.email), ["ann@example.com", "bob@example.com"])
            XCTAssertEqual(reversed.map(\.ruleNode), ["2", "60"])
        }
        try run.user("carol@example.com", following: "60")
        let after = try run.store.subscribers(ofPath: ["1", "2", "60", "78"])
        XCTAssertEqual(after.map(\.recipient.email), ["bob@example.com", "carol@example.com", "ann@example.com"])
        try run.store.cachingSubscribers {
            XCTAssertEqual(try run.store.subscribers(ofPath: ["1", "2", "60"]).map(\.recipient.email),
                           ["bob@example.com", "carol@example.com", "ann@example.com"])
        }
    }

    /// The store tells node ids apart byte for byte, so two spellings of one name in different
    /// Unicode normal forms are two nodes with readers of their own; Swift's == holds them equal,
    /// and within a unit each must still get its own readers, not the other's.
    func testNodesSpeltInTwoNormalFormsKeepTheirOwnReadersWithinAUnit() throws {
        let run = try RunFixture()
        let composed = "caf\u{E9}", decomposed = "cafe\u{301}"
        try run.user("ann@example.com", following: composed)
        try run.user("bob@example.com", following: decomposed)
        XCTAssertEqual(try run.store.subscribers(ofPath: ["1", decomposed]).map(\.recipient.email), ["bob@example.com"])
        try run.store.cachingSubscribers {
            XCTAssertEqual(try run.store.subscribers(ofPath: ["1", composed]).map(\.recipient.email), ["ann@example.com"])
            XCTAssertEqual(try run.store.subscribers(ofPath: ["1", decomposed]).map(\.recipient.email), ["bob@example.com"])
        }
    }

    /// More distinct nodes than any backend binds in one statement.
    private static let longPath = 260_000

    /// The run's handler on such an event: the readers get their item, nothing stops the run.
    func testSubtreeHandlerMailsTheReadersOfAnEventWithAVeryLongPath() throws {
        let run = try RunFixture()
        try run.user("ann@example.com", following: "255000")
        let path = "/" + (1...Self.longPath).map(String.init).joined(separator: "/") + "/"
        let event = try run.event("ezpublish", ["node_id": "260000", "path": .string(path), "name": "Deep"])

        let outcomes = try SubtreeHandler().items(for: [event], renderer: run.renderer, store: run.store)
        XCTAssertEqual(RunFixture.mail(outcomes[event.id]).flatMap(\.recipients).map(\.email), ["ann@example.com"])
    }

    /// Who takes part in a collaboration item: each user with a rule once, by id, however many
    /// participants the event lists.
    func testMoreParticipantsThanTheStoreBindsInOneStatementFindEachRuleHolderOnce() throws {
        let run = try RunFixture()
        let ann = try run.user("ann@example.com")
        let bob = try run.user("bob@example.com")
        try run.user("carol@example.com")
        for email in ["ann@example.com", "bob@example.com"] {
            try run.store.collaborationSubscribe(email: email, identifier: "ezapprove", now: run.now)
        }
        let others = (1...260_000).map { "reader\($0)@example.com" }
        let emails = ["BOB@example.com"] + others + ["carol@example.com", "ann@example.com", "bob@example.com"]

        let found = try run.store.collaborators(emails: emails, identifier: "ezapprove")
        XCTAssertEqual(found.map(\.email), ["ann@example.com", "bob@example.com"])
        XCTAssertEqual(found.map(\.userID), [ann.id, bob.id])
    }
}
