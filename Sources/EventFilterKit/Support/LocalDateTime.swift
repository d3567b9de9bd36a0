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
