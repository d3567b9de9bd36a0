import XCTest
@testable import EventFilterKit

final class VERPAddressTests: XCTestCase {
    private let secret = Array("a per-installation secret of 32 b".utf8)

    func testAnEnvelopeSenderNamesItsMessageAndReadsBackInTheFormsMailServersWriteIt() throws {
        let verp = VERPAddress(bounceAddress: "bounces@example.org", secret: secret)
        let sender = verp.envelopeSender(for: 42)
        let token = try XCTUnwrap(sender.split(separator: "@").first?.split(separator: "+").last)
        XCTAssertTrue(sender.hasPrefix("bounces+42-") && sender.hasSuffix("@example.org"), sender)
        XCTAssertEqual(token.count, "42-".count + 16, "the id and 8 bytes of HMAC in hex")
        for form in [sender, sender.uppercased(), "<\(sender)>", "rfc822; \(sender)", "RFC822;<\(sender)>", "  \(sender) "] {
            XCTAssertEqual(verp.messageID(in: form), .valid(42), form)
        }
        XCTAssertNotEqual(verp.envelopeSender(for: 43), sender)
        XCTAssertEqual(VERPAddress(bounceAddress: "bounces@example.org", secret: secret).envelopeSender(for: 42), sender,
                       "the same secret gives the same address in another process")
    }

    func testAnotherSecretOrAnAlteredIdOrCodeIsAForgery() {
        let verp = VERPAddress(bounceAddress: "bounces@example.org", secret: secret)
        let other = VERPAddress(bounceAddress: "bounces@example.org", secret: Array("another installation's secret....".utf8))
        XCTAssertEqual(verp.messageID(in: other.envelopeSender(for: 42)), .forged)
        let code = String(verp.envelopeSender(for: 42).split(separator: "-")[1].prefix(16))
        XCTAssertEqual(verp.messageID(in: "bounces+43-\(code)@example.org"), .forged, "a code is for one id only")
        XCTAssertEqual(verp.messageID(in: "bounces+042-\(code)@example.org"), .forged, "one spelling per id")
        let flipped = code.dropLast() + (code.last == "0" ? "1" : "0")
        XCTAssertEqual(verp.messageID(in: "bounces+42-\(flipped)@example.org"), .forged, "one hex digit changed")
        XCTAssertEqual(verp.messageID(in: "bounces+42-\(code.prefix(15))@example.org"), .forged)
        XCTAssertEqual(verp.messageID(in: "bounces+42@example.org"), .forged)
        XCTAssertEqual(verp.messageID(in: "bounces+@example.org"), .notOurs)
    }

    func testAddressesOfOtherMailboxesOrDomainsAreNotOurs() {
        let verp = VERPAddress(bounceAddress: "bounces@example.org", secret: secret)
        let sender = verp.envelopeSender(for: 7)
        XCTAssertEqual(verp.messageID(in: "bounces@example.org"), .notOurs)
        XCTAssertEqual(verp.messageID(in: sender.replacingOccurrences(of: "example.org", with: "example.net")), .notOurs)
        XCTAssertEqual(verp.messageID(in: "x" + sender), .notOurs)
        XCTAssertEqual(verp.messageID(in: "ann@example.com"), .notOurs)
    }

    func testAddressesAreFoundInTextButNotInsideLongerNames() {
        let verp = VERPAddress(bounceAddress: "bounces@example.org", secret: secret)
        let sender = verp.envelopeSender(for: 9)
        let text = """
            Return-Path: <\(sender.uppercased())>
            X-Other: xbounces+1-00@example.org, bounces+2-00@example.org.evil.example
            For: \(sender).
            """
        XCTAssertEqual(verp.addresses(in: text), [sender, sender])
    }
}
