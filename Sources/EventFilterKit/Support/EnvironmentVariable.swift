#if canImport(Glibc)
    import Glibc
#endif

/// One environment variable, read on its own.
///
///     let timeout = EnvironmentVariable.value("EVENTFILTER_BUSY_TIMEOUT_MS")   // nil when unset
///
/// Foundation's `ProcessInfo.processInfo.environment` copies the whole environment into a new
/// dictionary on every access; a process that looks up one setting a few times while it starts
/// (every cron `run`) paid for that copy each time.
public enum EnvironmentVariable {
    /// The variable's value as the process received it, or nil when it is not set.
    public static func value(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}
