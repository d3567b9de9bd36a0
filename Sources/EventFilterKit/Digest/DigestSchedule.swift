import Foundation

/// When a user's digest goes out: daily, weekly on a weekday, or monthly on a day of the month, at a
/// local HH:MM in the user's own time zone.
///
///     let schedule = try DigestSchedule.parse(["weekly", "sunday", "09:00"])!   // "weekly Sunday 09:00"
///     let oslo = try Zone.named("Europe/Oslo")
///     let due = schedule.nextSendTime(atOrAfter: try Timestamp.parse("2026-10-21T12:00:00Z"), in: oslo)
///     Timestamp.iso8601(due)   // "2026-10-25T08:00:00Z": 09:00 CET, the morning after summer time ends
///
/// Unlike eZ Publish (which added "one day / week / length of this month" in server seconds), the due
/// time is always a real local HH:MM: it stays put across daylight-saving changes, minutes count,
/// and monthly day 31 means each month's own last day.
public struct DigestSchedule: Equatable, Sendable, CustomStringConvertible {
    public enum Frequency: Equatable, Sendable {
        case daily
        /// 1 = Monday ... 7 = Sunday (ISO 8601).
        case weekly(weekday: Int)
        /// 1...31; a day past the end of a month means that month's last day.
        case monthly(day: Int)
    }

    public let frequency: Frequency
    public let hour: Int
    public let minute: Int

    public init(frequency: Frequency, hour: Int, minute: Int) throws {
        switch frequency {
        case .daily:
            break
        case .weekly(let weekday):
            guard (1...7).contains(weekday) else {
                throw TimeError("digest weekday must be 1-7 (Monday-Sunday), got \(weekday)")
            }
        case .monthly(let day):
            guard (1...31).contains(day) else { throw TimeError("monthly day must be 1-31, got \(day)") }
        }
        guard (0...23).contains(hour) else { throw TimeError("digest hour must be 0-23, got \(hour)") }
        guard (0...59).contains(minute) else { throw TimeError("digest minute must be 0-59, got \(minute)") }
        self.frequency = frequency
        self.hour = hour
        self.minute = minute
    }

    // MARK: Command line

    /// Parses the words after the e-mail in `eventfilter digest EMAIL ...`:
    /// `off` (gives nil), `daily HH:MM`, `weekly DAY HH:MM`, `monthly N HH:MM`.
    /// Day names are English, full or three letters, in any case. Hours may have one digit (`8:00`).
    public static func parse(_ words: [String]) throws -> DigestSchedule? {
        let usage = "expected off, daily HH:MM, weekly DAY HH:MM or monthly N HH:MM"
        guard let first = words.first else { throw TimeError("missing digest schedule: \(usage)") }
        let arguments = Array(words.dropFirst())
        func expect(_ count: Int, _ form: String) throws {
            guard arguments.count == count else {
                let given = words.joined(separator: " ")
                throw TimeError("digest \(TimeError.quote(given)) is not of the form '\(form)'")
            }
        }
        switch first.lowercased() {
        case "off":
            try expect(0, "off")
            return nil
        case "daily":
            try expect(1, "daily HH:MM")
            let (hour, minute) = try parseClock(arguments[0])
            return try DigestSchedule(frequency: .daily, hour: hour, minute: minute)
        case "weekly":
            try expect(2, "weekly DAY HH:MM")
            let weekday = try parseWeekday(arguments[0])
            let (hour, minute) = try parseClock(arguments[1])
            return try DigestSchedule(frequency: .weekly(weekday: weekday), hour: hour, minute: minute)
        case "monthly":
            try expect(2, "monthly N HH:MM")
            let day = try parseMonthday(arguments[0])
            let (hour, minute) = try parseClock(arguments[1])
            return try DigestSchedule(frequency: .monthly(day: day), hour: hour, minute: minute)
        default:
            throw TimeError("unknown digest frequency \(TimeError.quote(first)): \(usage)")
        }
    }

    private static let weekdayNames = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

    private static func parseWeekday(_ word: String) throws -> Int {
        let lowered = word.lowercased()
        for (index, name) in weekdayNames.enumerated()
        where lowered == name.lowercased() || lowered == name.prefix(3).lowercased() {
            return index + 1
        }
        throw TimeError("unknown weekday \(TimeError.quote(word)) (expected Monday ... Sunday or Mon ... Sun)")
    }

    private static func parseMonthday(_ word: String) throws -> Int {
        guard let day = asciiNumber(word, maxDigits: 2), (1...31).contains(day) else {
            throw TimeError("monthly day must be 1-31, got \(TimeError.quote(word))")
        }
        return day
    }

