import EventFilterKit
import Foundation

struct MailListCommand: Command {
    static let words = ["mail", "list"]
    static let abstract = "List messages in the outbox: those not sent yet or bounced (or only failed, deferred, queued, cancelled, bounced), or the sent ones."
    static let sent = Flag("sent", help: "sent messages, newest first (kept for KeepDays)")
    static let failed = Flag("failed", help: "only messages that failed for good")
    static let deferred = Flag("deferred", help: "only messages waiting to be retried")
    static let queued = Flag("queued", help: "only messages not tried yet")
    static let cancelled = Flag("cancelled", help: "only messages cancelled because their user was removed or disabled")
    static let bounced = Flag("bounced", help: "only messages a bounce was recorded for ('eventfilter bounce')")
    static let to = Option("to", value: "EMAIL", help: "only messages to this address", parse: ValueParser.email)
    static let since = Option("since", value: "TIME", help: "only messages sent (with --sent) or queued at or after TIME",
                              parse: ValueParser.time)
    static let limit = Option("limit", value: "N", help: "at most N messages (default 1000)", parse: ValueParser.count)
    static let parameters: [any Parameter] = [sent, failed, deferred, queued, cancelled, bounced, to, since, limit]
    static let exclusive = [ExclusiveGroup([sent, failed, deferred, queued, cancelled, bounced])]
    static let discussion = """
        One message a line, tab-separated: id, state, recipient, subject, attempts, then the next attempt
        (deferred), the time sent (sent), the last server reply (of a sent message, the one that accepted
        it, e.g. '250 2.0.0 Ok: queued as 4F2A1') and when a failed message was acknowledged.
        Without a flag, the unsent ones: queued, deferred, failed and cancelled. A sent message that
        bounced shows as 'bounced' with 'hard' or 'soft', the status code and the remote server's
        diagnostic; without a flag it is listed with the unsent ones (--since: bounced at or after TIME).
        """

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let chosen = [(sent, "sent"), (failed, "failed"), (deferred, "deferred"), (queued, "queued"), (cancelled, "cancelled")]
            .filter { arguments[$0.0] }.map(\.1)
        let onlyBounced = arguments[bounced]
        let maximum = arguments[limit] ?? 1000
        let store = try context.store(.readOnly)
        var lines: [(id: Int64, text: String)] = []
        if !onlyBounced {
            let query = MailQuery(states: chosen.isEmpty ? ["queued", "deferred", "failed", "cancelled"] : chosen, recipient: arguments[to],
                                  since: arguments[since], limit: maximum)
            for (entry, sentAt) in try store.mailEntries(query) {
                var line = "\(entry.id)\t\(entry.state)\t\(entry.recipient)\t\(entry.subject)\tattempts \(entry.attempts)"
                if entry.state == "deferred" { line += "\tnext \(Timestamp.iso8601(entry.nextAttemptAt))" }
                if let sentAt { line += "\tsent \(Timestamp.iso8601(sentAt))" }
                if let error = entry.lastError { line += "\t\(error)" }
                if let acknowledged = entry.acknowledgedAt { line += "\tacknowledged \(Timestamp.iso8601(acknowledged))" }
                lines.append((entry.id, line))
            }
        }
        // Bounced messages were sent; without a flag they show with the unsent ones, as they need attention too.
        if onlyBounced || chosen.isEmpty {
            for message in try store.bouncedMessages(recipient: arguments[to], since: arguments[since], limit: maximum) {
                let kind = message.hard ? "hard" : "soft"
                var line = "\(message.id)\tbounced\t\(message.recipient)\t\(message.subject)\tattempts \(message.attempts)"
                line += "\t\(kind) \(message.status)" + (message.diagnostic.isEmpty ? "" : " \(message.diagnostic)")
                lines.append((message.id, line))
            }
        }
        // Sent mail stays newest first, as mailEntries gives it; the rest in id order.
        let ordered = chosen == ["sent"] ? lines : lines.sorted { $0.id < $1.id }
        for line in ordered.prefix(maximum) { Output.line(line.text) }
    }
}

