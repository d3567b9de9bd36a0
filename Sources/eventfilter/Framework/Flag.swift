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
