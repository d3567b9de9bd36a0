import Foundation

// Time is kept as Unix seconds (Int64) everywhere: the store, `--now`, digest due times.
// Civil-date arithmetic is done here by hand (Howard Hinnant's days-from-civil) and time zones are
// consulted only through `TimeZone.secondsFromGMT(for:)`: Calendar on Linux is slow and its DST
// rules for nonexistent and ambiguous wall times are not the ones the digest contract promises.

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
