import EventFilterKit
import Foundation

struct StatusCommand: Command {
    static let words = ["status"]
    static let usage = "status [--json] [--check]"
    static let abstract = "Show queue depths, the digest backlog, failing handlers, deferred and failed mail, and the last run."
    static let discussion = """
          --json    the same as JSON
          --check   a monitoring plugin (Nagios/Icinga): one line 'EVENTFILTER OK|WARNING|CRITICAL - summary | perfdata',
                    exit status 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (cannot tell).
                    CRITICAL: failed mail not acknowledged ('mail ack'), a failing handler, the last run failed,
                    died, or has not finished after [EventFilterSettings] MaxRunTime (3600 s).
                    WARNING: mail deferred longer than WarnDeferredAfter (3600 s), events a handler gave up on.
        """
    static let flags = ["json", "check"]

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        _ = try arguments.positionals()
        if arguments.has("check") {
            let check: HealthCheck
            do {
                check = try HealthCheck.evaluate(store: try context.store(), settings: try context.settings(), now: context.now)
            } catch {
                check = HealthCheck.unknown("\(error)")
            }
            Output.line(check.line)
            exit(check.state.rawValue)
        }
        let status = try context.store().status(now: context.now)
        if arguments.has("json") {
            Output.line(status.json.serialized)
            return
        }
        func time(_ value: Int64?) -> String { value.map(Timestamp.iso8601) ?? "-" }
        Output.line("events:   \(status.unhandledDue) unhandled, \(status.waiting) waiting (next \(time(status.nextWaiting)))")
        for failing in status.failingHandlers {
            Output.line("handler:  \(failing.handler) failing for \(failing.events) events: \(failing.lastError)")
            var details: [String] = []
            if let since = failing.failingSince { details.append("failing since \(time(since))") }
            if let next = failing.nextAttempt { details.append("next attempt \(time(next))") }
            if let gaveUp = status.gaveUp[failing.handler] { details.append("gave up on \(gaveUp) events") }
            if !details.isEmpty { Output.line("          \(details.joined(separator: ", "))") }
            for stderrLine in failing.stderrTail.split(whereSeparator: \.isNewline) { Output.line("          | \(stderrLine)") }
        }
        for (handler, events) in status.gaveUp.sorted(by: { $0.key < $1.key })
            where !status.failingHandlers.contains(where: { $0.handler == handler }) {
            Output.line("handler:  \(handler) gave up on \(events) events (see eventfilter event list)")
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
    static let usage = "handlers"
    static let abstract = "List the handlers notification.ini resolves to, in processing order, and where each was found."

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        _ = try arguments.positionals()
        let handlers = try HandlerRegistry.describe(settings: try context.settings(), root: context.root)
        let width = handlers.map(\.name.count).max() ?? 0
        for (index, handler) in handlers.enumerated() {
            let name = handler.name.padding(toLength: width, withPad: " ", startingAt: 0)
            Output.line("\(index + 1). \(name)  \(handler.location)  (listed in \(handler.listedAt))")
        }
    }
}

struct MailListCommand: Command {
    static let words = ["mail", "list"]
    static let usage = "mail list [--failed|--deferred|--queued|--cancelled]"
    static let abstract = "List messages in the outbox that have not been sent (or only the failed, deferred, queued or cancelled ones)."
    static let flags = ["failed", "deferred", "queued", "cancelled"]

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        _ = try arguments.positionals()
        var states = ["failed", "deferred", "queued", "cancelled"].filter(arguments.has)
        if states.isEmpty { states = ["queued", "deferred", "failed", "cancelled"] }
        for entry in try Outbox(store: try context.store()).list(states: states) {
            var line = "\(entry.id)\t\(entry.state)\t\(entry.recipient)\t\(entry.subject)\tattempts \(entry.attempts)"
            if entry.state == "deferred" { line += "\tnext \(Timestamp.iso8601(entry.nextAttemptAt))" }
            if let error = entry.lastError { line += "\t\(error)" }
            if let acknowledged = entry.acknowledgedAt { line += "\tacknowledged \(Timestamp.iso8601(acknowledged))" }
            Output.line(line)
        }
    }
}

struct MailRetryCommand: Command {
    static let words = ["mail", "retry"]
    static let usage = "mail retry ID|--all-failed"
    static let abstract = "Put failed messages back in the queue; the next run delivers them."
    static let flags = ["all-failed"]

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let outbox = Outbox(store: try context.store())
        if arguments.has("all-failed") {
            _ = try arguments.positionals()
            Output.line("requeued \(try outbox.retryAllFailed(now: context.now)) messages")
            return
        }
        let text = try arguments.positionals("ID")[0]
        guard let id = Int64(text) else { throw EventFilterError.usage("ID must be a number, got '\(text)'") }
        guard try outbox.retry(id: id, now: context.now) else { throw EventFilterError.failure("message \(id) is not a failed message") }
    }
}

struct MailAckCommand: Command {
    static let words = ["mail", "ack"]
    static let usage = "mail ack ID|--all"
    static let abstract = "Acknowledge failed messages: 'status --check' stops being critical about them."
    static let discussion = "The messages stay failed (and listed); 'mail retry' would send them again."
    static let flags = ["all"]

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let store = try context.store()
        if arguments.has("all") {
            _ = try arguments.positionals()
            Output.line("acknowledged \(try store.acknowledgeAllFailedMail(now: context.now)) messages")
            return
        }
        let text = try arguments.positionals("ID")[0]
        guard let id = Int64(text) else { throw EventFilterError.usage("ID must be a number, got '\(text)'") }
        guard try store.acknowledgeFailedMail(id: id, now: context.now) else {
            throw EventFilterError.failure("message \(id) is not a failed message")
        }
    }
}
