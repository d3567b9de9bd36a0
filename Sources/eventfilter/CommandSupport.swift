import EventFilterKit
import Foundation

/// One subcommand: its words, its help next to it, and what it does.
protocol Command {
    /// The words that select it: ["run"], ["event", "add"].
    static var words: [String] { get }
    static var usage: String { get }
    static var abstract: String { get }
    /// More help, shown by `--help`.
    static var discussion: String { get }
    /// Options that take a value (`--name NAME`), without the dashes.
    static var valueOptions: [String] { get }
    /// Options that are switches (`--json`), without the dashes.
    static var flags: [String] { get }
    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws
}

extension Command {
    static var discussion: String { "" }
    static var valueOptions: [String] { [] }
    static var flags: [String] { [] }

    static var help: String {
        var text = "\(abstract)\n\nUsage: eventfilter \(usage)\n"
        if !discussion.isEmpty { text += "\n\(discussion)\n" }
        text += """

            Global options:
              --root DIR     the installation (default: $EVENTFILTER_ROOT, else the current directory)
              --now TIME     ISO 8601 time with an offset or Z, used for every time decision
              --help         show this help

            """
        return text
    }
}

/// A command's arguments after the global options and its own words were taken off.
struct ParsedArguments {
    var positionals: [String]
    var values: [String: [String]]
    var flags: Set<String>

    func value(_ name: String) -> String? { values[name]?.last }
    func has(_ flag: String) -> Bool { flags.contains(flag) }

    /// Exactly `count` positionals, or a usage error that names them.
    func positionals(_ names: String...) throws -> [String] {
        guard positionals.count == names.count else {
            throw EventFilterError.usage(positionals.count < names.count
                ? "missing \(names[positionals.count...].joined(separator: " "))"
                : "unexpected argument '\(positionals[names.count])'")
        }
        return positionals
    }
}

/// What every command may need, opened on first use.
final class CommandContext {
    let root: URL
    private let nowOverride: Int64?
    private var openedStore: Store?
    private var loadedSettings: Settings?

    init(root: URL, now: Int64?) {
        self.root = root
        self.nowOverride = now
    }

    var now: Int64 { nowOverride ?? Timestamp.now() }

    /// A root is an installation when it has `settings/`: a mistyped `--root` is an error, not a
    /// new empty store that reports "nothing queued" to a monitoring check.
    func requireInstallation() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.appendingPathComponent("settings").path, isDirectory: &isDirectory),
              isDirectory.boolValue else {
            throw EventFilterError.failure("\(root.path) is not an eventfilter installation: it has no settings/ directory")
        }
    }

    func store(_ access: Store.Access = .readWrite) throws -> Store {
        if let openedStore { return openedStore }
        try requireInstallation()
        let store = try Store(root: root, access: access)
        openedStore = store
        return store
    }

    func settings() throws -> Settings {
        if let loadedSettings { return loadedSettings }
        try requireInstallation()
        let settings = Settings(root: root)
        loadedSettings = settings
        return settings
    }
}

enum Output {
    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func error(_ text: String) {
        FileHandle.standardError.write(Data(("eventfilter: " + text + "\n").utf8))
    }
}

/// Splits argv into global options, the command, and its arguments.
struct CommandLineParser {
    let commands: [Command.Type]

    struct Invocation {
        let command: Command.Type?
        let arguments: ParsedArguments
        let root: URL
        let now: Int64?
        let wantsHelp: Bool
    }

    func parse(_ argv: [String], environment: [String: String]) throws -> Invocation {
        var rest: [String] = []
        var root: String? = environment["EVENTFILTER_ROOT"].flatMap { $0.isEmpty ? nil : $0 }
        var now: Int64?
        var wantsHelp = false
        var index = 0
        var afterDoubleDash = false
        while index < argv.count {
            let word = argv[index]
            if afterDoubleDash { rest.append(word); index += 1; continue }
            switch word {
            case "--": afterDoubleDash = true
            case "--help", "-h": wantsHelp = true
            case "--root", "--now":
                guard index + 1 < argv.count else { throw EventFilterError.usage("\(word) needs a value") }
                if word == "--root" { root = argv[index + 1] } else { now = try Timestamp.parse(argv[index + 1]) }
                index += 1
            default:
                if let value = word.removingPrefix("--root=") { root = value }
                else if let value = word.removingPrefix("--now=") { now = try Timestamp.parse(value) }
                else { rest.append(word) }
            }
            index += 1
        }
        let rootURL = URL(fileURLWithPath: root ?? FileManager.default.currentDirectoryPath, isDirectory: true)

        // The longest run of leading words that names a command.
        let command = commands
            .filter { rest.starts(with: $0.words) }
            .max { $0.words.count < $1.words.count }
        guard let command else {
            if wantsHelp || rest.isEmpty {
                return Invocation(command: nil, arguments: ParsedArguments(positionals: [], values: [:], flags: []),
                                  root: rootURL, now: now, wantsHelp: true)
            }
            let known = commands.filter { $0.words.first == rest.first }
            if !known.isEmpty {
                throw EventFilterError.usage("unknown subcommand '\(rest.joined(separator: " "))'; try: "
                    + known.map { $0.words.joined(separator: " ") }.joined(separator: ", "))
            }
            throw EventFilterError.usage("unknown command '\(rest[0])'; see 'eventfilter --help'")
        }
        let arguments = try parseArguments(Array(rest.dropFirst(command.words.count)), for: command, wantsHelp: wantsHelp)
        return Invocation(command: command, arguments: arguments, root: rootURL, now: now, wantsHelp: wantsHelp)
    }

    private func parseArguments(_ words: [String], for command: Command.Type, wantsHelp: Bool) throws -> ParsedArguments {
        var parsed = ParsedArguments(positionals: [], values: [:], flags: [])
        var index = 0
        while index < words.count {
            let word = words[index]
            if word.hasPrefix("--") && word.count > 2 {
                var name = String(word.dropFirst(2))
                var inlineValue: String?
                if let equals = name.firstIndex(of: "=") {
                    inlineValue = String(name[name.index(after: equals)...])
                    name = String(name[..<equals])
                }
                if command.flags.contains(name) {
                    guard inlineValue == nil else { throw EventFilterError.usage("--\(name) takes no value") }
                    parsed.flags.insert(name)
                } else if command.valueOptions.contains(name) {
                    let value: String
                    if let inlineValue { value = inlineValue } else {
                        guard index + 1 < words.count else { throw EventFilterError.usage("--\(name) needs a value") }
                        index += 1
                        value = words[index]
                    }
                    parsed.values[name, default: []].append(value)
                } else if !wantsHelp {
                    throw EventFilterError.usage("unknown option '--\(name)' for 'eventfilter \(command.words.joined(separator: " "))'")
                }
            } else {
                parsed.positionals.append(word)
            }
            index += 1
        }
        return parsed
    }
}

extension String {
    func removingPrefix(_ prefix: String) -> String? {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : nil
    }
}
