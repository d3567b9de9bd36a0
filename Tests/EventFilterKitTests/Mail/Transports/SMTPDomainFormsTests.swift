import XCTest
@testable import EventFilterKit

/// A connection's cache of converted domains gives what the conversion gives, every time.
final class SMTPDomainFormsTests: XCTestCase {
    func testEachAddressGetsWhatTheConversionGivesTheFirstTimeAndAfter() {
        let addresses = [
            "ann@b\u{FC}cher.example", "bob@b\u{FC}cher.example", "ann@example.org", "j\u{FC}rgen@example.org",
            "ann@ex\u{FF1E}\u{00A0}NOTIFY=NEVER.example", "ann@a\u{FE64}b.example", "\u{7528}\u{6237}@\u{4F8B}\u{5B50}.\u{5E7F}\u{544A}",
            "no-at-sign", "", "x@b\u{FC}cher.example",
        ]
        let forms = SMTPDomainForms()
        for round in 1...3 {
            for address in addresses {
                XCTAssertEqual(forms.wireForm(of: address), SMTPEnvelope.wireForm(of: address), "round \(round): \(address.debugDescription)")
            }
        }
        XCTAssertEqual(String(decoding: forms.wireForm(of: "bob@b\u{FC}cher.example"), as: UTF8.self), "bob@xn--bcher-kva.example")
        XCTAssertEqual(forms.wireForm(of: "ann@a\u{FE64}b.example"), Array("ann@a\u{FE64}b.example".utf8), "still as it came")
    }

    /// More distinct domains than the cache keeps: every one still gets its own form.
    func testMoreDomainsThanTheCacheKeepsStillGetTheirOwnForm() {
        let forms = SMTPDomainForms()
        for index in 0..<(SMTPDomainForms.capacity + 10) {
            let address = "ann@b\u{FC}cher\(index).example"
            let wire = forms.wireForm(of: address)
            XCTAssertEqual(wire, SMTPEnvelope.wireForm(of: address), address)
            XCTAssertTrue(wire.allSatisfy { $0 < 0x80 }, "converted: \(String(decoding: wire, as: UTF8.self))")
        }
    }

}
