import EventFilterKit
import Foundation

struct UserAddCommand: Command {
    static let words = ["user", "add"]
    static let usage = "user add EMAIL [--name NAME] [--timezone IANA_ZONE]"
    static let abstract = "Add a subscriber. The time zone (default UTC) sets when their digest arrives."
    static let valueOptions = ["name", "timezone"]

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let email = try arguments.positionals("EMAIL")[0]
        try context.store().addUser(email: email, name: arguments.value("name") ?? "",
                                    timezone: arguments.value("timezone") ?? "UTC", now: context.now)
    }
}

struct UserRemoveCommand: Command {
    static let words = ["user", "remove"]
    static let usage = "user remove EMAIL"
    static let abstract = "Remove a subscriber with their rules and settings; their waiting mail and digest items are cancelled."

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        try context.store().removeUser(email: try arguments.positionals("EMAIL")[0], now: context.now)
    }
}

struct UserDisableCommand: Command {
    static let words = ["user", "disable"]
    static let usage = "user disable EMAIL"
    static let abstract = "Stop mailing a subscriber; their waiting mail and digest items are cancelled, their rules kept."

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        try context.store().setUserEnabled(email: try arguments.positionals("EMAIL")[0], false, now: context.now)
    }
}

struct UserEnableCommand: Command {
    static let words = ["user", "enable"]
    static let usage = "user enable EMAIL"
    static let abstract = "Mail a disabled subscriber again, from the next event on."

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        try context.store().setUserEnabled(email: try arguments.positionals("EMAIL")[0], true, now: context.now)
    }
}

struct UserListCommand: Command {
    static let words = ["user", "list"]
    static let usage = "user list"
    static let abstract = "List subscribers with their time zone, digest and rules."

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        _ = try arguments.positionals()
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
    static let usage = "digest EMAIL off|daily HH:MM|weekly DAY HH:MM|monthly N HH:MM"
    static let abstract = "Set when a user receives their digest, in their own time zone."
    static let discussion = """
        off          everything at once (items already waiting go in one last digest at the next run)
        daily 08:00  every day at 08:00 local time
        weekly monday 08:00
        monthly 31 08:00   day 31 means the month's last day in shorter months
        A local time that does not exist (spring forward) moves forward; an ambiguous one takes the first.
        """

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        guard let email = arguments.positionals.first else { throw EventFilterError.usage("missing EMAIL") }
        let words = Array(arguments.positionals.dropFirst())
        guard !words.isEmpty else { throw EventFilterError.usage("missing off|daily HH:MM|weekly DAY HH:MM|monthly N HH:MM") }
        let schedule: DigestSchedule?
        do { schedule = try DigestSchedule.parse(words) } catch { throw EventFilterError.usage("\(error)") }
        try context.store().setDigest(email: email, schedule: schedule, now: context.now)
    }
}

struct SubscribeCommand: Command {
    static let words = ["subscribe"]
    static let usage = "subscribe EMAIL NODE_ID"
    static let abstract = "Subtree rule: the user hears of everything published at or below NODE_ID."

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let words = try arguments.positionals("EMAIL", "NODE_ID")
        try context.store().subscribe(email: words[0], node: words[1], now: context.now)
    }
}

struct UnsubscribeCommand: Command {
    static let words = ["unsubscribe"]
    static let usage = "unsubscribe EMAIL NODE_ID"
    static let abstract = "Remove a subtree rule."

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let words = try arguments.positionals("EMAIL", "NODE_ID")
        try context.store().unsubscribe(email: words[0], node: words[1])
    }
}

struct CollaborationSubscribeCommand: Command {
    static let words = ["collaboration", "subscribe"]
    static let usage = "collaboration subscribe EMAIL IDENTIFIER"
    static let abstract = "Collaboration rule: mail the user when they take part in an item of this kind (e.g. ezapprove)."

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let words = try arguments.positionals("EMAIL", "IDENTIFIER")
        try context.store().collaborationSubscribe(email: words[0], identifier: words[1], now: context.now)
    }
}

struct CollaborationUnsubscribeCommand: Command {
    static let words = ["collaboration", "unsubscribe"]
    static let usage = "collaboration unsubscribe EMAIL IDENTIFIER"
    static let abstract = "Remove a collaboration rule."

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let words = try arguments.positionals("EMAIL", "IDENTIFIER")
        try context.store().collaborationUnsubscribe(email: words[0], identifier: words[1])
    }
}
