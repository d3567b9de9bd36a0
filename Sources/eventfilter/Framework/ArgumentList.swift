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