struct MailShowCommand: Command {
    static let words = ["mail", "show"]
    static let abstract = "Show one message: its headers, state, attempts and the server's last reply."
    static let id = Argument("ID", help: "the message's id (see 'mail list')", parse: ValueParser.id)
    static let parameters: [any Parameter] = [id]

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let id = arguments[id]
        guard let details = try context.store(.readOnly).mailDetails(id: id) else {
            throw EventFilterError.failure("no message \(id) in the outbox (sent mail is kept for KeepDays)")
        }
        let entry = details.entry
        func time(_ value: Int64?) -> String { value.map(Timestamp.iso8601) ?? "-" }
        var lines = [
            "message:      \(entry.id)",
            "state:        \(entry.state)",
            "from:         \(details.sender)",
            "to:           \(entry.recipient)",
            "queued:       \(Timestamp.iso8601(entry.createdAt))",
            "attempts:     \(entry.attempts)",
            "last attempt: \(time(details.lastAttemptAt))",
        ]
        switch entry.state {
        case "sent": lines.append("sent:         \(time(details.sentAt))")
        case "queued", "deferred": lines.append("next attempt: \(Timestamp.iso8601(entry.nextAttemptAt))")
        default: break
        }
        let store = try context.store(.readOnly)
        // The envelope sender it leaves (or left) with under the current BounceAddress: what mail logs show.
        if let address = (try? BounceSettings.load(try context.settings()))?.address, let secret = try store.existingVERPSecret() {
            lines.append("envelope:     \(VERPAddress(bounceAddress: address, secret: secret).envelopeSender(for: entry.id))")
        }
        for bounce in try store.bounces(ofMessage: entry.id) {
            lines.append("bounced:      \(bounce.hard ? "hard" : "soft") \(bounce.status) at \(Timestamp.iso8601(bounce.receivedAt))"
                + (bounce.diagnostic.isEmpty ? "" : ": \(bounce.diagnostic)"))
        }
        lines.append("last reply:   \(entry.lastError.map(ErrorReport.oneLine) ?? "-")")
        lines.append("size:         \(details.size) bytes")
        lines.append("")
        Output.line(lines.joined(separator: "\n"))
        Output.text(details.headers.replacingOccurrences(of: "\r\n", with: "\n"))
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

struct MailFlushCommand: Command {
    static let words = ["mail", "flush"]
    static let abstract = "Deliver deferred mail now instead of at its next attempt (after fixing the mail server)."
    static let discussion = """
        Like Postfix's 'postqueue -f': every deferred message becomes due and the outbox is delivered at
        once through the configured transport. Prints what happened; a message still refused stays
        deferred (or fails, when the server's answer is permanent). Waits for nothing: while a run is
        working it leaves the queue to that run and exits 1.
        """

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        try context.requireInstallation()
        // One deliverer at a time: the run's lock keeps a message from going out twice.
        let store = try context.store()
        guard let lock = try RunLock(root: context.root, store: store) else {
            throw EventFilterError.failure("a run is working now; it delivers the queue, or try again when it has finished")
        }
        defer { withExtendedLifetime(lock) {} }
        let transport = try TransportFactory.make(settings: try context.settings(), root: context.root)
        let released = try store.releaseDeferred(now: context.now)
        let report = try Outbox(store: store).deliverDue(through: transport, now: context.now)
        Output.line("flushed \(released) deferred messages: delivered \(report.sent), deferred \(report.deferred), failed \(report.failed)")
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
            let count = try store.acknowledgeAllFailedMail(now: context.now)
            Output.line("acknowledged \(count) failed message\(count == 1 ? "" : "s")")
            return
        }
        guard try store.acknowledgeFailedMail(id: id, now: context.now) else {
            throw EventFilterError.failure("message \(id) is not a failed message")
        }
        Output.line("acknowledged message \(id)")
    }
}
