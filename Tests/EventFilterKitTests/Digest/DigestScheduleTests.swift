import EventFilterKit
import Foundation
import XCTest

/// Digest due times. Every expected value below is worked out by hand from the tz rules (checked against
/// `zdump -v -c 2026,2027 ZONE`), the arithmetic in the comment next to it:
///
/// - Europe/Oslo 2026: CET +1 until 2026-03-29 01:00Z (02:00 local -> 03:00 CEST +2);
///   CEST until 2026-10-25 01:00Z (03:00 local -> 02:00 CET +1).
/// - America/New_York 2026: EST -5 until 2026-03-08 07:00Z (02:00 -> 03:00 EDT -4);
///   EDT until 2026-11-01 06:00Z (02:00 -> 01:00 EST).
/// - Australia/Sydney 2026: AEDT +11 until 2026-04-04 16:00Z (Sun 5 Apr 03:00 -> 02:00 AEST +10);
///   AEST until 2026-10-03 16:00Z (Sun 4 Oct 02:00 -> 03:00 AEDT).
/// - America/Santiago 2026: -04 until 2026-09-06 04:00Z (Sat 24:00 -> Sun 01:00 -03); before that,
///   -03 until 2026-04-05 03:00Z (Sat 4 Apr 24:00 -> 23:00 -04).
/// - 2026-03-29, 2026-10-25 and 2026-11-01 are Sundays; 2026-10-21 is a Wednesday.
final class DigestScheduleTests: XCTestCase {
    private var oslo: TimeZone!
    private var utc: TimeZone!

    override func setUpWithError() throws {
        oslo = try Zone.named("Europe/Oslo")
        utc = try Zone.named("UTC")
    }

    // MARK: Daily, Europe/Oslo

    func testDailyAcrossSpringForward() throws {
        let daily0800 = try schedule("daily", "08:00")
        // 10:00Z on the 28th = 11:00 CET, past 08:00: next is 08:00 CEST on the 29th = 08:00 - 2h = 06:00Z.
        assertNext(daily0800, from: "2026-03-28T10:00:00Z", in: oslo, is: "2026-03-29T06:00:00Z")
        // 06:00Z on the 28th = 07:00 CET: today's 08:00 CET = 07:00Z is still ahead.
        assertNext(daily0800, from: "2026-03-28T06:00:00Z", in: oslo, is: "2026-03-28T07:00:00Z")
        // Exactly at a due time: that time itself ("at or after").
        assertNext(daily0800, from: "2026-03-28T07:00:00Z", in: oslo, is: "2026-03-28T07:00:00Z")
        // One second later: the next day's, 23 hours after (the night lost an hour).
        let saturday = try Timestamp.parse("2026-03-28T07:00:00Z")
        let sunday = daily0800.nextSendTime(atOrAfter: saturday + 1, in: oslo)
        XCTAssertEqual(Timestamp.iso8601(sunday), "2026-03-29T06:00:00Z")
        XCTAssertEqual(sunday - saturday, 23 * 3600)
    }

    func testDailyAcrossFallBack() throws {
        let daily0800 = try schedule("daily", "08:00")
        // Sat 24 Oct 08:00 CEST = 06:00Z; Sun 25 Oct 08:00 CET = 07:00Z: a 25-hour day.
        let saturday = daily0800.nextSendTime(atOrAfter: try Timestamp.parse("2026-10-24T00:00:00Z"), in: oslo)
        XCTAssertEqual(Timestamp.iso8601(saturday), "2026-10-24T06:00:00Z")
        let sunday = daily0800.nextSendTime(atOrAfter: saturday + 1, in: oslo)
        XCTAssertEqual(Timestamp.iso8601(sunday), "2026-10-25T07:00:00Z")
        XCTAssertEqual(sunday - saturday, 25 * 3600)
    }

    func testDailyAtANonexistentWallTime() throws {
        let daily0230 = try schedule("daily", "02:30")
        // 29 March 02:30 does not exist (02:00 -> 03:00): moved forward by the gap to 03:30 CEST = 01:30Z.
        assertNext(daily0230, from: "2026-03-28T12:00:00Z", in: oslo, is: "2026-03-29T01:30:00Z")
        // Next: 30 March 02:30 CEST = 00:30Z.
        assertNext(daily0230, from: "2026-03-29T01:30:01Z", in: oslo, is: "2026-03-30T00:30:00Z")
    }

