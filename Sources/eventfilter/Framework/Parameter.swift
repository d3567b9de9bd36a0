/// What the parser, the usage line and `--help` need to know of one declared parameter,
/// whatever its value type. Every `Option`, `Flag` and `Argument` carries one.
struct ParameterSpec: Sendable {
    enum Kind: Sendable { case flag, option, argument }

    let kind: Kind
    /// Without dashes for options and flags ("not-before"); the placeholder for arguments ("EMAIL").
    let name: String
    /// The value's placeholder in usage and help ("TIME"); empty for flags.
    let valueName: String
    let help: String
    /// An option that may be given more than once; an argument that takes all remaining words.
    let repeatable: Bool
    /// An argument that may be left out.
    let optional: Bool
    /// Turns the word into the typed value, or throws a message naming what is wrong.
    let convert: @Sendable (String) throws -> any Sendable

    /// `--name NAME`, `--json`, `EMAIL`: how it is written in a usage line.
    var synopsis: String {
        switch kind {
        case .flag: return "--\(name)"
        case .option: return "--\(name) \(valueName)"
        case .argument: return valueName
        }
    }

    /// The key its values are filed under; options and arguments never share one.
    var key: String { kind == .argument ? "<\(name)>" : name }
}

/// A declared parameter of a command: one of the types below.
protocol Parameter: Sendable {
    var spec: ParameterSpec { get }
}

/// An option with a value, given at most once: `--name NAME`.
///
///     static let name = Option("name", value: "NAME", help: "the display name", parse: ValueParser.text)
///     let name: String? = arguments[Self.name]
struct Option<Value: Sendable>: Parameter {
    let spec: ParameterSpec

    init(_ name: String, value: String, help: String, parse: @escaping @Sendable (String) throws -> Value) {
        spec = ParameterSpec(kind: .option, name: name, valueName: value, help: help, repeatable: false, optional: true,
                             convert: { try parse($0) })
    }
}

/// An option that may be repeated: `--header 'Name: value' ...`; read as a list in order.
///
///     static let header = RepeatedOption("header", value: "'Name: value'", help: "a request header", parse: Header.parse)
///     let headers: [Header] = arguments[Self.header]
struct RepeatedOption<Value: Sendable>: Parameter {
    let spec: ParameterSpec

    init(_ name: String, value: String, help: String, parse: @escaping @Sendable (String) throws -> Value) {
        spec = ParameterSpec(kind: .option, name: name, valueName: value, help: help, repeatable: true, optional: true,
                             convert: { try parse($0) })
    }
}

/// A switch without a value: `--json`; read as a `Bool`.
///
///     static let json = Flag("json", help: "one JSON object per line")
///     if arguments[Self.json] { ... }
struct Flag: Parameter {
    let spec: ParameterSpec

    init(_ name: String, help: String) {
        spec = ParameterSpec(kind: .flag, name: name, valueName: "", help: help, repeatable: false, optional: true,
                             convert: { $0 })
    }
}

/// A required positional argument: `EMAIL`.
///
///     static let email = Argument("EMAIL", help: "the subscriber's address", parse: ValueParser.email)
///     let email: String = arguments[Self.email]
struct Argument<Value: Sendable>: Parameter {
    let spec: ParameterSpec

    init(_ name: String, help: String, parse: @escaping @Sendable (String) throws -> Value) {
        spec = ParameterSpec(kind: .argument, name: name, valueName: name, help: help, repeatable: false, optional: false,
                             convert: { try parse($0) })
    }
}

/// A positional argument that may be left out: `[FILE]`.
struct OptionalArgument<Value: Sendable>: Parameter {
    let spec: ParameterSpec

    init(_ name: String, help: String, parse: @escaping @Sendable (String) throws -> Value) {
        spec = ParameterSpec(kind: .argument, name: name, valueName: name, help: help, repeatable: false, optional: true,
                             convert: { try parse($0) })
    }
}

/// The remaining positional words: `[NAME=VALUE ...]`, or at least one with `required`.
/// `usage` replaces the generated placeholder where the words have a grammar of their own.
struct ArgumentList<Value: Sendable>: Parameter {
    let spec: ParameterSpec

    init(_ name: String, usage: String? = nil, help: String, required: Bool = false,
         parse: @escaping @Sendable (String) throws -> Value) {
        spec = ParameterSpec(kind: .argument, name: name, valueName: usage ?? "\(name) ...", help: help, repeatable: true,
                             optional: !required, convert: { try parse($0) })
    }
}
