import Foundation
import XCTest

@testable import EventFilterKit

/// The site's host name, which the domain of every Message-ID comes from.
final class SiteConfigurationTests: XCTestCase {
    func testTheHostOfSiteURLIsWhatURLComponentsReads() {
        let urls = [
            "https://bench.example.com", "https://Example.COM:8443/news/?a=b#c", "http://user:pw@example.org/",
            "https://xn--bcher-kva.example/", "https://b%C3%BCcher.example/", "https://bücher.example/",
            "http://[::1]:8080/", "http://127.0.0.1/", "not a url", "/relative/path", "",
            "HTTPS://Example.COM", "https://example.com:", "https://example.com:80x/", "https://example.com?q=1",
            "https://example.com#top", "https://XN--bcher-kva.example/", "ftp://example.com/", "https://:443/",
        ]
        for url in urls {
            XCTAssertEqual(SiteConfiguration.host(of: url), URLComponents(string: url)?.host ?? "", url)
        }
        XCTAssertEqual(SiteConfiguration.host(of: "https://bench.example.com/x"), "bench.example.com")
    }

    func testTrimmingWhitespaceIsFoundationsTrimmingOfWhitespaces() {
        let texts = ["", " ", "\t\t", " 30\t", "a b", "\u{00A0}x\u{2003}", "\nx\n", " é ", "\u{3000}日本\u{3000}", "x\u{200B}", "\u{180E}x\u{FEFF}", "\u{1680}\u{202F}x\u{205F}\u{200A}"]
        for text in texts {
            XCTAssertEqual(text.trimmingWhitespace, text.trimmingCharacters(in: .whitespaces), text.debugDescription)
        }
    }
}
