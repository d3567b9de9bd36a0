import EventFilterKit
import Foundation

/// Turns argv into what to do: run a command with checked values, or show help, usage or the
/// version. Every mistake is a usage error (exit status 2) raised before anything is opened.
///
///     let parser = CommandLineParser(commands: CommandList.all)
///     switch try parser.parse(["user", "add", "ann@example.com"], environment: [:]) { ... }
struct CommandLineParser {
    let commands: [any Command.Type]

    /// The longest single word accepted: Linux's own limit for one argument (MAX_ARG_STRLEN), so
    /// there it only guards; below it, an over-long value is refused by its parameter's check,
    /// which names the parameter. Systems without such a limit still get a bounded word.
    static let maximumWordBytes = 131_072

    enum Invocation {
        case run(any Command.Type, ParsedArguments, CommandContext)
        /// `eventfilter --help`, `eventfilter help`.
        case overview
        /// `eventfilter user --help`: the commands that start with these words.
        case groupHelp([String])
        case help(any Command.Type)
        case version
        /// Nothing to do: the overview goes to stderr with exit status 2.
        case missingCommand
    }

    /// argv's words as strings, refusing invalid UTF-8 and over-long words (exit status 2),
    /// where `CommandLine.arguments` would quietly replace bad bytes.
    static func decode(_ argv: [UnsafePointer<CChar>]) throws -> [String] {
        try argv.enumerated().map { index, pointer in
            guard strlen(pointer) <= maximumWordBytes else {
                throw EventFilterError.usage("argument \(index + 1) is longer than \(maximumWordBytes) bytes")
            }
            guard let word = String(validatingCString: pointer) else {
                throw EventFilterError.usage("argument \(index + 1) is not valid UTF-8")
            }
            return word
        }
    }

    func parse(_ argv: [String], environment: [String: String]) throws -> Invocation {
        let optionWords = argv.prefix { $0 != "--" }
        if optionWords.contains("--version") { return .version }
        let wantsHelp = optionWords.contains("--help") || optionWords.contains("-h")

        var tokens = Tokens(argv)
        var globals = ParsedArguments(declared: GlobalOptions.all.map(\.spec))
        // The command: the longest run of leading words that names one (global options may come first).
        var words: [String] = []
        var matched: (any Command.Type)?
        while let token = tokens.peek() {
            if try takeGlobal(&tokens, into: &globals) { continue }
            if token.hasPrefix("-") && token != "-" { break }
            let candidate = words + [token]
            guard commands.contains(where: { $0.words.starts(with: candidate) }) else { break }
            words = candidate
            tokens.next()
            if let exact = commands.first(where: { $0.words == candidate }) { matched = exact }
        }
        guard let command = matched, command.words == words else {
            return try unmatched(words, next: tokens.peek(), wantsHelp: wantsHelp)
        }
        if wantsHelp { return .help(command) }

        let arguments = try parseArguments(&tokens, globals: &globals, for: command)
        let rootPath = globals[GlobalOptions.root]
            ?? environment["EVENTFILTER_ROOT"].flatMap { $0.isEmpty ? nil : $0 }
            ?? FileManager.default.currentDirectoryPath
        let context = CommandContext(root: URL(fileURLWithPath: rootPath, isDirectory: true), now: globals[GlobalOptions.now])
        return .run(command, arguments, context)
    }

    /// No command is named: the overview or a group's help, or a usage error saying what is missing.
    private func unmatched(_ words: [String], next: String?, wantsHelp: Bool) throws -> Invocation {
        if wantsHelp { return words.isEmpty ? .overview : .groupHelp(words) }
        guard !words.isEmpty else {
            guard let next else { return .missingCommand }
            let kind = next.hasPrefix("-") ? "option" : "command"
            throw EventFilterError.usage("unknown \(kind) '\(next.prefix(60))'; see 'eventfilter --help'")
        }
        let prefix = words.joined(separator: " ")
        let group = commands.filter { $0.words.starts(with: words) }.map { $0.name }.joined(separator: ", ")
        if let next, !next.hasPrefix("-") {
            throw EventFilterError.usage("unknown subcommand '\(prefix) \(next.prefix(60))'; try: \(group)")
        }
        throw EventFilterError.usage("missing subcommand after '\(prefix)'; try: \(group)")
    }