    /// `H:MM` or `HH:MM`, 00:00 ... 23:59.
    private static func parseClock(_ word: String) throws -> (hour: Int, minute: Int) {
        let parts = word.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[1].utf8.count == 2,
              let hour = asciiNumber(parts[0], maxDigits: 2), let minute = asciiNumber(parts[1], maxDigits: 2),
              hour <= 23, minute <= 59
        else { throw TimeError("digest time \(TimeError.quote(word)) is not HH:MM") }
        return (hour, minute)
    }

    /// A number written with 1...maxDigits ASCII digits only (no sign, no spaces, no other scripts' digits).
    private static func asciiNumber<S: StringProtocol>(_ text: S, maxDigits: Int) -> Int? {
        let bytes = Array(text.utf8)
        guard (1...maxDigits).contains(bytes.count),
              bytes.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else { return nil }
        return bytes.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
    }

    // MARK: Due times

    /// The first send time at or after `instant` for a user in `zone`: the next local HH:MM on a
    /// matching day. Monthly day N is clamped to each month's own last day (31 -> Feb 28/29, Apr 30).
    /// Wall times in a spring-forward gap move forward by the gap; in a fall-back overlap the first
    /// occurrence counts (see `Zone.instant(of:in:)`), so every due day gives exactly one send time.
    public func nextSendTime(atOrAfter instant: Int64, in zone: TimeZone) -> Int64 {
        let local = Zone.local(instant, in: zone)
        // Start one day early: a gap just before midnight can push yesterday's send time past
        // midnight, and it may still lie ahead of `instant`.
        var day = firstDueDay(onOrAfter: Civil.days(year: local.year, month: local.month, day: local.day) - 1)
        while true {
            let date = Civil.date(days: day)
            let due = Zone.instant(
                of: LocalDateTime(year: date.year, month: date.month, day: date.day, hour: hour, minute: minute),
                in: zone)
            if due >= instant { return due }
            day = firstDueDay(onOrAfter: day + 1)
        }
    }

    /// The first day number on or after `day` on which a digest is due.
    private func firstDueDay(onOrAfter day: Int) -> Int {
        switch frequency {
        case .daily:
            return day
        case .weekly(let weekday):
            return day + (weekday - Civil.weekday(days: day) + 7) % 7
        case .monthly(let monthday):
            let date = Civil.date(days: day)
            let dueThisMonth = min(monthday, Civil.daysInMonth(year: date.year, month: date.month))
            if date.day <= dueThisMonth {
                return Civil.days(year: date.year, month: date.month, day: dueThisMonth)
            }
            let (year, month) = date.month == 12 ? (date.year + 1, 1) : (date.year, date.month + 1)
            return Civil.days(year: year, month: month, day: min(monthday, Civil.daysInMonth(year: year, month: month)))
        }
    }

    // MARK: Storage

    /// The columns a schedule is stored in: frequency `daily|weekly|monthly`, day (ISO weekday 1-7 or
    /// day of month 1-31, nil for daily) and minute of the local day (0...1439).
    public var storage: (frequency: String, day: Int?, minuteOfDay: Int) {
        switch frequency {
        case .daily: return ("daily", nil, hour * 60 + minute)
        case .weekly(let weekday): return ("weekly", weekday, hour * 60 + minute)
        case .monthly(let day): return ("monthly", day, hour * 60 + minute)
        }
    }

    /// Rebuilds a schedule from its stored columns; anything out of range throws rather than guessing.
    public init(storageFrequency: String, day: Int?, minuteOfDay: Int) throws {
        guard (0..<1440).contains(minuteOfDay) else {
            throw TimeError("stored digest minute of day must be 0-1439, got \(minuteOfDay)")
        }
        let frequency: Frequency
        switch (storageFrequency, day) {
        case ("daily", nil): frequency = .daily
        case ("weekly", let weekday?): frequency = .weekly(weekday: weekday)
        case ("monthly", let monthday?): frequency = .monthly(day: monthday)
        default:
            throw TimeError(
                "stored digest schedule \(TimeError.quote(storageFrequency)) with day \(day.map(String.init) ?? "none") is not valid")
        }
        try self.init(frequency: frequency, hour: minuteOfDay / 60, minute: minuteOfDay % 60)
    }

    /// `daily 08:00`, `weekly Monday 08:00`, `monthly 31 08:00`: the same words `parse` accepts.
    public var description: String {
        let clock = (hour < 10 ? "0\(hour)" : "\(hour)") + ":" + (minute < 10 ? "0\(minute)" : "\(minute)")
        switch frequency {
        case .daily: return "daily \(clock)"
        case .weekly(let weekday): return "weekly \(Self.weekdayNames[weekday - 1]) \(clock)"
        case .monthly(let day): return "monthly \(day) \(clock)"
        }
    }
}
