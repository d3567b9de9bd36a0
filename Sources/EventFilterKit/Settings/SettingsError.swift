import Foundation

/// A settings file that cannot be read or means nothing usable: a malformed line, a value of the
/// wrong kind, an unreadable file. The description is one line that starts with `file:line:`.
///
///     do { _ = try settings.file("notification.ini") }
///     catch let error as SettingsError { print(error) }
///     // settings/override/notification.ini.append.php:3: malformed line "Key = …": no spaces are allowed around '='
public struct SettingsError: Error, CustomStringConvertible, Sendable {
    /// The path relative to the root.
    public let file: String
    /// 1-based, when the problem is on one line.
    public let line: Int?
    public let message: String

    public init(file: String, line: Int?, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    /// An error about the value set at `origin`, for callers that interpret settings
    /// (a handler name that resolves to nothing, an unknown transport, ...).
    public init(at origin: SettingOrigin, _ message: String) {
        self.init(file: origin.file, line: origin.line, message: message)
    }

    public var description: String {
        let place = line.map { "\(file):\($0)" } ?? file
        // One line, whatever the message carries.
        let text = message.split(whereSeparator: \.isNewline).joined(separator: " ")
        return "\(place): \(text)"
    }
}
