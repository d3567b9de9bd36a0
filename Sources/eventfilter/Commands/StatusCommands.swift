import EventFilterKit
import Foundation

struct StatusCommand: Command {
    static let words = ["status"]
    static let abstract = "Show queue depths, the digest backlog, failing handlers, deferred and failed mail, and the last run."
    static let json = Flag("json", help: "the same as one JSON object")
    static let check = Flag("check", help: "a monitoring plugin (Nagios/Icinga): one line, exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN")
    static let parameters: [any Parameter] = [json, check]
    static let exclusive = [ExclusiveGroup([json, check])]
    static let discussion = """
        With --check, the line is 'EVENTFILTER OK|WARNING|CRITICAL|UNKNOWN - summary | perfdata'.
        CRITICAL: settings a run would refuse ('eventfilter check'), failed mail not acknowledged
        ('mail ack'), a failing handler, the last run failed, died, or has not finished after
        [EventFilterSettings] MaxRunTime (3600 s).
        WARNING: mail deferred longer than WarnDeferredAfter (3600 s), events a handler gave up on,
        no run recorded yet. UNKNOWN: the check cannot tell (not an installation, a store it cannot read;
        settings a run refuses, even a malformed line, are CRITICAL).
        """

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        if arguments[check] {
            let result: HealthCheck
            do {
                result = try HealthCheck.evaluate(store: try context.store(.readOnly), settings: try context.settings(), now: context.now)
            } catch {
                result = HealthCheck.unknown(ErrorReport.message(error))
            }
            Output.line(result.line)
            exit(result.state.rawValue)
        }
        let settings = try context.settings()
        let configured = try? HandlerRegistry.describe(settings: settings, root: context.root).map(\.name)
        var status = try context.store(.readOnly).status(now: context.now, handlers: configured)
        status.settingsErrors = SettingsCheck(root: context.root, settings: settings).errors()
        if arguments[json] {
            Output.line(status.json.serialized)
            return
        }
        func time(_ value: Int64?) -> String { value.map(Timestamp.iso8601) ?? "-" }
        if let first = status.settingsErrors.first {
            let more = status.settingsErrors.count > 1 ? " (and \(status.settingsErrors.count - 1) more)" : ""
            Output.line("settings: runs refuse to start: \(first)\(more); see eventfilter check")
        }
        Output.line("events:   \(status.unhandledDue) unhandled, \(status.waiting) waiting (next \(time(status.nextWaiting)))")
        for failing in status.failingHandlers {
            // One line: an error may quote a handler's output, line breaks and all.
            let error = failing.lastError.split(whereSeparator: \.isNewline).joined(separator: " ")
            Output.line("handler:  \(failing.handler) failing for \(failing.events) events: \(error)")
            var details: [String] = []
            if let since = failing.failingSince { details.append("failing since \(time(since))") }
            if let next = failing.nextAttempt { details.append("next attempt \(time(next))") }
            if let gaveUp = status.gaveUp[failing.handler] { details.append("gave up on \(gaveUp) events") }
            if !details.isEmpty { Output.line("          \(details.joined(separator: ", "))") }
            for stderrLine in failing.stderrTail.split(whereSeparator: \.isNewline) { Output.line("          | \(stderrLine)") }
        }
        for (handler, events) in status.gaveUp.sorted(by: { $0.key < $1.key })
            where !status.failingHandlers.contains(where: { $0.handler == handler }) {
            Output.line("handler:  \(handler) gave up on \(events) events")
        }
        Output.line("digests:  \(status.digestItems) items for \(status.digestUsers) users (next \(time(status.nextDigest)))")
        let mail = status.outbox
        Output.line("mail:     \(mail.queued) queued, \(mail.deferred) deferred (oldest \(time(mail.oldestDeferred))), "
            + "\(mail.failed) failed (\(status.unacknowledgedFailed) not acknowledged), \(status.cancelled) cancelled, \(mail.sent) sent")
        let pid = status.lastRunPID.map { "pid \($0)" } ?? "pid unknown"
        let last = status.lastRunStarted.map { started in
            let state = status.runInProgress ? " in progress (\(pid))"
                : status.lastRunFinished == nil ? " did not finish (\(pid) is gone)"
                : status.lastRunError != nil ? " failed" : ""
            return "\(Timestamp.iso8601(started))" + state + (status.lastRunError.map { ": \($0)" } ?? "")
        } ?? "never"
        Output.line("last run: \(last)")
    }
}

struct HandlersCommand: Command {
    static let words = ["handlers"]
    static let abstract = "List the handlers notification.ini resolves to, in processing order, and where each was found."

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let handlers = try HandlerRegistry.describe(settings: try context.settings(), root: context.root)
        let width = handlers.map(\.name.count).max() ?? 0
        for (index, handler) in handlers.enumerated() {
            let name = handler.name.padding(toLength: width, withPad: " ", startingAt: 0)
            Output.line("\(index + 1). \(name)  \(handler.location)  (listed in \(handler.listedAt))")
        }
    }
}
