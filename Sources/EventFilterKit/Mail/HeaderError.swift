/// A header value that cannot go into a message: a line break, a malformed address or id, a
/// reserved header name. The description is one line and names the header.
///
///     do { _ = try composer.compose(to: kari, subject: "Hi\r\nBcc: x@evil.example", ...) }
///     catch let error as HeaderError { print(error) }   // header 'Subject' contains a line break
public struct HeaderError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
