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

    /// IDNA's compatibility mapping (UTS #46, as libidn2 applies it) turns some non-ASCII
    /// characters into ASCII ones a command line gives meaning to: fullwidth ">" (U+FF1E) into
    /// ">", small "<" (U+FE64) into "<", a no-break space into a space. Such a domain's "ASCII
    /// form" would close the address early and add parameters of its own to RCPT TO; it stays
    /// as it came (UTF-8, where none of these bytes can appear) instead.
    func testADomainWhoseASCIIFormWouldCarryCommandSyntaxIsNotConverted() {
        for address in ["ann@ex\u{FF1E}\u{00A0}NOTIFY=NEVER.example", "ann@a\u{FE64}b.example", "ann@b\u{00A0}c.example"] {
            let wire = SMTPEnvelope.wireForm(of: address)
            XCTAssertFalse(wire.contains { $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">") || $0 <= 0x20 || $0 == 0x7F },
                           "\(address.debugDescription) -> \(String(decoding: wire, as: UTF8.self).debugDescription)")
            XCTAssertEqual(wire, Array(address.utf8))
        }
        XCTAssertEqual(String(decoding: SMTPEnvelope.wireForm(of: "ann@b\u{FC}cher.example"), as: UTF8.self), "ann@xn--bcher-kva.example")
    }
}
