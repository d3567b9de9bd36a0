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
        ]
        for url in urls {
            XCTAssertEqual(SiteConfiguration.host(of: url), URLComponents(string: url)?.host ?? "", url)
        }
        XCTAssertEqual(SiteConfiguration.host(of: "https://bench.example.com/x"), "bench.example.com")
    }
}
