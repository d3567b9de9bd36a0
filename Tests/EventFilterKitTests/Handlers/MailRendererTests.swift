import XCTest
@testable import EventFilterKit

/// The renderer's messages: each carries its own reader's links, however often a footer is reused.
final class MailRendererTests: XCTestCase {
    /// A run renders a reader's footer once per rule and reuses it: every message still carries
    /// its own rule's unsubscribe link and subject, and its own reader's settings link.
    func testEachMessageCarriesItsOwnReadersLinksWhenFootersAreReused() throws {
        let run = try RunFixture()
        var site = run.site
        site.unsubscribeURL = "https://example.com/u"
        let renderer = try MailRenderer(root: run.root, settings: run.settings, site: site, now: run.now)
        let content = try renderer.render(bases: ["event"], handler: "ezsubtree", thread: nil,
                                          ["name": .text("Spring news"), "type": .text("kaltura.entry_add")])
        func reader(_ userID: Int64, _ email: String, rule: String, about subject: String) -> Recipient {
            Recipient(userID: userID, email: email, name: "", timezone: "UTC", digest: nil,
                      unsubscribeToken: rule, unsubscribeSubject: subject, stopAllToken: "all-\(userID)")
        }
        let readers = [
            reader(1, "ann@example.com", rule: "rule-news-ann", about: "\"News\""),
            reader(2, "bob@example.com", rule: "rule-news-bob", about: "\"News\""),
            reader(1, "ann@example.com", rule: "rule-sport-ann", about: "\"Sport\""),
        ]
        var settingsLinks: [Int64: Set<String>] = [:]
        for round in 0..<3 {
            for recipient in readers {
                let text = try ParsedMail(bytes: try renderer.compose(content, to: recipient).bytes).text
                XCTAssertTrue(text.contains("Stop notifications about \(recipient.unsubscribeSubject!): https://example.com/u/\(recipient.unsubscribeToken!)"),
                              "round \(round): \(text)")
                XCTAssertTrue(text.contains("https://example.com/u/\(recipient.stopAllToken!)"), text)
                for other in readers where other.unsubscribeToken != recipient.unsubscribeToken {
                    XCTAssertFalse(text.contains(other.unsubscribeToken!), "no other rule's link: \(text)")
                }
                let start = try XCTUnwrap(text.range(of: site.settingsURL + "/")).upperBound
                settingsLinks[recipient.userID!, default: []].insert(String(text[start...].prefix { !$0.isWhitespace }))
            }
        }
        XCTAssertEqual(settingsLinks[1]?.count, 1, "one settings link per reader and run")
        XCTAssertEqual(settingsLinks[2]?.count, 1)
        XCTAssertNotEqual(settingsLinks[1], settingsLinks[2])
    }
}
