import EventFilterKit
import Foundation
import XCTest

/// Timestamp parsing/formatting and the zone mapping the digest schedule is built on.
///
/// Anchor values, worked out by hand:
/// - 1970-01-01 .. 2026-01-01: 56 years, 14 leap years (1972 ... 2024), so 56*365 + 14 = 20454 days.
/// - 2026-03-29 is day 20454 + 31 (Jan) + 28 (Feb) + 28 = 20541; 20541 * 86400 = 1_774_742_400.
///   Its weekday: (20541 + 3) mod 7 = 6 -> ISO 7, Sunday (day 0 was a Thursday).
/// - 2026-03-29T06:00:00Z = 1_774_742_400 + 6*3600 = 1_774_764_000.
/// - 2000-02-29: 30 years with 7 leap years = 10957 days to 2000-01-01, + 31 + 28 = 11016; * 86400 = 951_782_400.
final class TimeTests: XCTestCase {
    private let sunday0600 = Int64(1_774_764_000)

    // MARK: Timestamp.parse

    func testParseAcceptsOffsetsAndZ() throws {
        let same: [String] = [
            "2026-03-29T06:00:00Z",
            "2026-03-29T06:00Z",                 // seconds optional
            "2026-03-29t06:00:00z",              // RFC 3339 allows lower case
            "2026-03-29T08:00:00+02:00",         // 08:00 - 2h
            "2026-03-29T08:00:00+0200",
            "2026-03-29T08:00:00+02",
            "2026-03-29T11:30:00+05:30",         // 11:30 - 5h30
            "2026-03-29T01:00:00-05:00",         // 01:00 + 5h
            "2026-03-28T20:00:00-10:00",         // previous day 20:00 + 10h
            "2026-03-29T06:00:00-00:00",
            "2026-03-29T06:00:00.999Z",          // fraction truncated, not rounded
            "2026-03-29T06:00:00,5Z",
            "2026-03-29T06:00:00.000000001+00:00",
        ]
        for text in same {
            XCTAssertEqual(try Timestamp.parse(text), sunday0600, text)
        }
        XCTAssertEqual(try Timestamp.parse("1970-01-01T00:00:00Z"), 0)
        XCTAssertEqual(try Timestamp.parse("1970-01-01T01:00:00+01:00"), 0)
        XCTAssertEqual(try Timestamp.parse("1969-12-31T23:59:59Z"), -1)
        XCTAssertEqual(try Timestamp.parse("1969-12-31T23:59:59.9Z"), -1)
        XCTAssertEqual(try Timestamp.parse("2000-02-29T00:00:00Z"), 951_782_400)
        XCTAssertEqual(try Timestamp.parse("2038-01-19T03:14:07Z"), 2_147_483_647)
        XCTAssertEqual(try Timestamp.parse("9999-12-31T23:59:59Z"), 253_402_300_799)
    }

    func testParseRejectsTimesWithoutOffset() {
        assertTimeError(try Timestamp.parse("2026-03-29T06:00:00"),
                        "time '2026-03-29T06:00:00' has no UTC offset: add Z or an offset like +02:00")
        assertTimeError(try Timestamp.parse("2026-03-29T06:00"), containing: "has no UTC offset")
        assertTimeError(try Timestamp.parse("2026-03-29T06:00:00.5"), containing: "has no UTC offset")
    }

