import XCTest
@testable import EventFilterKit

/// Envelope addresses go into SMTP command lines: what may not be in them, and what may.
final class SMTPEnvelopeTests: XCTestCase {
    func testAddressesThatWouldBreakACommandLineAreRefusedWithTheReason() {
        let sender = "notify@example.com"
        XCTAssertEqual(SMTPEnvelope.problem(sender: sender, recipient: ""), "recipient address is empty")
        XCTAssertEqual(SMTPEnvelope.problem(sender: sender, recipient: "ann@example.com\r\nRCPT TO:<x@y>"),
                       #"recipient address "ann@example.com\r\nRCPT TO:<x@y>" contains a line break"#,
                       "a line break is named before the angle brackets that come with it")
        XCTAssertEqual(SMTPEnvelope.problem(sender: sender, recipient: "ann\t@example.com"),
                       #"recipient address "ann\t@example.com" contains a control character"#)
        XCTAssertEqual(SMTPEnvelope.problem(sender: sender, recipient: "ann\u{7F}@example.com"),
                       #"recipient address "ann\u{7F}@example.com" contains a control character"#)
        XCTAssertEqual(SMTPEnvelope.problem(sender: sender, recipient: "<ann@example.com>"),
                       #"recipient address "<ann@example.com>" contains an angle bracket"#)
        XCTAssertEqual(SMTPEnvelope.problem(sender: "bounce\n@example.com", recipient: "ann@example.com"),
                       #"sender address "bounce\n@example.com" contains a line break"#)
    }

    func testOrdinaryAndInternationalAddressesPass() {
        XCTAssertNil(SMTPEnvelope.problem(sender: "notify@example.com", recipient: "ann@example.com"))
        XCTAssertNil(SMTPEnvelope.problem(sender: "", recipient: "ann@example.com"), "the null sender of a bounce")
        XCTAssertNil(SMTPEnvelope.problem(sender: "notify@example.com", recipient: "jürgen@bücher.example"))
        XCTAssertNil(SMTPEnvelope.problem(sender: "notify@example.com", recipient: "用户@例子.广告"))
    }
}
