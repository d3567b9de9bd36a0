import EventFilterKit
import Foundation

struct StatusCommand: Command {
    static let words = ["status"]
    static let usage = "status [--json]"
    static let abstract = "Show queue depths, the digest backlog, failing handlers, deferred and failed mail, and the last run."
    static let flags = ["json"]

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        _ = try arguments.positionals()
        let status = try context.store(.readOnly).status(now: context.now)
        if arguments.has("json") {
            Output.line(status.json.serialized)
            return
        }
        func time(_ value: Int64?) -> String { value.map(Timestamp.iso8601) ?? "-" }
        Output.line("events:   \(status.unhandledDue) unhandled, \(status.waiting) waiting (next \(time(status.nextWaiting)))")
        for failing in status.failingHandlers {
            Output.line("handler:  \(failing.handler) failing for \(failing.events) events: \(failing.lastError)")
        }
        Output.line("digests:  \(status.digestItems) items for \(status.digestUsers) users (next \(time(status.nextDigest)))")
        let mail = status.outbox
        Output.line("mail:     \(mail.queued) queued, \(mail.deferred) deferred (oldest \(time(mail.oldestDeferred))), "
            + "\(mail.failed) failed, \(mail.sent) sent")
        let last = status.lastRunStarted.map { started in
            "\(Timestamp.iso8601(started))" + (status.lastRunFinished == nil ? " (did not finish)" : "")
                + (status.lastRunError.map { ": \($0)" } ?? "")
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
    static let usage = "mail list [--failed|--deferred|--queued]"
    static let abstract = "List messages in the outbox that have not been sent (or only the failed, deferred or queued ones)."
    static let flags = ["failed", "deferred", "queued"]

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        _ = try arguments.positionals()
        var states = ["failed", "deferred", "queued"].filter(arguments.has)
        if states.isEmpty { states = ["queued", "deferred", "failed"] }
        for entry in try Outbox(store: try context.store(.readOnly)).list(states: states) {
            var line = "\(entry.id)\t\(entry.state)\t\(entry.recipient)\t\(entry.subject)\tattempts \(entry.attempts)"
            if entry.state == "deferred" { line += "\tnext \(Timestamp.iso8601(entry.nextAttemptAt))" }
            if let error = entry.lastError { line += "\t\(error)" }
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
