/// Why the responder could not start: no listening socket, or no worker process. One line,
/// shown as the command's error.
///
///     throw FastCGIServerError("cannot listen on 127.0.0.1:9000: Address already in use")
public struct FastCGIServerError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
