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
