/// Why a group of writes was not committed.
public struct GroupCommitError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
