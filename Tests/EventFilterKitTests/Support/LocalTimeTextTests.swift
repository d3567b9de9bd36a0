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

    func testTheRepeatedHourWhenClocksGoBackNamesTheOffsetAndOddOffsetsAreExact() throws {
        let oslo = try Zone.named("Europe/Oslo")
        // 2026-10-25: clocks in Oslo go back from 03:00 CEST to 02:00 CET at 01:00Z, so 00:30Z
        // and 01:30Z are both 02:30 on the wall.
        XCTAssertEqual(LocalTimeText.format(1_792_888_200, style: .full, zone: oslo, zoneName: "Europe/Oslo"),
                       "Sunday 25 October 2026, 02:30 (Europe/Oslo, UTC+02:00)")
        XCTAssertEqual(LocalTimeText.format(1_792_891_800, style: .clock, zone: oslo, zoneName: "Europe/Oslo"),
                       "02:30 (Europe/Oslo, UTC+01:00)")
        // Just outside the repeated hour, and across the spring-forward gap: the plain form.
        XCTAssertEqual(LocalTimeText.format(1_792_886_400 - 60, style: .clock, zone: oslo, zoneName: "Europe/Oslo"), "01:59 (Europe/Oslo)")
        XCTAssertEqual(LocalTimeText.format(1_792_895_400, style: .clock, zone: oslo, zoneName: "Europe/Oslo"), "03:30 (Europe/Oslo)")
        // 2026-03-29T00:59Z is 01:59 CET, 01:00Z is 03:00 CEST.
        XCTAssertEqual(LocalTimeText.format(1_774_745_940, style: .clock, zone: oslo, zoneName: "Europe/Oslo"), "01:59 (Europe/Oslo)")
        XCTAssertEqual(LocalTimeText.format(1_774_746_000, style: .clock, zone: oslo, zoneName: "Europe/Oslo"), "03:00 (Europe/Oslo)")
        // Chicago's repeated hour (2026-11-01, 01:00-02:00 local twice).
        let chicago = try Zone.named("America/Chicago")
        XCTAssertEqual(LocalTimeText.format(1_793_514_600, style: .clock, zone: chicago, zoneName: "America/Chicago"),
                       "01:30 (America/Chicago, UTC-05:00)")
        XCTAssertEqual(LocalTimeText.format(1_793_518_200, style: .clock, zone: chicago, zoneName: "America/Chicago"),
                       "01:30 (America/Chicago, UTC-06:00)")
        // Kathmandu is UTC+05:45 all year.
        XCTAssertEqual(LocalTimeText.format(1_796_113_020, style: .full, zone: try Zone.named("Asia/Kathmandu"), zoneName: "Asia/Kathmandu"),
                       "Tuesday 1 December 2026, 14:02 (Asia/Kathmandu)")
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
