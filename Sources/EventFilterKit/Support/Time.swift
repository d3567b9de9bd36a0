import Foundation

// Time is kept as Unix seconds (Int64) everywhere: the store, `--now`, digest due times.
// Civil-date arithmetic is done here by hand (Howard Hinnant's days-from-civil) and time zones are
// consulted only through `TimeZone.secondsFromGMT(for:)`: Calendar on Linux is slow and its DST
// rules for nonexistent and ambiguous wall times are not the ones the digest contract promises.

/// A one-line error about a time, a time zone or a digest schedule, quoting the input it rejects.
///
///     do { _ = try Timestamp.parse("yesterday") } catch let error as TimeError { print(error) }
///     // invalid time 'yesterday': expected ISO 8601 like 2026-03-29T06:00:00Z or 2026-03-29T08:00:00+02:00
public struct TimeError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }

    /// Quotes user input for a one-line message: control characters escaped, long input shortened.
    static func quote(_ text: String) -> String {
        var shown = ""
        for scalar in text.unicodeScalars.prefix(80) {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                shown += scalar.escaped(asASCII: true)
            } else {
                shown.unicodeScalars.append(scalar)
            }
        }
        if text.unicodeScalars.count > 80 { shown += "..." }
        return "'\(shown)'"
    }
}