    func testParseRejectsGarbageAndImpossibleValues() {
        let garbage = [
            "", "yesterday", "now", "2026-03-29", "2026-03-29 06:00:00Z", "2026-3-29T06:00Z", "26-03-29T06:00Z",
            "2026-03-29T6:00Z", "2026-03-29T06Z", "2026-03-29T06:00:00.Z", "2026-03-29T06:00:00+2:00",
            "2026-03-29T06:00:00+02:0", "2026-03-29T06:00:00 Z", " 2026-03-29T06:00:00Z", "2026-03-29T06:00:00Z ",
            "2026-03-29T06:00:00Zjunk", "2026-03-29T06:00:00UTC", "1774764000", "２０２６-03-29T06:00Z",
        ]
        for text in garbage {
            assertTimeError(try Timestamp.parse(text), containing: "invalid time '\(text)'")
        }
        assertTimeError(try Timestamp.parse("2026-02-29T00:00Z"), "invalid time '2026-02-29T00:00Z': no such date")
        for text in ["2026-13-01T00:00Z", "2026-00-10T00:00Z", "2026-04-31T00:00Z", "2026-01-00T00:00Z"] {
            assertTimeError(try Timestamp.parse(text), containing: "no such date")
        }
        for text in ["2026-03-29T24:00Z", "2026-03-29T06:60Z", "2026-03-29T06:00:60Z"] {
            assertTimeError(try Timestamp.parse(text), containing: "time of day out of range")
        }
        assertTimeError(try Timestamp.parse("2026-03-29T06:00:00+24:00"), containing: "offset out of range")
        assertTimeError(try Timestamp.parse("2026-03-29T06:00:00+02:60"), containing: "offset out of range")
    }

    func testParseErrorIsOneLineEvenForHostileInput() {
        do {
            _ = try Timestamp.parse("2026-03-29T06:00:00Z\r\nX-Evil: 1")
            XCTFail("accepted a time with CR/LF")
        } catch let error as TimeError {
            XCTAssertFalse(error.description.contains("\n"))
            XCTAssertFalse(error.description.contains("\r"))
            XCTAssertTrue(error.description.contains("\\r\\n"), error.description)
        } catch {
            XCTFail("unexpected \(error)")
        }
        do {
            _ = try Timestamp.parse(String(repeating: "9", count: 10_000))
            XCTFail("accepted garbage")
        } catch {
            XCTAssertLessThan(String(describing: error).count, 300)
        }
    }

    // MARK: Formatting

    func testISO8601Formatting() {
        XCTAssertEqual(Timestamp.iso8601(0), "1970-01-01T00:00:00Z")
        XCTAssertEqual(Timestamp.iso8601(-1), "1969-12-31T23:59:59Z")
        XCTAssertEqual(Timestamp.iso8601(sunday0600), "2026-03-29T06:00:00Z")
        XCTAssertEqual(Timestamp.iso8601(951_782_400 + 86399), "2000-02-29T23:59:59Z")
        XCTAssertEqual(Timestamp.iso8601(2_147_483_647), "2038-01-19T03:14:07Z")
        XCTAssertEqual(Timestamp.iso8601(253_402_300_799), "9999-12-31T23:59:59Z")
    }

