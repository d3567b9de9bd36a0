import EventFilterKit
import Foundation

/// The declarations user and rule commands share, so EMAIL is checked and described once.
enum UserParameters {
    static let email = Argument("EMAIL", help: "the subscriber's e-mail address", parse: ValueParser.email)
    static let name = Option("name", value: "NAME", help: "the display name in the To header (at most 200 characters)",
                             parse: ValueParser.displayName)
    static let timezone = Option("timezone", value: "IANA_ZONE", help: "when their digest arrives, e.g. Europe/Oslo (default UTC)",
                                 parse: ValueParser.zone)
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
        Output.line("removed user \(email)" + UserDisableCommand.cancelledNote(cancelled))
    }
}

struct UserDisableCommand: Command {
    static let words = ["user", "disable"]
    static let abstract = "Stop mailing a subscriber; their waiting mail and digest items are cancelled, their rules kept."
    static let parameters: [any Parameter] = [UserParameters.email]

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let email = arguments[UserParameters.email]
        let cancelled = try context.store().setUserEnabled(email: email, false, now: context.now)
        Output.line("disabled user \(email)" + cancelledNote(cancelled))
    }

    static func cancelledNote(_ count: Int) -> String {
        count == 0 ? "" : "; cancelled \(count) waiting message\(count == 1 ? "" : "s")"
    }
}

struct UserEnableCommand: Command {
    static let words = ["user", "enable"]
    static let abstract = "Mail a disabled subscriber again, from the next event on."
    static let parameters: [any Parameter] = [UserParameters.email]

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let email = arguments[UserParameters.email]
        try context.store().setUserEnabled(email: email, true, now: context.now)
        Output.line("enabled user \(email)")
    }
}

struct UserListCommand: Command {
    static let words = ["user", "list"]
    static let abstract = "List subscribers with their time zone, digest and rules."

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let store = try context.store()
        for user in try store.listUsers() {
            let digest = try store.digestSchedule(userID: user.id)?.description ?? "immediate"
            let nodes = try store.subscriptions(email: user.email).joined(separator: ",")
            Output.line("\(user.email)\t\(user.name)\t\(user.timezone)\t\(digest)\t\(user.enabled ? "enabled" : "disabled")\tnodes: \(nodes)")
        }
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