    func testDailyAtAnAmbiguousWallTimeSendsOnce() throws {
        let daily0230 = try schedule("daily", "02:30")
        // 25 October 02:30 happens twice: 02:30 CEST = 00:30Z and 02:30 CET = 01:30Z. The first counts.
        assertNext(daily0230, from: "2026-10-24T12:00:00Z", in: oslo, is: "2026-10-25T00:30:00Z")
        // Between the two passes (00:30:01Z) the second pass is not a new due time: next is
        // 26 October 02:30 CET = 01:30Z.
        assertNext(daily0230, from: "2026-10-25T00:30:01Z", in: oslo, is: "2026-10-26T01:30:00Z")
        // A run during the second pass itself (01:10Z = 02:10 CET) does not send either.
        assertNext(daily0230, from: "2026-10-25T01:10:00Z", in: oslo, is: "2026-10-26T01:30:00Z")
    }

    func testDailyMinutesCount() throws {
        // eZ only honoured the hour; 07:45 CEST = 05:45Z, and 07:46 CEST has passed it.
        let daily0745 = try schedule("daily", "7:45")
        assertNext(daily0745, from: "2026-06-01T05:44:59Z", in: oslo, is: "2026-06-01T05:45:00Z")
        assertNext(daily0745, from: "2026-06-01T05:46:00Z", in: oslo, is: "2026-06-02T05:45:00Z")
    }

    func testDailyMidnightAndLastMinute() throws {
        // 00:00 CET on 1 January 2027 = 31 Dec 23:00Z; 23:59 CET on 31 Dec = 22:59Z.
        assertNext(try schedule("daily", "00:00"), from: "2026-12-31T22:00:00Z", in: oslo, is: "2026-12-31T23:00:00Z")
        assertNext(try schedule("daily", "23:59"), from: "2026-12-31T22:00:00Z", in: oslo, is: "2026-12-31T22:59:00Z")
    }

    // MARK: Weekly

    func testWeeklySundayAcrossFallBack() throws {
        let sunday0900 = try schedule("weekly", "Sunday", "09:00")
        // Wednesday 21 October (CEST) -> Sunday 25 October, after summer time ended: 09:00 CET = 08:00Z.
        assertNext(sunday0900, from: "2026-10-21T12:00:00Z", in: oslo, is: "2026-10-25T08:00:00Z")
        // The following one: Sunday 1 November 09:00 CET = 08:00Z (7 days + the hour gained = 168 h exactly in UTC).
        assertNext(sunday0900, from: "2026-10-25T08:00:01Z", in: oslo, is: "2026-11-01T08:00:00Z")
        // The one before: Sunday 18 October 09:00 CEST = 07:00Z.
        assertNext(sunday0900, from: "2026-10-14T12:00:00Z", in: oslo, is: "2026-10-18T07:00:00Z")
        // On the Sunday itself, before and after 09:00.
        assertNext(sunday0900, from: "2026-10-25T07:59:59Z", in: oslo, is: "2026-10-25T08:00:00Z")
        assertNext(sunday0900, from: "2026-10-25T08:00:00Z", in: oslo, is: "2026-10-25T08:00:00Z")
    }

    func testWeeklyUsesTheLocalDateNotTheUTCDate() throws {
        let newYork = try Zone.named("America/New_York")
        // Sun 8 March 05:00Z = 00:00 EST, a Sunday in New York. Monday 9 March 08:00 EDT = 12:00Z.
        assertNext(try schedule("weekly", "mon", "08:00"), from: "2026-03-08T05:00:00Z", in: newYork, is: "2026-03-09T12:00:00Z")
        // Mon 9 March 03:00Z is still Sunday 23:00 EDT in New York: Monday's 08:00 EDT = 12:00Z is next.
        assertNext(try schedule("weekly", "MONDAY", "08:00"), from: "2026-03-09T03:00:00Z", in: newYork, is: "2026-03-09T12:00:00Z")
        let sydney = try Zone.named("Australia/Sydney")
        // Sat 4 April 23:00Z is already Sunday 5 April 09:00 AEST in Sydney; Monday 6 April 08:00 AEST = 5 April 22:00Z.
        assertNext(try schedule("weekly", "Mon", "08:00"), from: "2026-04-04T23:00:00Z", in: sydney, is: "2026-04-05T22:00:00Z")
        // Saturday 09:00 seen from Friday 3 April 12:00Z (= Fri 23:00 AEDT): Sat 4 April 09:00 AEDT = 3 April 22:00Z.
        assertNext(try schedule("weekly", "sat", "09:00"), from: "2026-04-03T12:00:00Z", in: sydney, is: "2026-04-03T22:00:00Z")
    }

