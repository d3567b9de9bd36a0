import XCTest
@testable import EventFilterKit

/// `ezcollaborationnotification`'s batch method: participants with a rule, one item per role, at once.
final class CollaborationHandlerTests: XCTestCase {
    func testParticipantsWithARuleGetOneItemPerRoleAlwaysAtOnce() throws {
        let run = try RunFixture()
        try run.user("ann@example.com", digest: ["daily", "08:00"])
        try run.user("bob@example.com")
        try run.user("carol@example.com")
        try run.store.collaborationSubscribe(email: "ann@example.com", identifier: "ezapprove", now: run.now)
        try run.store.collaborationSubscribe(email: "bob@example.com", identifier: "ezapprove", now: run.now)
        let event = try run.event("ezcollaboration", [
            "identifier": "ezapprove", "item_id": "7", "name": "Draft",
            "participants": [["email": "ANN@example.com", "role": "approver"], ["email": "bob@example.com", "role": "author"],
                             ["email": "carol@example.com", "role": "approver"]],
        ])
        let items = RunFixture.mail(try CollaborationHandler().items(for: [event], renderer: run.renderer, store: run.store)[event.id])
        XCTAssertEqual(items.map { $0.recipients.map(\.email) }, [["ann@example.com"], ["bob@example.com"]],
                       "approver then author; carol has no rule")
        XCTAssertEqual(items.map(\.delivery), [.immediate, .immediate], "even for ann, who takes a digest")
        XCTAssertEqual(items[0].recipients[0].unsubscribeSubject, "approval requests")
        XCTAssertNotEqual(items[0].content.text, items[1].content.text, "approvers and authors get their own wording")
    }
}
