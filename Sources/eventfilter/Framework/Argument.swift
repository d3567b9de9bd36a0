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
