/// A declared parameter of a command: an `Option`, `RepeatedOption`, `Flag`, `Argument`,
/// `OptionalArgument` or `ArgumentList`.
protocol Parameter: Sendable {
    var spec: ParameterSpec { get }
}
