/// A failure an operator can act on: an unknown user, a bad argument, a broken handler.
/// The command line prints `description` as one line.
public struct EventFilterError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case usage, failure }
    public let kind: Kind
    public let description: String

    public static func usage(_ message: String) -> EventFilterError { .init(kind: .usage, description: message) }
    public static func failure(_ message: String) -> EventFilterError { .init(kind: .failure, description: message) }
}
