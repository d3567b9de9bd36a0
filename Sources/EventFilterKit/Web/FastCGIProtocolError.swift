/// A FastCGI stream that breaks the protocol: the connection it came on is closed, and the
/// responder goes on with the next one.
///
///     throw FastCGIProtocolError("record version 2, expected 1")
///     // logged as "fastcgi: connection closed: record version 2, expected 1"
public struct FastCGIProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
