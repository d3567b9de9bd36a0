import EventFilterKit
import Foundation

struct StatusCommand: Command {
    static let words = ["status"]
    static let abstract = "Show queue depths, the digest backlog, failing handlers, deferred and failed mail, and the last run."
    static let json = Flag("json", help: "the same as one JSON object")
    static let parameters: [any Parameter] = [json]

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let status = try context.store(.readOnly).status(now: context.now)
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
