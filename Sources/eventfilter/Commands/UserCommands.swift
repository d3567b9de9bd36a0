import EventFilterKit
import Foundation

/// The declarations user and rule commands share, so EMAIL is checked and described once.
enum UserParameters {
    static let email = Argument("EMAIL", help: "the subscriber's e-mail address", parse: ValueParser.email)
    static let name = Option("name", value: "NAME", help: "the display name in the To header (at most 200 characters)",
                             parse: ValueParser.displayName)
    static let timezone = Option("timezone", value: "IANA_ZONE", help: "when their digest arrives, e.g. Europe/Oslo (default UTC)",
                                 parse: ValueParser.zone)

    /// "; cancelled 2 waiting messages" after `user remove` or `user disable`, when there were any.
    static func cancelledNote(_ count: Int) -> String {
        count == 0 ? "" : "; cancelled \(count) waiting message\(count == 1 ? "" : "s")"
    }
}

struct UserAddCommand: Command {
    static let words = ["user", "add"]
    static let abstract = "Add a subscriber. The time zone (default UTC) sets when their digest arrives."
    static let parameters: [any Parameter] = [UserParameters.email, UserParameters.name, UserParameters.timezone]

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let email = arguments[UserParameters.email]
        try context.store().addUser(email: email, name: arguments[UserParameters.name] ?? "",
                                    timezone: arguments[UserParameters.timezone] ?? "UTC", now: context.now)
        Output.line("added user \(email)")
    }
}

struct UserRemoveCommand: Command {
    static let words = ["user", "remove"]
    static let abstract = "Remove a subscriber with their rules and settings; their waiting mail and digest items are cancelled."
    static let parameters: [any Parameter] = [UserParameters.email]

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let email = arguments[UserParameters.email]
        let cancelled = try context.store().removeUser(email: email, now: context.now)
        Output.line("removed user \(email)" + UserParameters.cancelledNote(cancelled))
    }
}

struct UserListCommand: Command {
    static let words = ["user", "list"]
    static let abstract = "List subscribers with their time zone, digest and rules."

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let store = try context.store(.readOnly)
        for user in try store.listUsers() {
            let digest = try store.digestSchedule(userID: user.id)?.description ?? "immediate"
            let nodes = try store.subscriptions(email: user.email).joined(separator: ",")
            Output.line("\(user.email)\t\(user.name)\t\(user.timezone)\t\(digest)\t\(user.enabled ? "enabled" : "disabled")\tnodes: \(nodes)")
        }
    }
}

struct UserShowCommand: Command {
    static let words = ["user", "show"]
    static let abstract = "Show a subscriber: rules with node names, digest schedule and next send, waiting items, recent mail."
    static let parameters: [any Parameter] = [UserParameters.email]
    static let discussion = """
        A rule's node is named after the newest stored event for it (events are kept for KeepDays);
        a rule on a webhook source's name says so. Waiting items and recent mail show at most 10.
        """

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let store = try context.store(.readOnly)
        let details = try store.userDetails(email: arguments[UserParameters.email], now: context.now)
        let sources = (try? WebhookSources.load(settings: try context.settings())) ?? [:]
        let user = details.user
        func time(_ value: Int64?) -> String { value.map(Timestamp.iso8601) ?? "-" }
        var lines = [
            "user:          \(user.email)",
            "name:          \(user.name.isEmpty ? "-" : user.name)",
            "time zone:     \(user.timezone)",
            "state:         \(user.enabled ? "enabled" : "disabled")",
        ]
        // Why a user was disabled without an operator: the bounces 'eventfilter bounce' recorded.
        if let bounces = try store.bounceSummary(email: user.email) {
            lines.append("bounces:       \(bounces.hard) hard since the last disable, \(bounces.soft) soft, last \(bounces.lastStatus)"
                + (bounces.disabledAt.map { "; disabled by bounces at \(Timestamp.iso8601($0))" } ?? ""))
        }
        if let digest = details.digest {
            lines.append("digest:        \(digest.description) (next \(time(details.nextDigest)))")
        } else {
            lines.append("digest:        off: everything at once")
        }
        if details.subtreeRules.isEmpty { lines.append("subtree rules: none") }
        for rule in details.subtreeRules {
            let what: String
            if let source = sources[rule.node] {
                what = "webhook source \(source.name) (\(source.type.rawValue))"
            } else {
                what = rule.nodeName.map { "\"\(ErrorReport.oneLine($0).prefix(80))\"" } ?? "no stored event names it"
            }
            lines.append("subtree rule:  node \(rule.node): \(what)")
        }
        lines.append("collaboration: \(details.collaborationRules.isEmpty ? "none" : details.collaborationRules.joined(separator: ", "))")
        lines.append("waiting:       \(details.waitingItems) digest items" + (details.waitingItems > 0 ? " (due \(time(details.nextDigest)))" : ""))
        for subject in details.waitingSubjects { lines.append("  \(ErrorReport.oneLine(subject))") }
        lines.append(details.recentMail.isEmpty ? "recent mail:   none" : "recent mail:")
        for mail in details.recentMail {
            lines.append("  \(mail.id)\t\(mail.state)\t\(time(mail.sentAt ?? mail.createdAt))\t\(ErrorReport.oneLine(mail.subject))")
        }
        Output.line(lines.joined(separator: "\n"))
    }
}

