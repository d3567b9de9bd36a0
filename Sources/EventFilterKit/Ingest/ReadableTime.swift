/// Times a person reads in a mail, derived at intake from the unix seconds senders send.
///
///     ReadableTime.text(1_767_258_000)   // "Thursday 1 January 2026, 09:00 UTC"
///
/// A message is rendered once for all its recipients, whatever their time zones, so the text
/// says UTC plainly rather than guessing a zone.
enum ReadableTime {
    private static let weekdays = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    private static let months = [
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ]

    static func text(_ seconds: Int64) -> String {
        let days = Civil.split(seconds).days
        let date = Civil.date(days: days)
        return "\(weekdays[Civil.weekday(days: days) - 1]) \(date.day) \(months[date.month - 1]) \(date.year), \(clock(seconds))"
    }

    /// `09:00 UTC`: enough in a reminder that arrives minutes before.
    static func clock(_ seconds: Int64) -> String {
        let secondOfDay = Civil.split(seconds).secondOfDay
        let hour = secondOfDay / 3600, minute = secondOfDay % 3600 / 60
        return (hour < 10 ? "0" : "") + "\(hour):" + (minute < 10 ? "0" : "") + "\(minute) UTC"
    }

    /// Adds `<name>_time` (ISO 8601, UTC), `<name>_text` (as `text`) and `<name>_clock` (as `clock`)
    /// for each unix-seconds field (`start_date` gives `start_time`, `start_text`, `start_clock`),
    /// keeping the raw fields.
    static func addDerivedTimes(to params: inout [String: JSONValue], fields: [(field: String, name: String)]) {
        for (field, name) in fields {
            guard let seconds = WebhookParsing.unixTime(params[field]) else { continue }
            params["\(name)_time"] = .string(Timestamp.iso8601(seconds))
            params["\(name)_text"] = .string(text(seconds))
            params["\(name)_clock"] = .string(clock(seconds))
        }
    }
}
