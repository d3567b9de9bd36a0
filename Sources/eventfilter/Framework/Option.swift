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
