/// The thresholds of monitoring, from notification.ini `[EventFilterSettings]`, in seconds.
///
///     let limits = try MonitorSettings.load(settings)
///     if age > limits.warnDeferredAfter { ... }
public struct MonitorSettings: Sendable {
    /// `WarnDeferredAfter`: mail deferred longer than this is a problem (3600).
    public var warnDeferredAfter: Int64 = 3600
    /// `MaxRunTime`: a run not finished after this long is critical in `status --check` (3600).
    public var maxRunTime: Int64 = 3600
    /// `HandlerGiveUpAfter`: a custom handler that still fails on an event this old gives up on it (5 days).
    public var handlerGiveUpAfter: Int64 = 5 * 86_400

    public init() {}

    public static func load(_ settings: Settings) throws -> MonitorSettings {
        let notification = try settings.file("notification.ini")
        var result = MonitorSettings()
        let block = "EventFilterSettings"
        for (key, path) in [("WarnDeferredAfter", \MonitorSettings.warnDeferredAfter), ("MaxRunTime", \.maxRunTime),
                            ("HandlerGiveUpAfter", \.handlerGiveUpAfter)] {
            guard let value = try notification.int(block, key) else { continue }
            guard value > 0 else {
                throw SettingsError(at: notification.origin(block, key)!, "[\(block)] \(key) must be a positive number of seconds, got \(value)")
            }
            result[keyPath: path] = Int64(value)
        }
        return result
    }
}
