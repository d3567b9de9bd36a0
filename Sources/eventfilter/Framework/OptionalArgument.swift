/// A positional argument that may be left out: `[FILE]`.
struct OptionalArgument<Value: Sendable>: Parameter {
    let spec: ParameterSpec

    init(_ name: String, help: String, parse: @escaping @Sendable (String) throws -> Value) {
        spec = ParameterSpec(kind: .argument, name: name, valueName: name, help: help, repeatable: false, optional: true,
                             convert: { try parse($0) })
    }
}