/// Unix seconds helpers: parsing `--now`, formatting for logs, JSON and mail `Date` headers.
///
///     let now = try Timestamp.parse("2026-03-29T08:00:00+02:00")   // 1774764000
///     Timestamp.iso8601(now)                                        // "2026-03-29T06:00:00Z"
///     Timestamp.rfc5322(now)                                        // "Sun, 29 Mar 2026 06:00:00 +0000"
public enum Timestamp {
    /// Parses ISO 8601 / RFC 3339 with an offset or `Z`: `2026-03-29T06:00:00Z`, `2026-03-29T08:00:00+02:00`,
    /// `2026-03-29T06:00Z` (seconds optional). Fractional seconds (`.123`) are allowed and truncated.
    /// Offsets may be written `+02:00`, `+0200` or `+02`. A time without an offset is rejected: the
    /// machine's zone must never decide when a digest goes out.
    public static func parse(_ text: String) throws -> Int64 {
        var scanner = Scanner(bytes: Array(text.utf8))
        let garbage = TimeError(
            "invalid time \(TimeError.quote(text)): expected ISO 8601 like 2026-03-29T06:00:00Z or 2026-03-29T08:00:00+02:00")
        guard let year = scanner.digits(4), scanner.take(UInt8(ascii: "-")),
              let month = scanner.digits(2), scanner.take(UInt8(ascii: "-")),
              let day = scanner.digits(2),
              scanner.take(UInt8(ascii: "T")) || scanner.take(UInt8(ascii: "t")),
              let hour = scanner.digits(2), scanner.take(UInt8(ascii: ":")),
              let minute = scanner.digits(2)
        else { throw garbage }
        var second = 0
        if scanner.take(UInt8(ascii: ":")) {
            guard let value = scanner.digits(2) else { throw garbage }
            second = value
            if scanner.take(UInt8(ascii: ".")) || scanner.take(UInt8(ascii: ",")) {
                guard scanner.skipDigits() > 0 else { throw garbage }
            }
        }
        let offset: Int
        if scanner.atEnd {
            throw TimeError("time \(TimeError.quote(text)) has no UTC offset: add Z or an offset like +02:00")
        } else if scanner.take(UInt8(ascii: "Z")) || scanner.take(UInt8(ascii: "z")) {
            offset = 0
        } else {
            let sign: Int
            if scanner.take(UInt8(ascii: "+")) {
                sign = 1
            } else if scanner.take(UInt8(ascii: "-")) {
                sign = -1
            } else {
                throw garbage
            }
            guard let offsetHours = scanner.digits(2) else { throw garbage }
            var offsetMinutes = 0
            if scanner.take(UInt8(ascii: ":")) {
                guard let value = scanner.digits(2) else { throw garbage }
                offsetMinutes = value
            } else if !scanner.atEnd {
                guard let value = scanner.digits(2) else { throw garbage }
                offsetMinutes = value
            }
            guard offsetHours <= 23, offsetMinutes <= 59 else {
                throw TimeError("invalid time \(TimeError.quote(text)): offset out of range")
            }
            offset = sign * (offsetHours * 3600 + offsetMinutes * 60)
        }
        guard scanner.atEnd else { throw garbage }
        guard (1...12).contains(month), (1...Civil.daysInMonth(year: year, month: month)).contains(day) else {
            throw TimeError("invalid time \(TimeError.quote(text)): no such date")
        }
        guard hour <= 23, minute <= 59, second <= 59 else {
            throw TimeError("invalid time \(TimeError.quote(text)): time of day out of range")
        }
        let days = Civil.days(year: year, month: month, day: day)
        return Int64(days) * 86400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offset)
    }

    /// `2026-03-29T06:00:00Z`: UTC, whole seconds.
    public static func iso8601(_ seconds: Int64) -> String {
        let (days, secondOfDay) = Civil.split(seconds)
        let date = Civil.date(days: days)
        var out: [UInt8] = []
        out.reserveCapacity(20)
        appendYear(&out, date.year)
        out.append(UInt8(ascii: "-"))
        appendTwoDigits(&out, date.month)
        out.append(UInt8(ascii: "-"))
        appendTwoDigits(&out, date.day)
        out.append(UInt8(ascii: "T"))
        appendClock(&out, secondOfDay)
        out.append(UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }

    /// `Sun, 29 Mar 2026 06:00:00 +0000`: the RFC 5322 `Date` header form, in UTC.
    /// Built by hand because a DateFormatter per message costs more than composing the message.
    public static func rfc5322(_ seconds: Int64) -> String {
        let (days, secondOfDay) = Civil.split(seconds)
        let date = Civil.date(days: days)
        var out: [UInt8] = []
        out.reserveCapacity(31)
        out.append(contentsOf: weekdayAbbreviations[Civil.weekday(days: days) - 1].utf8)
        out.append(contentsOf: ", ".utf8)
        appendTwoDigits(&out, date.day)
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: monthAbbreviations[date.month - 1].utf8)
        out.append(UInt8(ascii: " "))
        appendYear(&out, date.year)
        out.append(UInt8(ascii: " "))
        appendClock(&out, secondOfDay)
        out.append(contentsOf: " +0000".utf8)
        return String(decoding: out, as: UTF8.self)
    }

    /// The current time in whole Unix seconds (rounded down).
    public static func now() -> Int64 {
        Int64(Date().timeIntervalSince1970.rounded(.down))
    }

    private static let weekdayAbbreviations = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    private static let monthAbbreviations = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]

    private static func appendTwoDigits(_ out: inout [UInt8], _ value: Int) {
        out.append(UInt8(ascii: "0") + UInt8(value / 10))
        out.append(UInt8(ascii: "0") + UInt8(value % 10))
    }

    private static func appendYear(_ out: inout [UInt8], _ year: Int) {
        if year < 0 { out.append(UInt8(ascii: "-")) }
        let digits = Array(String(abs(year)).utf8)
        if digits.count < 4 { out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: 4 - digits.count)) }
        out.append(contentsOf: digits)
    }

    private static func appendClock(_ out: inout [UInt8], _ secondOfDay: Int) {
        appendTwoDigits(&out, secondOfDay / 3600)
        out.append(UInt8(ascii: ":"))
        appendTwoDigits(&out, secondOfDay / 60 % 60)
        out.append(UInt8(ascii: ":"))
        appendTwoDigits(&out, secondOfDay % 60)
    }

    /// A cursor over ASCII bytes for the fixed-layout ISO 8601 grammar.
    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { index == bytes.count }

        mutating func take(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        /// Exactly `count` ASCII digits as a number, or nil (consuming nothing).
        mutating func digits(_ count: Int) -> Int? {
            guard index + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index..<index + count] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            index += count
            return value
        }

        /// Skips a run of ASCII digits and says how many there were.
        mutating func skipDigits() -> Int {
            let start = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            return index - start
        }
    }
}

/// A wall-clock date and time, without a zone: what a clock on the user's wall shows.
///
///     let local = Zone.local(1774764000, in: try Zone.named("Europe/Oslo"))
///     // LocalDateTime(year: 2026, month: 3, day: 29, hour: 8, minute: 0, second: 0); local.weekday == 7 (Sunday)
public struct LocalDateTime: Equatable, Sendable, CustomStringConvertible {
    public var year: Int
    public var month: Int
    public var day: Int
    public var hour: Int
    public var minute: Int
    public var second: Int

    public init(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
    }

    /// ISO weekday: 1 = Monday ... 7 = Sunday.
    public var weekday: Int {
        Civil.weekday(days: Civil.days(year: year, month: month, day: day))
    }

