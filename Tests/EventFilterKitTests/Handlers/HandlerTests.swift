import XCTest
@testable import EventFilterKit

/// `eachEvent`: an event's own error fails that event alone; a storage error, whichever the
/// backend, stops the run (the store is at fault, not the event, and marking the event failed
/// would need the same store).
final class HandlerTests: XCTestCase {
    private final class OneAtATime: EventHandler {
        let name = "oneatatime"
        let origin = "built-in"
        let failure: any Error
        init(failure: any Error) { self.failure = failure }
        func items(for events: [Event], renderer: MailRenderer, store: Store) throws -> [Int64: HandlerOutcome] {
            try eachEvent(events) { event in
                if event.id == 2 { throw failure }
                return []
            }
        }
    }

    private struct NotMail: Error, CustomStringConvertible { var description: String { "cannot become mail" } }

    private let events = (1...3).map { Event(id: $0, type: "ezpublish", params: .object([:]), createdAt: 0, notBefore: nil) }

    func testAnEventsOwnErrorFailsThatEventAlone() throws {
        let run = try RunFixture()
        let outcomes = try OneAtATime(failure: NotMail()).items(for: events, renderer: run.renderer, store: run.store)
        XCTAssertEqual(outcomes.count, 3)
        guard case .failed("cannot become mail")? = outcomes[2] else { return XCTFail("\(String(describing: outcomes[2]))") }
        guard case .done? = outcomes[3] else { return XCTFail("\(String(describing: outcomes[3]))") }
    }

    func testAStorageErrorOfEitherBackendStopsTheBatch() throws {
        let run = try RunFixture()
        let errors: [any Error] = [
            PostgresError(kind: .connectionLost, message: "server closed the connection unexpectedly"),
            DatabaseError(code: 13, extendedCode: 13, message: "database or disk is full", sql: nil),
        ]
        for error in errors {
            XCTAssertThrowsError(try OneAtATime(failure: error).items(for: events, renderer: run.renderer, store: run.store)) {
                XCTAssertEqual("\($0)", "\(error)")
            }
        }
    }
}
