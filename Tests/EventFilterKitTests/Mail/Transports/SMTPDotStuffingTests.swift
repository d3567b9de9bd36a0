import XCTest

@testable import EventFilterKit

/// The bytes sent after 354: dot-stuffed (RFC 5321 section 4.5.2), CRLF-terminated, then ".\r\n".
final class SMTPDotStuffingTests: XCTestCase {
    private func data(_ text: String) -> String {
        String(decoding: SMTPDotStuffing.data(for: Array(text.utf8)), as: UTF8.self)
    }

    func testALineStartingWithADotGetsAnotherOne() {
        XCTAssertEqual(data("a\r\n.b\r\n.\r\n..\r\nc.d\r\n"), "a\r\n..b\r\n..\r\n...\r\nc.d\r\n.\r\n")
    }

    func testTheFirstLineCountsAsALineStart() {
        XCTAssertEqual(data(".x\r\n"), "..x\r\n.\r\n")
        XCTAssertEqual(data("."), "..\r\n.\r\n")
    }

    func testAMessageWithoutAFinalLineEndGetsOneBeforeTheEndOfData() {
        XCTAssertEqual(data("a\r\nb"), "a\r\nb\r\n.\r\n")
        XCTAssertEqual(data(""), "\r\n.\r\n")
    }

    /// Appended after bytes already in the buffer (as the envelope before it would be), a
    /// message still gets its own final line end: the buffer's CRLF is not the message's.
    func testAMessageAppendedAfterOtherBytesGetsItsOwnFinalLineEnd() {
        var bytes = Array("DATA\r\n".utf8)
        SMTPDotStuffing.append(Array("".utf8), to: &bytes)
        XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "DATA\r\n\r\n.\r\n")
        bytes = Array("DATA\r\n".utf8)
        SMTPDotStuffing.append(Array(".x\r\n".utf8), to: &bytes)
        XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "DATA\r\n..x\r\n.\r\n")
    }

    /// Lines end with CRLF: a dot after a bare LF or CR does not start a line, and is sent as is.
    func testOnlyCRLFEndsALine() {
        XCTAssertEqual(data("a\n.b\r.c\r\n"), "a\n.b\r.c\r\n.\r\n")
        XCTAssertEqual(data("\n.x\r\n"), "\n.x\r\n.\r\n")
    }
}