    func testEveryWeekdayName() throws {
        // From Monday 2026-06-01 00:00Z, UTC: day N of the week is 2026-06-(N) at 12:00 (1 June 2026 is a Monday:
        // 29 March was a Sunday, + 64 days = 9 weeks + 1 day).
        let names = [["monday", "mon"], ["tuesday", "tue"], ["wednesday", "wed"], ["thursday", "thu"],
                     ["friday", "fri"], ["saturday", "sat"], ["sunday", "sun"]]
        for (index, spellings) in names.enumerated() {
            for spelling in spellings + [spellings[0].uppercased(), spellings[1].capitalized] {
                let weekly = try schedule("weekly", spelling, "12:00")
                XCTAssertEqual(weekly.frequency, .weekly(weekday: index + 1))
                assertNext(weekly, from: "2026-06-01T00:00:00Z", in: utc, is: "2026-06-0\(index + 1)T12:00:00Z")
            }
        }
    }

    // MARK: Monthly

    func testMonthlyLastDayClampingEachMonthOnItsOwn() throws {
        let monthly31 = try schedule("monthly", "31", "08:00")
        // January 31 has passed at 10:00; February has 28 days in 2026: 28 February 08:00.
        assertNext(monthly31, from: "2026-01-31T10:00:00Z", in: utc, is: "2026-02-28T08:00:00Z")
        assertNext(monthly31, from: "2026-02-28T08:00:00Z", in: utc, is: "2026-02-28T08:00:00Z")
        // No carry-over from February's clamping: March has its 31st.
        assertNext(monthly31, from: "2026-02-28T08:00:01Z", in: utc, is: "2026-03-31T08:00:00Z")
        // April has 30 days.
        assertNext(monthly31, from: "2026-04-01T00:00:00Z", in: utc, is: "2026-04-30T08:00:00Z")
        // 2028 is a leap year: 29 February.
        assertNext(monthly31, from: "2028-02-01T00:00:00Z", in: utc, is: "2028-02-29T08:00:00Z")
        // 2100 is not (divisible by 100, not by 400).
        assertNext(monthly31, from: "2100-02-01T00:00:00Z", in: utc, is: "2100-02-28T08:00:00Z")
        // Across the year end.
        assertNext(monthly31, from: "2026-12-31T08:00:01Z", in: utc, is: "2027-01-31T08:00:00Z")

        let monthly30 = try schedule("monthly", "30", "08:00")
        // 28 February 09:00 is after February's (clamped) 28th 08:00: March's own 30th.
        assertNext(monthly30, from: "2026-02-28T09:00:00Z", in: utc, is: "2026-03-30T08:00:00Z")
        assertNext(try schedule("monthly", "15", "08:00"), from: "2026-12-20T00:00:00Z", in: utc, is: "2027-01-15T08:00:00Z")
        assertNext(try schedule("monthly", "1", "00:00"), from: "2026-12-01T00:00:01Z", in: utc, is: "2027-01-01T00:00:00Z")
    }

