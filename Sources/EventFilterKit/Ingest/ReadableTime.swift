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
        let (days, secondOfDay) = Civil.split(seconds)
        let date = Civil.date(days: days)
        let hour = secondOfDay / 3600, minute = secondOfDay % 3600 / 60
        let clock = (hour < 10 ? "0" : "") + "\(hour):" + (minute < 10 ? "0" : "") + "\(minute)"
        return "\(weekdays[Civil.weekday(days: days) - 1]) \(date.day) \(months[date.month - 1]) \(date.year), \(clock) UTC"
    }

    /// Adds `<name>_time` (ISO 8601, UTC) and `<name>_text` (as `text`) for each unix-seconds field
    /// (`start_date` gives `start_time` and `start_text`), keeping the raw fields.
    static func addDerivedTimes(to params: inout [String: JSONValue], fields: [(field: String, name: String)]) {
        for (field, name) in fields {
            guard let seconds = WebhookParsing.unixTime(params[field]) else { continue }
            params["\(name)_time"] = .string(Timestamp.iso8601(seconds))
            params["\(name)_text"] = .string(text(seconds))
        }
    }
}