struct UserSetCommand: Command {
    static let words = ["user", "set"]
    static let abstract = "Change a subscriber's name, time zone or address."
    static let email = Option("email", value: "EMAIL", help: "the new address; rules, digest and waiting items stay with the user",
                              parse: ValueParser.email)
    static let parameters: [any Parameter] = [UserParameters.email, UserParameters.name, UserParameters.timezone, email]
    static let discussion = """
        Give at least one option. A new time zone moves waiting digest items to the schedule's next
        time in that zone. An empty --name "" removes the display name.
        """

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let current = arguments[UserParameters.email]
        let name = arguments[UserParameters.name], timezone = arguments[UserParameters.timezone], newEmail = arguments[email]
        guard name != nil || timezone != nil || newEmail != nil else {
            throw EventFilterError.usage("give at least one of --name, --timezone, --email")
        }
        let user = try context.store().updateUser(email: current, name: name, timezone: timezone, newEmail: newEmail, now: context.now)
        var changes: [String] = []
        if name != nil { changes.append("name \"\(user.name)\"") }
        if timezone != nil { changes.append("time zone \(user.timezone)") }
        if newEmail != nil { changes.append("address \(user.email)") }
        Output.line("updated user \(current): \(changes.joined(separator: ", "))")
    }
}

struct UserDisableCommand: Command {
    static let words = ["user", "disable"]
    static let abstract = "Stop mailing a subscriber, keeping their rules and settings; their waiting mail and digest items are cancelled."
    static let parameters: [any Parameter] = [UserParameters.email]

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let email = arguments[UserParameters.email]
        let store = try context.store()
        guard try store.requireUser(email: email).enabled else { return Output.line("user \(email) is already disabled") }
        let cancelled = try store.setUserEnabled(email: email, false, now: context.now)
        Output.line("disabled user \(email)" + UserParameters.cancelledNote(cancelled))
    }
}

struct UserEnableCommand: Command {
    static let words = ["user", "enable"]
    static let abstract = "Mail a disabled subscriber again."
    static let parameters: [any Parameter] = [UserParameters.email]

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let email = arguments[UserParameters.email]
        let store = try context.store()
        guard try !store.requireUser(email: email).enabled else { return Output.line("user \(email) is already enabled") }
        try store.setUserEnabled(email: email, true, now: context.now)
        Output.line("enabled user \(email)")
    }
}

