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
