import Foundation

/// `eventfilter status --check`: a monitoring plugin in the Nagios/Icinga convention. The first
/// line is `EVENTFILTER OK|WARNING|CRITICAL|UNKNOWN - summary | perfdata`; the exit status is
/// 0, 1, 2 or 3.
///
/// Critical: settings a run would refuse (`eventfilter check`'s errors), failed mail nobody
/// acknowledged (`mail ack`), a failing handler, a last run that failed, died, or has not
/// finished after `MaxRunTime`. Warning: mail deferred longer than
/// `WarnDeferredAfter`, events a handler gave up on, no run recorded yet.
///
///     let check = try HealthCheck.evaluate(store: store, settings: settings, now: now)
///     print(check.line); exit(check.state.rawValue)
public struct HealthCheck: Sendable {
    public enum State: Int32, Sendable {
        case ok = 0, warning = 1, critical = 2, unknown = 3
        var label: String {
            switch self {
            case .ok: return "OK"
            case .warning: return "WARNING"
            case .critical: return "CRITICAL"
            case .unknown: return "UNKNOWN"
            }
        }
    }

    public let state: State
    public let summary: String
    public let perfdata: String

    /// The plugin's one line. A `|` starts the performance data in this convention, so one in the
    /// summary (a server's reply, a handler's error) is shown as `/`; a line break (a handler's
    /// output quoted in its error) is a space, or the monitor would read a second line as output
    /// of its own.
    public var line: String {
        let text = String(String.UnicodeScalarView(summary.unicodeScalars.map {
            $0 == "|" ? "/" : $0.properties.generalCategory == .control || $0 == "\u{2028}" || $0 == "\u{2029}" ? " " : $0
        }))
        return "EVENTFILTER \(state.label) - \(text)" + (perfdata.isEmpty ? "" : " | \(perfdata)")
    }

    /// When the check itself cannot tell (not an installation, a store it cannot read).
    public static func unknown(_ reason: String) -> HealthCheck {
        HealthCheck(state: .unknown, summary: reason.split(whereSeparator: \.isNewline).joined(separator: " "), perfdata: "")
    }

    public static func evaluate(store: Store, settings: Settings, now: Int64) throws -> HealthCheck {
        let settingsErrors = SettingsCheck(root: settings.root, settings: settings).errors()
        // Settings a run refuses (a malformed line, a bad threshold) are what the check must
        // report, as CRITICAL like any other refused setting: the thresholds fall back to their
        // defaults rather than making the whole check UNKNOWN.
        let limits: MonitorSettings
        do { limits = try MonitorSettings.load(settings) } catch where !settingsErrors.isEmpty { limits = MonitorSettings() }
        let configured = try? HandlerRegistry.describe(settings: settings, root: settings.root).map(\.name)
        var status = try store.status(now: now, handlers: configured)
        status.settingsErrors = settingsErrors
        let deferredLong = try store.deferredMailCount(createdAtOrBefore: now - limits.warnDeferredAfter)
        return evaluate(status: status, deferredTooLong: deferredLong, limits: limits, now: now)
    }

    static func evaluate(status: StatusReport, deferredTooLong: Int, limits: MonitorSettings, now: Int64) -> HealthCheck {
        var critical: [String] = []
        var warning: [String] = []
        if let first = status.settingsErrors.first {
            let more = status.settingsErrors.count > 1 ? " (and \(status.settingsErrors.count - 1) more; see eventfilter check)" : ""
            critical.append("settings error, runs refuse to start: \(first.prefix(200))\(more)")
        }
        if status.unacknowledgedFailed > 0 {
            critical.append("\(count(status.unacknowledgedFailed, "failed message")) not acknowledged")
        }
        for handler in status.failingHandlers {
            critical.append("handler \(handler.handler) failing: \(handler.lastError.prefix(120))")
        }
        if let started = status.lastRunStarted {
            if status.lastRunFinished == nil {
                let pid = status.lastRunPID.map { " (pid \($0))" } ?? ""
                if !status.lastRunAlive {
                    critical.append("the run started \(Timestamp.iso8601(started))\(pid) died without finishing")
                } else if now - started > limits.maxRunTime {
                    critical.append("the run started \(Timestamp.iso8601(started))\(pid) has not finished after \(duration(now - started))")
                }
            } else if let error = status.lastRunError {
                critical.append("last run failed: \(error.prefix(160))")
            }
        } else {
            warning.append("no run recorded yet")
        }
        if deferredTooLong > 0 {
            warning.append("\(count(deferredTooLong, "message")) deferred longer than \(duration(limits.warnDeferredAfter))")
        }
        for (handler, events) in status.gaveUp.sorted(by: { $0.key < $1.key }) {
            warning.append("handler \(handler) gave up on \(count(events, "event"))")
        }
        let state: State = !critical.isEmpty ? .critical : !warning.isEmpty ? .warning : .ok
        let mail = status.outbox
        var summary = (critical + warning).joined(separator: "; ")
        if summary.isEmpty {
            let last = status.lastRunFinished.map { "last run \(Timestamp.iso8601($0))" } ?? "run in progress"
            summary = "\(last); \(mail.queued) queued, \(mail.deferred) deferred, \(mail.failed) failed"
        }
        let perfdata = [
            "unhandled=\(status.unhandledDue)", "queued=\(mail.queued)", "deferred=\(mail.deferred)",
            "deferred_too_long=\(deferredTooLong)", "failed=\(mail.failed)", "failed_unacknowledged=\(status.unacknowledgedFailed)",
            "failing_handlers=\(status.failingHandlers.count)", "digest_items=\(status.digestItems)",
        ].joined(separator: " ")
        return HealthCheck(state: state, summary: summary, perfdata: perfdata)
    }

    private static func count(_ number: Int, _ noun: String) -> String {
        "\(number) \(noun)\(number == 1 ? "" : "s")"
    }

    static func duration(_ seconds: Int64) -> String {
        if seconds % 3600 == 0 { return "\(seconds / 3600) h" }
        if seconds >= 3600 { return "\(seconds / 3600) h \(seconds % 3600 / 60) min" }
        if seconds % 60 == 0 { return "\(seconds / 60) min" }
        return "\(seconds) s"
    }
}
