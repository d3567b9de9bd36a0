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