    /// eZ Publish's worked examples (reference 1.8), where its "add the length of the current month" went wrong.
    func testMonthlyWhereEZPublishWasWrong() throws {
        // eZ: 2023-01-31 10:00, day 31, 9:00 -> 2023-03-03 09:00 (February skipped). We: 28 February.
        assertNext(try schedule("monthly", "31", "9:00"), from: "2023-01-31T10:00:00Z", in: utc, is: "2023-02-28T09:00:00Z")
        // eZ: 2023-02-28 10:00, day 30 -> clamped 28, + 28 days = 2023-03-28. We: 30 March.
        assertNext(try schedule("monthly", "30", "9:00"), from: "2023-02-28T10:00:00Z", in: utc, is: "2023-03-30T09:00:00Z")
        // eZ: daily 9:00 at 09:00 or 09:59 -> tomorrow. We: at 09:00 exactly it is due now.
        assertNext(try schedule("daily", "9:00"), from: "2023-02-15T09:00:00Z", in: utc, is: "2023-02-15T09:00:00Z")
    }

    func testMonthlyInAZoneAheadOfUTC() throws {
        let sydney = try Zone.named("Australia/Sydney")
        // 1 February 09:00 AEDT = 31 January 22:00Z.
        assertNext(try schedule("monthly", "1", "09:00"), from: "2026-01-15T00:00:00Z", in: sydney, is: "2026-01-31T22:00:00Z")
        // Monthly 31 in April, Sydney: 30 April 09:00 AEST (+10) = 23:00Z on the 29th.
        assertNext(try schedule("monthly", "31", "09:00"), from: "2026-04-10T00:00:00Z", in: sydney, is: "2026-04-29T23:00:00Z")
    }

    // MARK: Other zones

    func testNewYorkTransitions() throws {
        let newYork = try Zone.named("America/New_York")
        let daily0900 = try schedule("daily", "09:00")
        // Sat 7 March 09:00 EST (-5) = 14:00Z; Sun 8 March 09:00 EDT (-4) = 13:00Z.
        assertNext(daily0900, from: "2026-03-07T00:00:00Z", in: newYork, is: "2026-03-07T14:00:00Z")
        assertNext(daily0900, from: "2026-03-07T14:00:01Z", in: newYork, is: "2026-03-08T13:00:00Z")
        // 8 March 02:30 does not exist: 03:30 EDT = 07:30Z.
        assertNext(try schedule("daily", "02:30"), from: "2026-03-07T12:00:00Z", in: newYork, is: "2026-03-08T07:30:00Z")
        // 1 November 01:30 happens twice (EDT 05:30Z, EST 06:30Z): the first.
        assertNext(try schedule("daily", "01:30"), from: "2026-10-31T12:00:00Z", in: newYork, is: "2026-11-01T05:30:00Z")
        // Mar 10 03:00Z is Mar 9 23:00 EDT; Mar 9's 22:00 has passed, so Mar 10 22:00 EDT = Mar 11 02:00Z.
        assertNext(try schedule("daily", "22:00"), from: "2026-03-10T03:00:00Z", in: newYork, is: "2026-03-11T02:00:00Z")
    }

    func testSydneySouthernHemisphere() throws {
        let sydney = try Zone.named("Australia/Sydney")
        let daily0230 = try schedule("daily", "02:30")
        // Autumn, 5 April: 02:30 happens at AEDT (+11) = 4 April 15:30Z and AEST (+10) = 16:30Z; the first.
        assertNext(daily0230, from: "2026-04-04T12:00:00Z", in: sydney, is: "2026-04-04T15:30:00Z")
        assertNext(daily0230, from: "2026-04-04T15:30:01Z", in: sydney, is: "2026-04-05T16:30:00Z")
        // Spring, 4 October: 02:30 does not exist (02:00 -> 03:00); 03:30 AEDT = 3 October 16:30Z.
        assertNext(daily0230, from: "2026-10-03T12:00:00Z", in: sydney, is: "2026-10-03T16:30:00Z")
        // Summer days in Sydney are 24 h again after that: 5 October 02:30 AEDT = 4 October 15:30Z.
        assertNext(daily0230, from: "2026-10-03T16:30:01Z", in: sydney, is: "2026-10-04T15:30:00Z")
    }

