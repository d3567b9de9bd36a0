import Foundation

/// One INI name (`notification.ini`, `site.ini`, ...) merged across every file that sets it, in
/// eZ Publish's order: `settings/`, the active extensions, then `settings/override/`.
///
/// Scalars hold the last value set; arrays hold every element appended since the last `Key[]`,
/// each with the file and line it came from.
///
///     let notification = try settings.file("notification.ini")
///     for (name, origin) in notification.arrayWithOrigins(
///             "NotificationEventHandlerSettings", "AvailableNotificationEventTypes") {
///         print(name, "from", origin)   // ezsubtree from settings/notification.ini:36
///     }
///     let limit = try notification.int("RuleSettings", "LimitDeleteElements") ?? 50
public struct SettingsFile: Sendable {
    /// The INI name, e.g. `notification.ini`.
    public let name: String
    /// The files that were read, in merge order, relative to the root.
    public let files: [String]
    private let document: INIDocument

    init(name: String, files: [String], document: INIDocument) {
        self.name = name
        self.files = files
        self.document = document
    }

    private func value(_ block: String, _ key: String) -> INIValue? {
        document.blocks[block]?[key]
    }

    /// The scalar value of `Key=value`, untrimmed as in eZ; `nil` when the key is absent or an array.
    public func string(_ block: String, _ key: String) -> String? {
        if case .scalar(let text, _)? = value(block, key) { return text }
        return nil
    }

    /// The values of an array, appended and named alike, in order; `[]` when absent.
    /// A scalar reads as a one-element array.
    public func array(_ block: String, _ key: String) -> [String] {
        arrayWithOrigins(block, key).map(\.value)
    }

    /// `array(_:_:)` with the file and line that set each element.
    public func arrayWithOrigins(_ block: String, _ key: String) -> [(value: String, origin: SettingOrigin)] {
        switch value(block, key) {
        case nil: return []
        case .scalar(let text, let origin)?: return [(text, origin)]
        case .list(let entries, _)?: return entries.map { ($0.value, $0.origin) }
        }
    }

    /// The `Key[name]=value` entries, in the order each name was first set (a later file that
    /// sets the same name again changes the value, not the position).
    public func hash(_ block: String, _ key: String) -> [(key: String, value: String)] {
        guard case .list(let entries, _)? = value(block, key) else { return [] }
        return entries.compactMap { entry in entry.name.map { ($0, entry.value) } }
    }

    /// Where the key was last set: for a scalar, the line of its current value; for an array,
    /// the last line that cleared it, appended to it or set one of its entries.
    public func origin(_ block: String, _ key: String) -> SettingOrigin? {
        value(block, key)?.lastChange
    }

    /// A switch: `enabled`, `true`, `yes`, `1` or `disabled`, `false`, `no`, `0`, empty
    /// (any case, surrounding whitespace ignored); `default` when the key is absent.
    /// Anything else throws an error naming the file and line.
    public func bool(_ block: String, _ key: String, default defaultValue: Bool) throws -> Bool {
        guard let (text, origin) = try scalar(block, key) else { return defaultValue }
        switch text.trimmingWhitespace.lowercased() {
        case "enabled", "true", "yes", "1": return true
        case "disabled", "false", "no", "0", "": return false
        default:
            throw SettingsError(at: origin, "[\(block)] \(key) must be enabled or disabled, not \"\(text.prefix(40))\"")
        }
    }

    /// A whole number, surrounding whitespace ignored; `nil` when the key is absent or empty
    /// (`Key=` means "not set", as eZ's own empty defaults do). Anything else throws an error
    /// naming the file and line.
    public func int(_ block: String, _ key: String) throws -> Int? {
        guard let (text, origin) = try scalar(block, key) else { return nil }
        let trimmed = text.trimmingWhitespace
        if trimmed.isEmpty { return nil }
        guard let number = Int(trimmed) else {
            throw SettingsError(at: origin, "[\(block)] \(key) must be a whole number, not \"\(text.prefix(40))\"")
        }
        return number
    }

    /// A scalar for the typed accessors, which must not quietly read one element of an array.
    private func scalar(_ block: String, _ key: String) throws -> (String, SettingOrigin)? {
        switch value(block, key) {
        case nil: return nil
        case .scalar(let text, let origin)?: return (text, origin)
        case .list(_, let origin)?:
            throw SettingsError(at: origin, "[\(block)] \(key) must be a single value (\(key)=...), not an array")
        }
    }

    /// Whether any file has a `[block]` header (or, for `""`, a setting before its first header).
    public func hasBlock(_ block: String) -> Bool {
        document.blocks[block] != nil
    }

    /// Every block, in the order the files first mention it.
    public var blockNames: [String] { document.blockOrder }

    /// The keys of a block, sorted; for listing a block such as `[Source-kaltura]`.
    public func keys(_ block: String) -> [String] {
        document.blocks[block].map { $0.keys.sorted() } ?? []
    }
}
