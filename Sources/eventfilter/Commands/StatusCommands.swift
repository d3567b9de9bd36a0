import EventFilterKit
import Foundation

struct StatusCommand: Command {
    static let words = ["status"]
    static let abstract = "Show queue depths, the digest backlog, failing handlers, deferred and failed mail, and the last run."
    static let json = Flag("json", help: "the same as one JSON object")
    static let parameters: [any Parameter] = [json]

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let status = try context.store().status(now: context.now)
        if arguments[json] {
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
    static let abstract = "List messages in the outbox that have not been sent or have bounced (or only the failed, deferred, queued or bounced ones)."
    static let failed = Flag("failed", help: "only messages that failed for good")
    static let deferred = Flag("deferred", help: "only messages waiting to be retried")
    static let queued = Flag("queued", help: "only messages not tried yet")
    static let bounced = Flag("bounced", help: "only messages a bounce was recorded for ('eventfilter bounce')")
    static let parameters: [any Parameter] = [failed, deferred, queued, bounced]
    static let exclusive = [ExclusiveGroup([failed, deferred, queued, bounced])]

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let chosen = [(failed, "failed"), (deferred, "deferred"), (queued, "queued")].filter { arguments[$0.0] }.map(\.1)
        let onlyBounced = arguments[bounced]
        let states = onlyBounced ? [] : chosen.isEmpty ? ["queued", "deferred", "failed"] : chosen
        let store = try context.store()
        var lines: [(id: Int64, text: String)] = []
        for entry in states.isEmpty ? [] : try Outbox(store: store).list(states: states) {
            var line = "\(entry.id)\t\(entry.state)\t\(entry.recipient)\t\(entry.subject)\tattempts \(entry.attempts)"
            if entry.state == "deferred" { line += "\tnext \(Timestamp.iso8601(entry.nextAttemptAt))" }
            if let error = entry.lastError { line += "\t\(error)" }
            lines.append((entry.id, line))
        }
        // Bounced messages were sent; they show with the unsent ones, as they need attention too.
        if onlyBounced || chosen.isEmpty {
            for message in try store.bouncedMessages() {
                let kind = message.hard ? "hard" : "soft"
                var line = "\(message.id)\tbounced\t\(message.recipient)\t\(message.subject)\tattempts \(message.attempts)"
                line += "\t\(kind) \(message.status)" + (message.diagnostic.isEmpty ? "" : " \(message.diagnostic)")
                lines.append((message.id, line))
            }
        }
        for line in lines.sorted(by: { $0.id < $1.id }) { Output.line(line.text) }
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