    func testRFC5322Formatting() {
        XCTAssertEqual(Timestamp.rfc5322(0), "Thu, 01 Jan 1970 00:00:00 +0000")
        XCTAssertEqual(Timestamp.rfc5322(sunday0600), "Sun, 29 Mar 2026 06:00:00 +0000")
        XCTAssertEqual(Timestamp.rfc5322(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000")
        XCTAssertEqual(Timestamp.rfc5322(2_147_483_647), "Tue, 19 Jan 2038 03:14:07 +0000")
    }

    /// An independent implementation (Foundation's formatters) agrees over a wide spread of instants.
    func testFormattingAgreesWithFoundation() {
        let rfc = DateFormatter()
        rfc.locale = Locale(identifier: "en_US_POSIX")
        rfc.timeZone = TimeZone(identifier: "UTC")
        rfc.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        let iso = ISO8601DateFormatter()
        var seconds: Int64 = -2_208_988_800   // 1900-01-01
        while seconds < 4_102_444_800 {       // 2100-01-01
            let date = Date(timeIntervalSince1970: TimeInterval(seconds))
            XCTAssertEqual(Timestamp.rfc5322(seconds), rfc.string(from: date))
            XCTAssertEqual(Timestamp.iso8601(seconds), iso.string(from: date))
            XCTAssertEqual(try Timestamp.parse(Timestamp.iso8601(seconds)), seconds)
            seconds += 7_777_777   // about 90 days and a few hours: walks through every weekday and hour
        }
    }

    func testNowIsTheWallClock() {
        let foundation = Int64(Date().timeIntervalSince1970)
        XCTAssertLessThanOrEqual(abs(Timestamp.now() - foundation), 2)
    }

    // MARK: Zones

    func testNamedAcceptsIANANamesOnly() throws {
        XCTAssertEqual(try Zone.named("Europe/Oslo").secondsFromGMT(for: Date(timeIntervalSince1970: 0)), 3600)
        XCTAssertEqual(try Zone.named("UTC").secondsFromGMT(), 0)
        XCTAssertNoThrow(try Zone.named("America/Argentina/Buenos_Aires"))
        XCTAssertNoThrow(try Zone.named("Etc/UTC"))
        assertTimeError(try Zone.named("Mars/Olympus_Mons"), containing: "unknown time zone 'Mars/Olympus_Mons'")
        // Abbreviations and raw offsets carry no (or ambiguous) DST rules.
        for bad in ["PST", "CET", "EST", "GMT+2", "GMT+0200", "+02:00", "europe/oslo", "", "/", "Europe/"] {
            assertTimeError(try Zone.named(bad), containing: "unknown time zone '\(bad)'")
        }
    }

    func testLocalWallTime() throws {
        let oslo = try Zone.named("Europe/Oslo")
        // 2026-03-29T00:59:59Z is the last second of CET (+1): 01:59:59 local; one second later CEST (+2): 03:00:00.
        XCTAssertEqual(Zone.local(1_774_746_000 - 1, in: oslo),
                       LocalDateTime(year: 2026, month: 3, day: 29, hour: 1, minute: 59, second: 59))
        XCTAssertEqual(Zone.local(1_774_746_000, in: oslo),
                       LocalDateTime(year: 2026, month: 3, day: 29, hour: 3, minute: 0, second: 0))
        XCTAssertEqual(Zone.local(sunday0600, in: oslo).weekday, 7)
        let newYork = try Zone.named("America/New_York")
        // 06:00Z - 4h (EDT since 8 March) = 02:00 the same day.
        XCTAssertEqual(Zone.local(sunday0600, in: newYork), LocalDateTime(year: 2026, month: 3, day: 29, hour: 2))
        let sydney = try Zone.named("Australia/Sydney")
        // 06:00Z + 11h (AEDT until 5 April) = 17:00.
        XCTAssertEqual(Zone.local(sunday0600, in: sydney), LocalDateTime(year: 2026, month: 3, day: 29, hour: 17))
        XCTAssertEqual(LocalDateTime(year: 2026, month: 3, day: 9, hour: 7, minute: 5).description, "2026-03-09 07:05:00")
        XCTAssertEqual(LocalDateTime(year: 2026, month: 3, day: 9).weekday, 1)   // 29 March (Sunday) - 20 days
    }

    func testInstantOfOrdinaryGapAndOverlapWallTimes() throws {
        let osloZone = try Zone.named("Europe/Oslo")
        func oslo(_ month: Int, _ day: Int, _ hour: Int, _ minute: Int) -> String {
            Timestamp.iso8601(Zone.instant(of: LocalDateTime(year: 2026, month: month, day: day, hour: hour, minute: minute), in: osloZone))
        }
        XCTAssertEqual(oslo(1, 15, 12, 0), "2026-01-15T11:00:00Z")   // CET +1
        XCTAssertEqual(oslo(7, 15, 12, 0), "2026-07-15T10:00:00Z")   // CEST +2
        // Gap: 02:00 CET -> 03:00 CEST on 29 March. 02:30 moves forward by the 1 h gap to 03:30 CEST = 01:30Z.
        XCTAssertEqual(oslo(3, 29, 2, 0), "2026-03-29T01:00:00Z")
        XCTAssertEqual(oslo(3, 29, 2, 30), "2026-03-29T01:30:00Z")
        XCTAssertEqual(oslo(3, 29, 3, 30), "2026-03-29T01:30:00Z")   // the real 03:30 CEST: the same instant
        XCTAssertEqual(oslo(3, 29, 1, 59), "2026-03-29T00:59:00Z")   // last CET minute
        // Overlap: 03:00 CEST -> 02:00 CET on 25 October; 02:30 happens at 00:30Z (CEST) and 01:30Z (CET): first wins.
        XCTAssertEqual(oslo(10, 25, 2, 30), "2026-10-25T00:30:00Z")
        XCTAssertEqual(oslo(10, 25, 2, 0), "2026-10-25T00:00:00Z")
        XCTAssertEqual(oslo(10, 25, 3, 0), "2026-10-25T02:00:00Z")   // after the overlap: CET only

        // Lord Howe Island shifts by 30 minutes: 02:00 (+10:30) -> 02:30 (+11) on 4 October 2026.
        let lordHowe = try Zone.named("Australia/Lord_Howe")
        // 02:15 does not exist; forward by 30 min to 02:45 +11 = 15:45Z the day before.
        XCTAssertEqual(Timestamp.iso8601(Zone.instant(of: LocalDateTime(year: 2026, month: 10, day: 4, hour: 2, minute: 15), in: lordHowe)),
                       "2026-10-03T15:45:00Z")
        // 5 April 2026: 02:00 (+11) -> 01:30 (+10:30); 01:45 first occurs at +11: 14:45Z on the 4th.
        XCTAssertEqual(Timestamp.iso8601(Zone.instant(of: LocalDateTime(year: 2026, month: 4, day: 5, hour: 1, minute: 45), in: lordHowe)),
                       "2026-04-04T14:45:00Z")

        // Samoa skipped 30 December 2011 (-10 -> +14): noon that day moves forward by the 24 h gap
        // to noon on the 31st, +14 = 22:00Z on the 30th.
        let apia = try Zone.named("Pacific/Apia")
        XCTAssertEqual(Timestamp.iso8601(Zone.instant(of: LocalDateTime(year: 2011, month: 12, day: 30, hour: 12), in: apia)),
                       "2011-12-30T22:00:00Z")
    }

    /// instant(of: local(t)) gives back t, except in a fall-back overlap's second pass, where it gives the
    /// earlier instant that shows the same wall time. Checked every 17 minutes through 2026 in several zones,
    /// with Zone.local compared against Foundation's Calendar as an independent reference.
    func testInstantAndLocalAreInversesAcrossAYear() throws {
        let start = try Timestamp.parse("2026-01-01T00:00:00Z")
        let end = try Timestamp.parse("2027-01-01T00:00:00Z")
        for name in ["UTC", "Europe/Oslo", "America/New_York", "Australia/Sydney", "Australia/Lord_Howe",
                     "America/Santiago", "Asia/Kolkata", "Pacific/Chatham"] {
            let zone = try Zone.named(name)
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = zone
            var t = start
            var step = 0
            while t < end {
                let local = Zone.local(t, in: zone)
                if step % 97 == 0 {
                    let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second],
                                                        from: Date(timeIntervalSince1970: TimeInterval(t)))
                    XCTAssertEqual(local, LocalDateTime(year: parts.year!, month: parts.month!, day: parts.day!,
                                                        hour: parts.hour!, minute: parts.minute!, second: parts.second!),
                                   "\(name) \(t)")
                }
                let back = Zone.instant(of: local, in: zone)
                if back != t {
                    XCTAssertLessThan(back, t, "\(name) \(Timestamp.iso8601(t))")
                    XCTAssertEqual(Zone.local(back, in: zone), local, "\(name) \(Timestamp.iso8601(t))")
                }
                t += 17 * 60
                step += 1
            }
        }
    }

    private func assertTimeError<T>(_ expression: @autoclosure () throws -> T, _ message: String,
                                    file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try expression()
            XCTFail("no error, expected \(message)", file: file, line: line)
        } catch let error as TimeError {
            XCTAssertEqual(error.description, message, file: file, line: line)
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
    }

    private func assertTimeError<T>(_ expression: @autoclosure () throws -> T, containing fragment: String,
                                    file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try expression()
            XCTFail("no error, expected one containing \(fragment)", file: file, line: line)
        } catch let error as TimeError {
            XCTAssertTrue(error.description.contains(fragment), "\(error.description) lacks \(fragment)", file: file, line: line)
            XCTAssertFalse(error.description.contains("\n"), file: file, line: line)
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
    }
}
