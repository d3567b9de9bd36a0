import XCTest

@testable import EventFilterKit

/// The EHLO keywords the transport acts on, read from the reply's lines (RFC 5321 section 4.1.1.1).
final class SMTPCapabilitiesTests: XCTestCase {
    private func capabilities(_ lines: [String]) -> SMTPCapabilities {
        var capabilities = SMTPCapabilities()
        for line in lines {
            Array(line.utf8).withUnsafeBytes { capabilities.note(line: $0[...]) }
        }
        return capabilities
    }

    func testKeywordsAreFoundWhateverTheirCaseAndParameters() {
        let offered = capabilities(["250-mx.example.org", "250-pipelining", "250-SIZE 10240000", "250-8BITMIME", "250 SmtpUtf8"])
        XCTAssertEqual(offered, SMTPCapabilities(pipelining: true, size: true, smtpUTF8: true))
    }

    /// The first line names the server; a keyword must match whole.
    func testTheGreetingLineAndLongerKeywordsOfferNothing() {
        XCTAssertEqual(capabilities(["250-PIPELINING.example.org", "250-SIZEX", "250-SMTPUTF", "250 HELP"]), SMTPCapabilities())
    }
}
