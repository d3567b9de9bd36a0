import Foundation
import XCTest

@testable import EventFilterKit

/// The one router of the web front: each path reaches its own handler and nothing else.
final class RouterTests: XCTestCase {
    private typealias F = IngestFixture

    private var root: TestRoot!
    private var router: Router!

    override func setUpWithError() throws {
        root = try TestRoot()
        try root.write("settings/webhooks.ini", F.webhooksINI)
        try root.ok("status")   // creates the store
        let settings = Settings(root: root.url)
        router = Router(intake: WebhookIntake(
            store: try Store(root: root.url), sources: try WebhookSources.load(settings: settings),
            bodyLimit: try WebhookSources.bodyLimit(settings: settings)))
    }

    override func tearDown() {
        router = nil
        root = nil
    }

    private func answer(_ method: String, _ path: String, query: String = "", body: String = "") -> HTTPResponse {
        router.answer(HTTPRequest(method: method, path: path, query: query,
                                  headers: [("Content-Type", F.form)], body: Array(body.utf8)), now: 1_767_250_800).response
    }

    func testASourceIsOneWholeSegment() throws {
        XCTAssertEqual(answer("POST", "/panda", query: "token=\(F.pandaToken)", body: F.pandaEncoded).status, 200)
        XCTAssertEqual(answer("POST", "/panda/", query: "token=\(F.pandaToken)", body: F.pandaEncoded).body, "1 duplicate")
        for path in ["/panda/x", "/x/panda", "/../panda", "/panda/..", "/", "", "/panda%2Fx/y"] {
            let response = answer("POST", path, query: "token=\(F.pandaToken)", body: "event=video-encoded&video_id=v2")
            XCTAssertEqual(response.status, 404, path)
            XCTAssertEqual(response.body, "no webhook source at '\(path)'; POST to /NAME", path)
        }
        XCTAssertEqual(answer("POST", "/nosuchsource").body, "no webhook source named 'nosuchsource'")
        XCTAssertEqual(root.eventCount, 1)
    }

    func testUnsubscribeAndTheReservedSettingsPrefix() {
        XCTAssertEqual(answer("GET", "/unsubscribe/abc123").status, 200)
        XCTAssertEqual(answer("GET", "/unsubscribe/abc123/x").body, "an unsubscribe link is /unsubscribe/TOKEN")
        XCTAssertEqual(answer("GET", "/unsubscribe").status, 404)
        for path in ["/settings", "/settings/abc123", "/settings/abc123/x"] {
            XCTAssertEqual(answer("GET", path).status, 404, path)
            XCTAssertEqual(answer("GET", path).body, "the settings pages are not available on this installation", path)
        }
    }
}