    func testLordHoweHalfHourShift() throws {
        let lordHowe = try Zone.named("Australia/Lord_Howe")
        // 4 October: 02:00 (+10:30) -> 02:30 (+11). 02:15 moves forward 30 min to 02:45 +11 = 3 October 15:45Z.
        assertNext(try schedule("daily", "02:15"), from: "2026-10-03T12:00:00Z", in: lordHowe, is: "2026-10-03T15:45:00Z")
        // 08:00 on 3 October (+10:30) = 2 Oct 21:30Z; on 4 October (+11) = 3 Oct 21:00Z: a 23.5-hour day.
        let daily0800 = try schedule("daily", "08:00")
        let before = daily0800.nextSendTime(atOrAfter: try Timestamp.parse("2026-10-02T12:00:00Z"), in: lordHowe)
        XCTAssertEqual(Timestamp.iso8601(before), "2026-10-02T21:30:00Z")
        let after = daily0800.nextSendTime(atOrAfter: before + 1, in: lordHowe)
        XCTAssertEqual(Timestamp.iso8601(after), "2026-10-03T21:00:00Z")
        XCTAssertEqual(after - before, 23 * 3600 + 1800)
    }

    func testSantiagoMidnightTransitions() throws {
        let santiago = try Zone.named("America/Santiago")
        // Saturday 5 September 24:00 -04 jumps to Sunday 01:00 -03: Sunday 00:30 moves to 01:30 -03 = 04:30Z.
        assertNext(try schedule("daily", "00:30"), from: "2026-09-05T12:00:00Z", in: santiago, is: "2026-09-06T04:30:00Z")
        // Saturday 4 April: 24:00 -03 falls back to 23:00 -04, so 23:30 happens twice (02:30Z and 03:30Z on the 5th).
        assertNext(try schedule("daily", "23:30"), from: "2026-04-04T12:00:00Z", in: santiago, is: "2026-04-05T02:30:00Z")
        assertNext(try schedule("daily", "23:30"), from: "2026-04-05T02:30:01Z", in: santiago, is: "2026-04-06T03:30:00Z")
    }

    func testNuukGapBeforeMidnightPushesASendIntoTheNextDay() throws {
        // America/Nuuk 2026 (zdump): Sat 28 March 23:00 -02 jumps to Sun 00:00 -01 (01:00Z); Sat 24 October
        // 24:00 -01 falls back to 23:00 -02 (01:00Z).
        let nuuk = try Zone.named("America/Nuuk")
        let daily2330 = try schedule("daily", "23:30")
        // Saturday 23:30 does not exist: forward by the hour to Sunday 00:30 -01 = 01:30Z.
        assertNext(daily2330, from: "2026-03-28T12:00:00Z", in: nuuk, is: "2026-03-29T01:30:00Z")
        // At 01:10Z it is already Sunday 00:10 locally, but Saturday's send (moved to 00:30) is still ahead.
        assertNext(daily2330, from: "2026-03-29T01:10:00Z", in: nuuk, is: "2026-03-29T01:30:00Z")
        // Then Sunday's own 23:30 -01 = Monday 00:30Z.
        assertNext(daily2330, from: "2026-03-29T01:30:01Z", in: nuuk, is: "2026-03-30T00:30:00Z")
        // Saturday 24 October 23:30 happens at -01 (00:30Z) and -02 (01:30Z): the first.
        assertNext(daily2330, from: "2026-10-24T12:00:00Z", in: nuuk, is: "2026-10-25T00:30:00Z")
    }

    func testSamoaSkippedDay() throws {
        let apia = try Zone.named("Pacific/Apia")
        let daily1200 = try schedule("daily", "12:00")
        // Thu 29 Dec 2011 12:00 -10 = 22:00Z. Friday 30 December never happened (-10 -> +14 at its midnight):
        // its noon moves forward by the 24 h gap onto Saturday noon +14 = 30 Dec 22:00Z, the one send that day.
        assertNext(daily1200, from: "2011-12-29T12:00:00Z", in: apia, is: "2011-12-29T22:00:00Z")
        assertNext(daily1200, from: "2011-12-29T22:00:01Z", in: apia, is: "2011-12-30T22:00:00Z")
        assertNext(daily1200, from: "2011-12-30T22:00:01Z", in: apia, is: "2011-12-31T22:00:00Z")
    }

