/// Something an operator must hear about: a message that failed, a handler that fails, mail
/// deferred too long. The key names the problem across runs, so it is reported once.
///
///     let problem = Problem(kind: .mailFailed, key: "mail-failed:42", message: "mail 42 to ann@example.com failed: 550 ...")
public struct Problem: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, CaseIterable, Codable {
        case settings, mailFailed, mailDeferred, handlerFailing, handlerGaveUp
    }

    public let kind: Kind
    public let key: String
    /// One line.
    public let message: String

    public init(kind: Kind, key: String, message: String) {
        self.kind = kind
        self.key = key
        self.message = message.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}
