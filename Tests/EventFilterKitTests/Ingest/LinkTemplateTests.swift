import XCTest

@testable import EventFilterKit

/// Per-source watch links: http(s) only, a literal host, known placeholders, values percent-encoded.
final class LinkTemplateTests: XCTestCase {
    func testValuesArePercentEncodedAndStayInTheirSegment() throws {
        let template = try LinkTemplate("https://videos.example.org/media/{entry_id}?p={partner_id}", placeholders: ["entry_id", "partner_id"])
        XCTAssertEqual(template.url(["entry_id": "0_abc", "partner_id": "123"]), "https://videos.example.org/media/0_abc?p=123")
        XCTAssertEqual(template.url(["entry_id": "../a b?x=1#y\"<>", "partner_id": "1&2"]),
                       "https://videos.example.org/media/..%2Fa%20b%3Fx%3D1%23y%22%3C%3E?p=1%262")
        XCTAssertEqual(template.url(["entry_id": "Blåbær~-._", "partner_id": "1"]), "https://videos.example.org/media/Bl%C3%A5b%C3%A6r~-._?p=1")
        XCTAssertNil(template.url(["entry_id": "0_abc"]), "no link when a value it needs is missing")
        XCTAssertNil(template.url(["entry_id": "", "partner_id": "1"]))
        XCTAssertEqual(try LinkTemplate("HTTP://example.org/", placeholders: []).url([:]), "HTTP://example.org/")
    }

    func testUnusableTemplatesAreRefused() {
        let refused: [(String, String)] = [
            ("javascript:alert(1)", "http"),
            ("//example.org/{entry_id}", "http"),
            ("https:///{entry_id}", "host"),
            ("https://{entry_id}/", "host"),
            ("https://example.org/{nope}", "unknown placeholder {nope}"),
            ("https://example.org/{entry_id", "unmatched"),
            ("https://example.org/}", "unmatched"),
            ("https://example.org/a b", "spaces"),
            ("https://example.org/\"x\"", "quotes"),
            ("https://example.org/ä", "non-ASCII"),
        ]
        for (text, reason) in refused {
            XCTAssertThrowsError(try LinkTemplate(text, placeholders: ["entry_id"]), text) { error in
                XCTAssertTrue((error as? LinkTemplateError)?.reason.contains(reason) ?? false, "\(text): \(error)")
            }
        }
    }
}
