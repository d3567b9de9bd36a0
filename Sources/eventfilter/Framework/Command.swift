import EventFilterKit

/// One subcommand: its words, its declared parameters, its help, and what it does. The parser,
/// the usage line, `--help` and the README's command reference all come from the declarations.
///
///     struct UserRemoveCommand: Command {
///         static let words = ["user", "remove"]
///         static let abstract = "Remove a subscriber."
///         static let email = Argument("EMAIL", help: "the subscriber's address", parse: ValueParser.email)
///         static let parameters: [any Parameter] = [email]
///         static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
///             try context.store().removeUser(email: arguments[email])
///         }
///     }
protocol Command {
    /// The words that select it: ["run"], ["event", "add"].
    static var words: [String] { get }
    /// One sentence: the overview's line and the first line of `--help`.
    static var abstract: String { get }
    /// More help, shown by `--help` after the parameters.
    static var discussion: String { get }
    /// Arguments in the order they are given, then options and flags in the order they are listed.
    static var parameters: [any Parameter] { get }
    /// Parameters of which at most one (or, when required, exactly one) may be given.
    static var exclusive: [ExclusiveGroup] { get }
    /// Left out of the overview and the reference (`help --reference`).
    static var isHidden: Bool { get }
    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws
}

extension Command {
    static var discussion: String { "" }
    static var parameters: [any Parameter] { [] }
    static var exclusive: [ExclusiveGroup] { [] }
    static var isHidden: Bool { false }

    static var name: String { words.joined(separator: " ") }

    /// `event add TYPE [NAME=VALUE ...] [--not-before TIME] [--key KEY]`, from the declarations.
    static var usage: String {
        var parts = words
        var shown = Set<String>()
        let specs = parameters.map(\.spec)
        for spec in specs.filter({ $0.kind == .argument }) + specs.filter({ $0.kind != .argument }) {
            guard !shown.contains(spec.key) else { continue }
            if let group = exclusive.first(where: { $0.members.contains { $0.key == spec.key } }) {
                parts.append(group.synopsis)
                shown.formUnion(group.members.map(\.key))
                continue
            }
            shown.insert(spec.key)
            switch spec.kind {
            case .argument:
                parts.append(spec.optional ? "[\(spec.valueName)]" : spec.valueName)
            case .option, .flag:
                parts.append(spec.repeatable ? "[\(spec.synopsis) ...]" : "[\(spec.synopsis)]")
            }
        }
        return parts.joined(separator: " ")
    }

    static var help: String {
        var text = "\(abstract)\n\nUsage: eventfilter \(usage)\n"
        let specs = parameters.map(\.spec)
        let arguments = specs.filter { $0.kind == .argument }
        let options = specs.filter { $0.kind != .argument }
        if !arguments.isEmpty { text += "\nArguments:\n" + HelpTable.render(arguments.map { ($0.valueName, $0.help) }) }
        if !options.isEmpty { text += "\nOptions:\n" + HelpTable.render(options.map { ($0.synopsis, $0.help) }) }
        if !discussion.isEmpty { text += "\n\(discussion)\n" }
        text += "\nGlobal options:\n" + HelpTable.render(GlobalOptions.all.map { ($0.spec.synopsis, $0.spec.help) })
        return text
    }
}
