import Foundation

/// The file and line a setting was read from, for messages an operator can act on.
///
///     if let origin = notification.origin("RuleSettings", "LimitDeleteElements") {
///         print("LimitDeleteElements set at \(origin)")   // settings/override/notification.ini.append.php:4
///     }
public struct SettingOrigin: Sendable, Equatable, CustomStringConvertible {
    /// The path relative to the root, e.g. `settings/override/notification.ini.append.php`.
    public let file: String
    /// 1-based.
    public let line: Int

    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    public var description: String { "\(file):\(line)" }
}