    /// `2026-03-29 08:00:00`
    public var description: String {
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(year)-\(two(month))-\(two(day)) \(two(hour)):\(two(minute)):\(two(second))"
    }

    /// Seconds since 1970-01-01 00:00 of this wall time read as if it were UTC.
    var wallSeconds: Int64 {
        Int64(Civil.days(year: year, month: month, day: day)) * 86400
            + Int64(hour * 3600 + minute * 60 + second)
    }

    init(wallSeconds: Int64) {
        let (days, secondOfDay) = Civil.split(wallSeconds)
        let date = Civil.date(days: days)
        self.init(year: date.year, month: date.month, day: date.day,
                  hour: secondOfDay / 3600, minute: secondOfDay / 60 % 60, second: secondOfDay % 60)
    }
}

/// IANA time zones and the mapping between instants and local wall times.
///
///     let oslo = try Zone.named("Europe/Oslo")
///     Zone.instant(of: LocalDateTime(year: 2026, month: 3, day: 29, hour: 2, minute: 30), in: oslo)
///     // 02:30 does not exist that night (02:00 -> 03:00): 03:30 CEST = 2026-03-29T01:30:00Z
public enum Zone {
    /// An IANA zone such as `Europe/Oslo`, `America/Argentina/Buenos_Aires` or `UTC`.
    /// Abbreviations (`PST`, `CET`, `EST`) and raw offsets (`GMT+2`) are refused: they either name no
    /// daylight-saving rules at all or name them ambiguously, and a user would get digests an hour off.
    public static func named(_ identifier: String) throws -> TimeZone {
        let isRegionName = identifier.contains("/") && !identifier.hasPrefix("/") && !identifier.hasSuffix("/")
        guard isRegionName || identifier == "UTC" || identifier == "GMT",
              let zone = TimeZone(identifier: identifier)
        else {
            throw TimeError("unknown time zone \(TimeError.quote(identifier)) (expected an IANA name like Europe/Oslo or UTC)")
        }
        return zone
    }

    /// The instant at which clocks in `zone` show `local`.
    ///
    /// A wall time skipped by a spring-forward gap is moved forward by the length of the gap (02:30 in a
    /// 02:00 -> 03:00 gap gives 03:30 local), so a digest due then goes out as soon as that day allows.
    /// A wall time that occurs twice in a fall-back overlap gives the first (earlier) instant, so it is
    /// sent once, not twice.
    public static func instant(of local: LocalDateTime, in zone: TimeZone) -> Int64 {
        let wall = local.wallSeconds
        // Any offset change near `wall` is bracketed by the offsets a day either side of it
        // (offsets are within ±1 day, and zones do not change offset twice within two days).
        let before = offset(at: wall - 86400, in: zone)
        let after = offset(at: wall + 86400, in: zone)
        var earliest: Int64?
        for candidate in before == after ? [before] : [before, after] {
            let instant = wall - candidate
            if offset(at: instant, in: zone) == candidate {
                earliest = min(earliest ?? instant, instant)
            }
        }
        // No offset maps back onto `wall`: it lies in a gap. Reading it with the offset from before the
        // gap lands the same distance past the gap's end.
        return earliest ?? wall - before
    }

    /// The wall time in `zone` at `instant`.
    public static func local(_ instant: Int64, in zone: TimeZone) -> LocalDateTime {
        LocalDateTime(wallSeconds: instant + offset(at: instant, in: zone))
    }

    static func offset(at instant: Int64, in zone: TimeZone) -> Int64 {
        Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant))))
    }
}

/// Proleptic Gregorian calendar arithmetic on day numbers (days since 1970-01-01), after Howard Hinnant's
/// `days_from_civil` / `civil_from_days`. Exact for any Int range we meet, no tables, no Calendar.
enum Civil {
    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146097 + dayOfEra - 719468
    }

    static func date(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let dayOfEra = z - era * 146097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func isLeapYear(_ year: Int) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// ISO weekday of a day number: 1 = Monday ... 7 = Sunday (1970-01-01 was a Thursday).
    static func weekday(days: Int) -> Int {
        let zeroBased = (days + 3) % 7
        return (zeroBased < 0 ? zeroBased + 7 : zeroBased) + 1
    }

    /// Unix seconds into a day number and the second of that day, rounding toward the past.
    static func split(_ seconds: Int64) -> (days: Int, secondOfDay: Int) {
        var days = seconds / 86400
        var rest = seconds % 86400
        if rest < 0 {
            days -= 1
            rest += 86400
        }
        return (Int(days), Int(rest))
    }
}