    /// Every due time in a year is a real send: strictly increasing, one per due day, and asking again at
    /// any moment in between gives the same answer.
    func testSendTimesFormAConsistentSequence() throws {
        let zones = ["Europe/Oslo", "America/New_York", "Australia/Sydney", "Australia/Lord_Howe", "America/Santiago"]
        let schedules = try [schedule("daily", "02:30"), schedule("weekly", "sun", "02:15"), schedule("monthly", "31", "00:30")]
        let start = try Timestamp.parse("2026-01-01T00:00:00Z")
        let end = try Timestamp.parse("2027-01-01T00:00:00Z")
        for name in zones {
            let zone = try Zone.named(name)
            for digest in schedules {
                var due = digest.nextSendTime(atOrAfter: start, in: zone)
                var count = 0
                while due < end {
                    let next = digest.nextSendTime(atOrAfter: due + 1, in: zone)
                    XCTAssertGreaterThan(next - due, 20 * 3600, "\(name) \(digest) \(Timestamp.iso8601(due))")
                    XCTAssertEqual(digest.nextSendTime(atOrAfter: due + (next - due) / 2, in: zone), next)
                    due = next
                    count += 1
                }
                switch digest.frequency {
                case .daily: XCTAssertEqual(count, 365, "\(name) \(digest)")
                case .weekly: XCTAssertEqual(count, 52, "\(name) \(digest)")   // 2026 has 52 Sundays
                case .monthly: XCTAssertEqual(count, 12, "\(name) \(digest)")
                }
            }
        }
    }

    // MARK: Parsing, validation, storage

    func testParseForms() throws {
        XCTAssertNil(try DigestSchedule.parse(["off"]))
        XCTAssertNil(try DigestSchedule.parse(["OFF"]))
        let daily = try XCTUnwrap(DigestSchedule.parse(["daily", "08:00"]))
        XCTAssertEqual(daily.frequency, .daily)
        XCTAssertEqual(daily.hour, 8)
        XCTAssertEqual(daily.minute, 0)
        XCTAssertEqual(try schedule("daily", "8:05"), try DigestSchedule(frequency: .daily, hour: 8, minute: 5))
        XCTAssertEqual(try schedule("Weekly", "monday", "08:00"), try DigestSchedule(frequency: .weekly(weekday: 1), hour: 8, minute: 0))
        XCTAssertEqual(try schedule("weekly", "SUN", "23:59"), try DigestSchedule(frequency: .weekly(weekday: 7), hour: 23, minute: 59))
        XCTAssertEqual(try schedule("monthly", "31", "08:00"), try DigestSchedule(frequency: .monthly(day: 31), hour: 8, minute: 0))
        XCTAssertEqual(try schedule("monthly", "01", "00:00"), try DigestSchedule(frequency: .monthly(day: 1), hour: 0, minute: 0))
    }

    func testParseErrorsNameTheBadWord() {
        assertError(["daily", "25:00"], "digest time '25:00' is not HH:MM")
        assertError(["weekly", "mondy", "08:00"], "unknown weekday 'mondy' (expected Monday ... Sunday or Mon ... Sun)")
        assertError(["monthly", "32", "08:00"], "monthly day must be 1-31, got '32'")
        assertError(["monthly", "0", "08:00"], "monthly day must be 1-31, got '0'")
        assertError(["monthly", "-1", "08:00"], "monthly day must be 1-31, got '-1'")
        assertError(["monthly", "last", "08:00"], "monthly day must be 1-31, got 'last'")
        assertError(["hourly", "08:00"], "unknown digest frequency 'hourly': expected off, daily HH:MM, weekly DAY HH:MM or monthly N HH:MM")
        assertError([], "missing digest schedule: expected off, daily HH:MM, weekly DAY HH:MM or monthly N HH:MM")
        assertError(["daily"], "digest 'daily' is not of the form 'daily HH:MM'")
        assertError(["daily", "08:00", "extra"], "digest 'daily 08:00 extra' is not of the form 'daily HH:MM'")
        assertError(["weekly", "08:00"], "digest 'weekly 08:00' is not of the form 'weekly DAY HH:MM'")
        assertError(["off", "now"], "digest 'off now' is not of the form 'off'")
        for time in ["8", "08:0", "08:60", "24:00", "123:00", "+8:00", "08:00:00", "08.00", ":00", "08:", "", "٠٨:٠٠"] {
            assertError(["daily", time], "digest time '\(time)' is not HH:MM")
        }
        for day in ["mo", "mond", "1", "lundi", "Sunday,"] {
            assertError(["weekly", day, "08:00"], "unknown weekday '\(day)' (expected Monday ... Sunday or Mon ... Sun)")
        }
        assertError(["daily", "08:00\n"], "digest time '08:00\\n' is not HH:MM")
    }

