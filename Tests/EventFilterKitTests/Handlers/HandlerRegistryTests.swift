import XCTest
@testable import EventFilterKit

/// notification.ini's handler list → the run's plan: built-in handlers, the digest stage for
/// `ezgeneraldigest`, custom handlers found on disk, an unknown name refused.
final class HandlerRegistryTests: XCTestCase {
    func testStockListGivesTheBuiltInHandlersAndTurnsTheDigestStageOn() throws {
        let run = try RunFixture()
        let plan = try HandlerRegistry.plan(settings: run.settings, root: run.root)
        XCTAssertEqual(plan.names, ["ezgeneraldigest", "ezcollaborationnotification", "ezsubtree"])
        XCTAssertEqual(plan.handlers.map(\.name), ["ezcollaborationnotification", "ezsubtree"], "the digest is a stage, not a handler")
        XCTAssertTrue(plan.digests)
        XCTAssertTrue(plan.handler(named: "ezsubtree") is SubtreeHandler)
        XCTAssertNil(plan.handler(named: "ezgeneraldigest"))
    }

    func testWithoutEzgeneraldigestThereIsNoDigestStage() throws {
        let run = try RunFixture()
        try run.write("settings/override/notification.ini", """
            [NotificationEventHandlerSettings]
            AvailableNotificationEventTypes[]
            AvailableNotificationEventTypes[]=ezsubtree
            """)
        let plan = try HandlerRegistry.plan(settings: Settings(root: run.root), root: run.root)
        XCTAssertEqual(plan.names, ["ezsubtree"])
        XCTAssertFalse(plan.digests)
    }

    func testACustomHandlerIsFoundOnDiskAndTakesWholeBatches() throws {
        let run = try RunFixture(notificationAppend: """
            [NotificationEventHandlerSettings]
            RepositoryDirectories[]=handlers
            AvailableNotificationEventTypes[]=mine
            """)
        try run.write("handlers/mine/minehandler", "#!/bin/sh\nexit 0\n", executable: true)
        let plan = try HandlerRegistry.plan(settings: run.settings, root: run.root)
        XCTAssertEqual(plan.names.last, "mine")
        let mine = try XCTUnwrap(plan.handler(named: "mine") as? ExternalHandler)
        XCTAssertTrue(mine.takesWholeBatch)
        XCTAssertFalse(try XCTUnwrap(plan.handler(named: "ezsubtree")).takesWholeBatch)
    }

    func testAnUnknownNameIsAnErrorNamingItAndWhereItWasListed() throws {
        let run = try RunFixture(notificationAppend: """
            [NotificationEventHandlerSettings]
            AvailableNotificationEventTypes[]=nosuch
            """)
        XCTAssertThrowsError(try HandlerRegistry.plan(settings: run.settings, root: run.root)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("unknown handler 'nosuch'"), message)
            XCTAssertTrue(message.contains("notification.ini.append"), message)
        }
    }
}
