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
        CRITICAL: failed mail not acknowledged ('mail ack'), a failing handler, the last run failed,
        died, or has not finished after [EventFilterSettings] MaxRunTime (3600 s).
        WARNING: mail deferred longer than WarnDeferredAfter (3600 s), events a handler gave up on,
        no run recorded yet. UNKNOWN: the check cannot tell (not an installation, unreadable settings).
        """

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        if arguments[check] {
            let result: HealthCheck
            do {
                result = try HealthCheck.evaluate(store: try context.store(), settings: try context.settings(), now: context.now)
            } catch {
                result = HealthCheck.unknown(ErrorReport.message(error))
            }
            Output.line(result.line)
            exit(result.state.rawValue)
        }
        let configured = try? HandlerRegistry.describe(settings: try context.settings(), root: context.root).map(\.name)
        let status = try context.store().status(now: context.now, handlers: configured)
        if arguments[json] {
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

struct MailListCommand: Command {
    static let words = ["mail", "list"]
    static let abstract = "List messages in the outbox that have not been sent (or only the failed, deferred, queued or cancelled ones)."
    static let failed = Flag("failed", help: "only messages that failed for good")
    static let deferred = Flag("deferred", help: "only messages waiting to be retried")
    static let queued = Flag("queued", help: "only messages not tried yet")
    static let cancelled = Flag("cancelled", help: "only messages cancelled because their user was removed or disabled")
    static let parameters: [any Parameter] = [failed, deferred, queued, cancelled]
    static let exclusive = [ExclusiveGroup([failed, deferred, queued, cancelled])]

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let chosen = [(failed, "failed"), (deferred, "deferred"), (queued, "queued"), (cancelled, "cancelled")]
            .filter { arguments[$0.0] }.map(\.1)
        let states = chosen.isEmpty ? ["queued", "deferred", "failed", "cancelled"] : chosen
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
    static let abstract = "Put failed messages back in the queue; the next run delivers them."
    static let id = OptionalArgument("ID", help: "the message's id (see 'mail list')", parse: ValueParser.id)
    static let allFailed = Flag("all-failed", help: "every failed message")
    static let parameters: [any Parameter] = [id, allFailed]
    static let exclusive = [ExclusiveGroup([id, allFailed], required: true)]

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let outbox = Outbox(store: try context.store())
        guard let id = arguments[id] else {
            Output.line("requeued \(try outbox.retryAllFailed(now: context.now)) messages")
            return
        }
        guard try outbox.retry(id: id, now: context.now) else { throw EventFilterError.failure("message \(id) is not a failed message") }
        Output.line("requeued message \(id)")
    }
}

struct MailAckCommand: Command {
    static let words = ["mail", "ack"]
    static let abstract = "Acknowledge failed messages: 'status --check' stops being critical about them."
    static let discussion = "The messages stay failed and listed; 'mail retry' would send them again."
    static let id = OptionalArgument("ID", help: "the message's id (see 'mail list --failed')", parse: ValueParser.id)
    static let all = Flag("all", help: "every failed message not acknowledged yet")
    static let parameters: [any Parameter] = [id, all]
    static let exclusive = [ExclusiveGroup([id, all], required: true)]

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let store = try context.store()
        guard let id = arguments[id] else {
            Output.line("acknowledged \(try store.acknowledgeAllFailedMail(now: context.now)) messages")
            return
        }
        guard try store.acknowledgeFailedMail(id: id, now: context.now) else {
            throw EventFilterError.failure("message \(id) is not a failed message")
        }
        Output.line("acknowledged message \(id)")
    }
}
