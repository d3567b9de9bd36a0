/// A command's parameters after parsing: every value already converted and checked, read back
/// through the declaration itself, so a misspelt name is a compile error and not a silent `false`.
///
///     let email: String = arguments[UserAddCommand.email]
///     let json: Bool = arguments[StatusCommand.json]
struct ParsedArguments {
    private var values: [String: [any Sendable]] = [:]
    /// The keys of the command's declared parameters: reading anything else is a programming error.
    private let declared: Set<String>

    init(declared: [ParameterSpec]) {
        self.declared = Set(declared.map(\.key))
    }

    mutating func append(_ value: any Sendable, for spec: ParameterSpec) {
        values[spec.key, default: []].append(value)
    }

    func count(_ spec: ParameterSpec) -> Int { values[spec.key]?.count ?? 0 }

    private func all<Value>(_ spec: ParameterSpec, as type: Value.Type) -> [Value] {
        precondition(declared.contains(spec.key), "\(spec.synopsis) is not declared by this command")
        return (values[spec.key] ?? []).map { $0 as! Value }
    }

    subscript<Value>(option: Option<Value>) -> Value? { all(option.spec, as: Value.self).last }
    subscript<Value>(option: RepeatedOption<Value>) -> [Value] { all(option.spec, as: Value.self) }
    subscript(flag: Flag) -> Bool { !all(flag.spec, as: String.self).isEmpty }
    subscript<Value>(argument: Argument<Value>) -> Value { all(argument.spec, as: Value.self)[0] }
    subscript<Value>(argument: OptionalArgument<Value>) -> Value? { all(argument.spec, as: Value.self).first }
    subscript<Value>(argument: ArgumentList<Value>) -> [Value] { all(argument.spec, as: Value.self) }
}
