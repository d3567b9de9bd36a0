import Foundation

/// Times as a reader reads them: in the reader's own time zone, with the zone named, so a
/// reader in Oslo and one in Chicago each see their own clock and nobody has to convert.
///
/// Content is rendered once per event and shared by all its recipients, so a time inside it is
/// written as a placeholder (`placeholder(_:style:)`); the composer replaces the placeholders
/// with each recipient's local time (`substitute(in:zone:)`), which costs one scan of text that
/// holds a time and nothing for text that holds none.
///
///     let oslo = try Zone.named("Europe/Oslo")
///     LocalTimeText.full(1_764_577_020, zone: oslo, zoneName: "Europe/Oslo")
///     // "Monday 1 December 2025, 09:17 (Europe/Oslo)"
///     let text = "Starts " + LocalTimeText.placeholder(1_764_577_020, style: .clock)
///     LocalTimeText.substitute(in: text, zone: oslo, zoneName: "Europe/Oslo")   // "Starts 09:17 (Europe/Oslo)"
public enum LocalTimeText {
    public enum Style: Character, Sendable {
        /// `Tuesday 1 December 2026, 09:17 (Europe/Berlin)`
        case full = "F"
        /// `09:17 (Europe/Berlin)`: for a reminder that arrives the same day.
        case clock = "C"
        /// `Tuesday 1 December 2026`
        case date = "D"
    }

    /// Private-use characters: no sender's text has a reason to contain them, and any that a
    /// value brings in is removed before rendering (`strippingMarkers`), so only the run's own
    /// placeholders are ever substituted.
    static let open: Character = "\u{E000}"
    static let close: Character = "\u{E001}"

    private static let weekdays = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    private static let months = [
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ]

    public static func full(_ seconds: Int64, zone: TimeZone, zoneName: String) -> String {
        format(seconds, style: .full, zone: zone, zoneName: zoneName)
    }

    public static func format(_ seconds: Int64, style: Style, zone: TimeZone, zoneName: String) -> String {
        let local = Zone.local(seconds, in: zone)
        let date = "\(weekdays[local.weekday - 1]) \(local.day) \(months[local.month - 1]) \(local.year)"
        let clock = (local.hour < 10 ? "0" : "") + "\(local.hour):" + (local.minute < 10 ? "0" : "") + "\(local.minute)"
        // In the hour repeated when clocks go back, one wall time names two instants: the
        // offset tells them apart ("02:30 (Europe/Oslo, UTC+02:00)", then "... UTC+01:00").
        let zoneText = isRepeatedWallTime(seconds, in: zone) ? "\(zoneName), \(offsetText(Zone.offset(at: seconds, in: zone)))" : zoneName
        switch style {
        case .full: return "\(date), \(clock) (\(zoneText))"
        case .clock: return "\(clock) (\(zoneText))"
        case .date: return date
        }
    }

    /// Whether the wall time at `seconds` also occurs at another instant: another offset in
    /// force within six hours (longer than any daylight-saving shift) maps to the same wall time.
    static func isRepeatedWallTime(_ seconds: Int64, in zone: TimeZone) -> Bool {
        let offset = Zone.offset(at: seconds, in: zone)
        let wall = seconds + offset
        for neighbour in [seconds - 21_600, seconds + 21_600] {
            let other = Zone.offset(at: neighbour, in: zone)
            guard other != offset else { continue }
            let instant = wall - other
            if instant != seconds && Zone.offset(at: instant, in: zone) == other { return true }
        }
        return false
    }

    /// `UTC+02:00`, `UTC-05:00`, `UTC+05:45`.
    static func offsetText(_ offset: Int64) -> String {
        let minutes = abs(offset) / 60
        let hours = minutes / 60, rest = minutes % 60
        return "UTC" + (offset < 0 ? "-" : "+") + (hours < 10 ? "0" : "") + "\(hours):" + (rest < 10 ? "0" : "") + "\(rest)"
    }

    /// A stand-in for `seconds`, written in the reader's zone when the message is composed.
    public static func placeholder(_ seconds: Int64, style: Style) -> String {
        "\(open)\(style.rawValue)\(seconds)\(close)"
    }

    /// Whether `text` holds a placeholder (cheap: the composer skips text without one).
    static func hasPlaceholder(_ text: String) -> Bool {
        // U+E000 is EE 80 80 in UTF-8: a byte scan finds the lead byte without decoding.
        text.utf8.contains(0xEE) && text.unicodeScalars.contains("\u{E000}")
    }

    /// `text` with its placeholders written in `zone`. A malformed placeholder is dropped.
    public static func substitute(in text: String, zone: TimeZone, zoneName: String) -> String {
        guard hasPlaceholder(text) else { return text }
        var result = ""
        result.reserveCapacity(text.utf8.count + 32)
        var rest = Substring(text)
        while let start = rest.firstIndex(of: open) {
            result += rest[..<start]
            let afterOpen = rest.index(after: start)
            guard let end = rest[afterOpen...].firstIndex(of: close) else {
                rest = rest[afterOpen...]
                continue
            }
            let body = rest[afterOpen..<end]
            if let styleCharacter = body.first, let style = Style(rawValue: styleCharacter),
               let seconds = Int64(body.dropFirst()) {
                result += format(seconds, style: style, zone: zone, zoneName: zoneName)
            }
            rest = rest[rest.index(after: end)...]
        }
        result += rest
        return result
    }

    /// `text` without placeholder markers, for values that come from outside (events, handlers).
    static func strippingMarkers(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0 == "\u{E000}" || $0 == "\u{E001}" }) else { return text }
        return String(String.UnicodeScalarView(text.unicodeScalars.filter { $0 != "\u{E000}" && $0 != "\u{E001}" }))
    }
}