struct DigestCommand: Command {
    static let words = ["digest"]
    static let abstract = "Set when a user receives their digest, in their own time zone."
    static let schedule = ArgumentList("SCHEDULE", usage: "off|daily HH:MM|weekly DAY HH:MM|monthly N HH:MM",
                                       help: "when the digest goes out", required: true, parse: ValueParser.string)
    static let parameters: [any Parameter] = [UserParameters.email, schedule]
    static let discussion = """
        off          everything at once (items already waiting go in one last digest at the next run)
        daily 08:00  every day at 08:00 local time
        weekly monday 08:00
        monthly 31 08:00   day 31 means the month's last day in shorter months
        A local time that does not exist (spring forward) moves forward; an ambiguous one takes the first.
        """

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let email = arguments[UserParameters.email]
        let parsed: DigestSchedule?
        do { parsed = try DigestSchedule.parse(arguments[schedule]) } catch {
            throw EventFilterError.usage(ErrorReport.message(error))
        }
        try context.store().setDigest(email: email, schedule: parsed, now: context.now)
        Output.line("digest for \(email): \(parsed?.description ?? "off")")
    }
}

/// NODE_ID and IDENTIFIER: one path element, as the store checks it.
enum RuleParameters {
    static let node = Argument("NODE_ID", help: "a node id of the content tree, or a webhook source's name", parse: ValueParser.string)
    static let identifier = Argument("IDENTIFIER", help: "a collaboration kind, e.g. ezapprove", parse: ValueParser.string)
}

struct SubscribeCommand: Command {
    static let words = ["subscribe"]
    static let abstract = "Subtree rule: the user hears of everything published at or below NODE_ID."
    static let parameters: [any Parameter] = [UserParameters.email, RuleParameters.node]

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let email = arguments[UserParameters.email], node = arguments[RuleParameters.node]
        try context.store().subscribe(email: email, node: node, now: context.now)
        Output.line("subscribed \(email) to node \(node)")
    }
}

struct UnsubscribeCommand: Command {
    static let words = ["unsubscribe"]
    static let abstract = "Remove a subtree rule."
    static let parameters: [any Parameter] = [UserParameters.email, RuleParameters.node]

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let email = arguments[UserParameters.email], node = arguments[RuleParameters.node]
        try context.store().unsubscribe(email: email, node: node)
        Output.line("unsubscribed \(email) from node \(node)")
    }
}

struct CollaborationSubscribeCommand: Command {
    static let words = ["collaboration", "subscribe"]
    static let abstract = "Collaboration rule: mail the user when they take part in an item of this kind (e.g. ezapprove)."
    static let parameters: [any Parameter] = [UserParameters.email, RuleParameters.identifier]

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let email = arguments[UserParameters.email], identifier = arguments[RuleParameters.identifier]
        try context.store().collaborationSubscribe(email: email, identifier: identifier, now: context.now)
        Output.line("subscribed \(email) to collaboration \(identifier)")
    }
}

struct CollaborationUnsubscribeCommand: Command {
    static let words = ["collaboration", "unsubscribe"]
    static let abstract = "Remove a collaboration rule."
    static let parameters: [any Parameter] = [UserParameters.email, RuleParameters.identifier]

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let email = arguments[UserParameters.email], identifier = arguments[RuleParameters.identifier]
        try context.store().collaborationUnsubscribe(email: email, identifier: identifier)
        Output.line("unsubscribed \(email) from collaboration \(identifier)")
    }
}

struct UserTokenCommand: Command {
    static let words = ["user", "token"]
    static let abstract = "Print a fresh personal settings link for a subscriber, revoking their old ones; or revoke all."
    static let revoke = Flag("revoke", help: "revoke every settings link of the user and print none")
    static let parameters: [any Parameter] = [UserParameters.email, revoke]
    static let discussion = """
        The link is [SiteSettings] SettingsURL (default SiteURL/notification/settings) followed by
        '/TOKEN': 32 random bytes in base64url. Only a SHA-256 of the token is stored, so it is
        printed once. Messages carry links of their own; both commands revoke those too.
        """

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let email = arguments[UserParameters.email]
        let store = try context.store()
        if arguments[revoke] {
            let count = try store.revokeSettingsTokens(email: email)
            Output.line("revoked \(count) settings link\(count == 1 ? "" : "s") of \(email)")
            return
        }
        let site = try SiteConfiguration.load(try context.settings())
        let token = try store.replaceSettingsToken(email: email, now: context.now)
        Output.line(site.settingsURL + "/" + token)
    }
}
