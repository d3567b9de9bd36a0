import EventFilterKit
import Foundation

/// `eventfilter help [COMMAND ...]`, and the hidden `help --reference` that prints the README's reference.
struct HelpCommand: Command {
    static let words = ["help"]
    static let abstract = "Show the overview, or the help of a command or group."
    static let isHidden = true
    static let reference = Flag("reference", help: "print the command reference kept in README.md")
    static let topic = ArgumentList("WORD", help: "the command or group", parse: ValueParser.string)
    static var parameters: [any Parameter] { [topic, reference] }

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        if arguments[reference] { return Output.text(CommandList.reference) }
        let words = arguments[topic]
        if words.isEmpty { return Output.text(CommandList.overview) }
        if let command = CommandList.all.first(where: { $0.words == words }) { return Output.text(command.help) }
        guard CommandList.visible.contains(where: { $0.words.starts(with: words) }) else {
            throw EventFilterError.usage("unknown command '\(words.joined(separator: " ").prefix(60))'; see 'eventfilter --help'")
        }
        Output.text(CommandList.groupHelp(words))
    }
}
