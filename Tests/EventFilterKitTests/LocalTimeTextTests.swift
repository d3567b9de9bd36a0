import XCTest
@testable import EventFilterKit

/// Times written in the reader's zone, and the placeholders that let content rendered once per
/// event carry them to each recipient.
final class LocalTimeTextTests: XCTestCase {
    func testFormatsNameTheZoneAndFollowDaylightSaving() throws {
        let berlin = try Zone.named("Europe/Berlin")
        // 2026-12-01T08:17Z is 09:17 in Berlin (CET); 2026-07-01T08:17Z is 10:17 (CEST).
        XCTAssertEqual(LocalTimeText.format(1_796_113_020, style: .full, zone: berlin, zoneName: "Europe/Berlin"),
                       "Tuesday 1 December 2026, 09:17 (Europe/Berlin)")
        XCTAssertEqual(LocalTimeText.format(1_782_893_820, style: .clock, zone: berlin, zoneName: "Europe/Berlin"),
                       "10:17 (Europe/Berlin)")
        let chicago = try Zone.named("America/Chicago")
        XCTAssertEqual(LocalTimeText.format(1_796_113_020, style: .date, zone: chicago, zoneName: "America/Chicago"),
                       "Tuesday 1 December 2026")
        XCTAssertEqual(LocalTimeText.format(1_796_113_020, style: .full, zone: chicago, zoneName: "America/Chicago"),
                       "Tuesday 1 December 2026, 02:17 (America/Chicago)")
    }

    func testPlaceholdersAreSubstitutedPerReaderAndMalformedOnesDropped() throws {
        let text = "Starts " + LocalTimeText.placeholder(1_796_113_020, style: .clock) + ", on "
            + LocalTimeText.placeholder(1_796_113_020, style: .full) + "."
        XCTAssertEqual(LocalTimeText.substitute(in: text, zone: try Zone.named("Europe/Oslo"), zoneName: "Europe/Oslo"),
                       "Starts 09:17 (Europe/Oslo), on Tuesday 1 December 2026, 09:17 (Europe/Oslo).")
        XCTAssertEqual(LocalTimeText.substitute(in: text, zone: try Zone.named("UTC"), zoneName: "UTC"),
                       "Starts 08:17 (UTC), on Tuesday 1 December 2026, 08:17 (UTC).")
        XCTAssertEqual(LocalTimeText.substitute(in: "a \u{E000}Xnope\u{E001} b \u{E000}C12", zone: try Zone.named("UTC"), zoneName: "UTC"),
                       "a  b C12")
        XCTAssertEqual(LocalTimeText.substitute(in: "no times here", zone: try Zone.named("UTC"), zoneName: "UTC"), "no times here")
    }

    func testMarkersFromOutsideAreRemovedSoNoValueCanForgeATime() {
        let forged = "\u{E000}F0\u{E001}"
        XCTAssertEqual(LocalTimeText.strippingMarkers("x" + forged + "y"), "xF0y")
        XCTAssertFalse(LocalTimeText.hasPlaceholder(LocalTimeText.strippingMarkers(forged)))
    }
}