    /// The words after the command's own: options by name, the rest positional, then checked.
    private func parseArguments(_ tokens: inout Tokens, globals: inout ParsedArguments,
                                for command: any Command.Type) throws -> ParsedArguments {
        let specs = command.parameters.map(\.spec)
        var parsed = ParsedArguments(declared: specs)
        var positionals: [String] = []
        var literal = false
        while let token = tokens.next() {
            if literal { positionals.append(token); continue }
            if token == "--" { literal = true; continue }
            guard token.hasPrefix("-") && token != "-" else { positionals.append(token); continue }
            tokens.unread()
            if try takeGlobal(&tokens, into: &globals) { continue }
            tokens.next()
            let (name, inlineValue) = Self.split(token)
            guard token.hasPrefix("--"), let spec = specs.first(where: { $0.kind != .argument && $0.name == name }) else {
                throw EventFilterError.usage("unknown option '\(name.isEmpty ? token : "--" + name)' for 'eventfilter \(command.name)'; see 'eventfilter \(command.name) --help'")
            }
            try Self.take(spec, inlineValue: inlineValue, from: &tokens, into: &parsed)
        }

        // Positionals fill the declared arguments in order; a list takes the rest.
        var remaining = positionals[...]
        for spec in specs where spec.kind == .argument {
            if spec.repeatable {
                for word in remaining { parsed.append(try Self.convert(word, spec), for: spec) }
                if remaining.isEmpty && !spec.optional { throw EventFilterError.usage("missing \(spec.valueName)") }
                remaining = []
            } else if let word = remaining.popFirst() {
                parsed.append(try Self.convert(word, spec), for: spec)
            } else if !spec.optional {
                throw EventFilterError.usage("missing \(spec.valueName)")
            }
        }
        if let extra = remaining.first {
            throw EventFilterError.usage("unexpected argument '\(extra.prefix(60))' for 'eventfilter \(command.name)'")
        }
        for group in command.exclusive {
            let given = group.members.filter { parsed.count($0) > 0 }
            let names = group.members.map { $0.kind == .argument ? $0.valueName : "--" + $0.name }
            if given.count > 1 {
                let shown = given.map { $0.kind == .argument ? $0.valueName : "--" + $0.name }
                throw EventFilterError.usage("\(shown.joined(separator: " and ")) cannot be used together")
            }
            if group.required && given.isEmpty {
                throw EventFilterError.usage("give one of \(names.joined(separator: ", "))")
            }
        }
        return parsed
    }

    /// Takes a global option at the cursor, if it is one.
    private func takeGlobal(_ tokens: inout Tokens, into globals: inout ParsedArguments) throws -> Bool {
        guard let token = tokens.peek(), token.hasPrefix("--") else { return false }
        let (name, inlineValue) = Self.split(token)
        guard let spec = [GlobalOptions.root.spec, GlobalOptions.now.spec].first(where: { $0.name == name }) else { return false }
        tokens.next()
        try Self.take(spec, inlineValue: inlineValue, from: &tokens, into: &globals)
        return true
    }

    private static func take(_ spec: ParameterSpec, inlineValue: String?, from tokens: inout Tokens,
                             into parsed: inout ParsedArguments) throws {
        if !spec.repeatable && parsed.count(spec) > 0 {
            throw EventFilterError.usage("--\(spec.name) is given more than once")
        }
        if spec.kind == .flag {
            guard inlineValue == nil else { throw EventFilterError.usage("--\(spec.name) takes no value") }
            parsed.append("", for: spec)
            return
        }
        guard let value = inlineValue ?? tokens.next() else {
            throw EventFilterError.usage("--\(spec.name) needs a value (\(spec.valueName))")
        }
        parsed.append(try convert(value, spec), for: spec)
    }

    /// A word converted by its declaration; any complaint becomes a usage error naming the parameter.
    private static func convert(_ word: String, _ spec: ParameterSpec) throws -> any Sendable {
        do {
            return try spec.convert(word)
        } catch {
            let label = spec.kind == .argument ? spec.name : "--" + spec.name
            throw EventFilterError.usage("\(label): \(ErrorReport.message(error))")
        }
    }

    /// `--name=value` → ("name", "value"); `--name` → ("name", nil).
    private static func split(_ token: String) -> (String, String?) {
        let body = token.hasPrefix("--") ? String(token.dropFirst(2)) : String(token.drop { $0 == "-" })
        guard let equals = body.firstIndex(of: "=") else { return (body, nil) }
        return (String(body[..<equals]), String(body[body.index(after: equals)...]))
    }
}

/// argv with a cursor.
private struct Tokens {
    private let words: [String]
    private var index = 0

    init(_ words: [String]) { self.words = words }

    func peek() -> String? { index < words.count ? words[index] : nil }

    @discardableResult
    mutating func next() -> String? {
        defer { if index < words.count { index += 1 } }
        return peek()
    }

    mutating func unread() { index -= 1 }
}
