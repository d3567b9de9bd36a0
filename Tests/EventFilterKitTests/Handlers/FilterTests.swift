import XCTest
@testable import EventFilterKit

/// The filter in-process: events in, items out through the sink; a failing handler fails alone.
final class FilterTests: XCTestCase {
    private func run(_ fixture: RunFixture, at now: Int64) throws -> Filter.Report {
        try Filter(root: fixture.root, settings: Settings(root: fixture.root), store: fixture.store).run(now: now, transport: nil)
    }

    private func progress(_ fixture: RunFixture, event: Int64) throws -> [String] {
        try fixture.store.db.map("SELECT handler, done FROM event_progress WHERE event_id = ? ORDER BY handler", [event]) {
            "\(try $0.string("handler"))=\(try $0.int("done"))"
        }
    }

    func testEventsBecomeQueuedMailAndDigestRowsAndAreMarkedHandled() throws {
        let fixture = try RunFixture()
        try fixture.user("ann@example.com", following: "2")
        try fixture.user("bob@example.com", following: "60", digest: ["daily", "08:00"])
        let event = try fixture.event("ezpublish", ["node_id": "60", "path": "/1/2/60/", "name": "News"])

        let report = try run(fixture, at: fixture.now)
        XCTAssertEqual(report.events, 2, "the publish and the run's own tick")
        XCTAssertEqual(report.messagesQueued, 1)
        XCTAssertEqual(report.digestItems, 1)
        XCTAssertEqual(report.failedPairs, 0)
        XCTAssertEqual(try fixture.queued().map { $0.components(separatedBy: ":")[0] }, ["ann@example.com"])
        XCTAssertEqual(try fixture.store.db.scalarInt("SELECT count(*) FROM event WHERE id = ? AND handled_at IS NOT NULL", [event.id]), 1)

        let morning = try run(fixture, at: fixture.now + 21 * 3600)
        XCTAssertEqual(morning.digestsSent, 1, "the next morning's tick sends bob's digest")
        XCTAssertEqual(try fixture.queued().map { $0.components(separatedBy: ":")[0] }, ["ann@example.com", "bob@example.com"])
    }

    func testAFailingHandlerFailsAloneAndTheOthersAreNotRunAgain() throws {
        let fixture = try RunFixture(notificationAppend: """
            [NotificationEventHandlerSettings]
            RepositoryDirectories[]=handlers
            AvailableNotificationEventTypes[]=broken
            """)
        try fixture.write("handlers/broken/brokenhandler", "#!/bin/sh\necho 'no database' >&2\nexit 3\n", executable: true)
        try fixture.user("ann@example.com", following: "2")
        let event = try fixture.event("ezpublish", ["node_id": "60", "path": "/1/2/60/", "name": "News"])

        let first = try run(fixture, at: fixture.now)
        XCTAssertEqual(first.messagesQueued, 1, "ezsubtree's mail is not held back by the broken handler")
        XCTAssertGreaterThanOrEqual(first.failedPairs, 1)
        XCTAssertEqual(try progress(fixture, event: event.id),
                       ["broken=0", "ezcollaborationnotification=1", "ezgeneraldigest=1", "ezsubtree=1"])
        XCTAssertEqual(try fixture.store.db.first("SELECT last_error FROM event_progress WHERE event_id = ? AND handler = 'broken'",
                                                  [event.id]) { try $0.string("last_error") },
                       "broken exited with status 3: no database")

        // The next run (the handler in backoff) sends nothing again, and the event still waits for it.
        let second = try run(fixture, at: fixture.now + 60)
        XCTAssertEqual(second.messagesQueued, 0)
        XCTAssertEqual(try fixture.count("outbox"), 1)
        XCTAssertEqual(try fixture.store.db.scalarInt("SELECT count(*) FROM event WHERE id = ? AND handled_at IS NULL", [event.id]), 1)
    }

    /// Without `ezgeneraldigest` in notification.ini no tick ever sends a digest, so a reader with
    /// a schedule gets the item at once instead of a digest row nothing would send.
    func testWithoutTheDigestStageAReaderWithAScheduleGetsMailAtOnce() throws {
        let fixture = try RunFixture()
        try fixture.write("settings/override/notification.ini", """
            [NotificationEventHandlerSettings]
            AvailableNotificationEventTypes[]
            AvailableNotificationEventTypes[]=ezsubtree
            """)
        try fixture.user("bob@example.com", following: "60", digest: ["daily", "08:00"])
        _ = try fixture.event("ezpublish", ["node_id": "60", "path": "/1/2/60/", "name": "News"])

        let report = try run(fixture, at: fixture.now)
        XCTAssertEqual(report.messagesQueued, 1)
        XCTAssertEqual(report.digestItems, 0)
        XCTAssertEqual(try fixture.count("digest_item"), 0)
        XCTAssertEqual(try fixture.count("content"), 0)
        XCTAssertEqual(try fixture.queued(), ["bob@example.com: [Test Site] Item \"News\" was published"])
    }
}
