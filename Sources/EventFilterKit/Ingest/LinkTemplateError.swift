/// Why a link template was refused, in words that follow the key's name.
public struct LinkTemplateError: Error, Sendable, Equatable {
    public let reason: String
    init(_ reason: String) { self.reason = reason }
}