    func testInitValidatesRanges() {
        XCTAssertThrowsError(try DigestSchedule(frequency: .daily, hour: 24, minute: 0))
        XCTAssertThrowsError(try DigestSchedule(frequency: .daily, hour: -1, minute: 0))
        XCTAssertThrowsError(try DigestSchedule(frequency: .daily, hour: 0, minute: 60))
        XCTAssertThrowsError(try DigestSchedule(frequency: .weekly(weekday: 0), hour: 0, minute: 0))
        XCTAssertThrowsError(try DigestSchedule(frequency: .weekly(weekday: 8), hour: 0, minute: 0))
        XCTAssertThrowsError(try DigestSchedule(frequency: .monthly(day: 0), hour: 0, minute: 0))
        XCTAssertThrowsError(try DigestSchedule(frequency: .monthly(day: 32), hour: 0, minute: 0))
        XCTAssertNoThrow(try DigestSchedule(frequency: .monthly(day: 31), hour: 23, minute: 59))
    }

    func testStorageRoundTrip() throws {
        let cases: [(DigestSchedule, String, Int?, Int, String)] = [
            (try schedule("daily", "08:00"), "daily", nil, 480, "daily 08:00"),
            (try schedule("weekly", "monday", "08:00"), "weekly", 1, 480, "weekly Monday 08:00"),
            (try schedule("weekly", "sun", "9:05"), "weekly", 7, 545, "weekly Sunday 09:05"),
            (try schedule("monthly", "31", "08:00"), "monthly", 31, 480, "monthly 31 08:00"),
            (try schedule("monthly", "1", "23:59"), "monthly", 1, 1439, "monthly 1 23:59"),
        ]
        for (digest, frequency, day, minuteOfDay, description) in cases {
            let stored = digest.storage
            XCTAssertEqual(stored.frequency, frequency)
            XCTAssertEqual(stored.day, day)
            XCTAssertEqual(stored.minuteOfDay, minuteOfDay)
            XCTAssertEqual(try DigestSchedule(storageFrequency: frequency, day: day, minuteOfDay: minuteOfDay), digest)
            XCTAssertEqual(digest.description, description)
            // The description is valid command-line input for the same schedule.
            XCTAssertEqual(try DigestSchedule.parse(description.split(separator: " ").map(String.init)), digest)
        }
        let bad: [(String, Int?, Int)] = [
            ("daily", 3, 480), ("weekly", nil, 480), ("weekly", 8, 480), ("monthly", 0, 0), ("monthly", nil, 0),
            ("daily", nil, 1440), ("daily", nil, -1), ("yearly", nil, 0), ("Daily", nil, 0),
        ]
        for (frequency, day, minuteOfDay) in bad {
            XCTAssertThrowsError(try DigestSchedule(storageFrequency: frequency, day: day, minuteOfDay: minuteOfDay),
                                 "\(frequency) \(String(describing: day)) \(minuteOfDay)")
        }
    }

    // MARK: Helpers

    private func schedule(_ words: String...) throws -> DigestSchedule {
        try XCTUnwrap(DigestSchedule.parse(words))
    }

    private func assertNext(_ digest: DigestSchedule, from start: String, in zone: TimeZone, is expected: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        do {
            let due = digest.nextSendTime(atOrAfter: try Timestamp.parse(start), in: zone)
            XCTAssertEqual(Timestamp.iso8601(due), expected, "\(digest) from \(start) in \(zone.identifier)", file: file, line: line)
        } catch {
            XCTFail("\(error)", file: file, line: line)
        }
    }

    private func assertError(_ words: [String], _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        do {
            let parsed = try DigestSchedule.parse(words)
            XCTFail("\(words) parsed as \(String(describing: parsed))", file: file, line: line)
        } catch let error as TimeError {
            XCTAssertEqual(error.description, message, file: file, line: line)
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
        }
    }
}
