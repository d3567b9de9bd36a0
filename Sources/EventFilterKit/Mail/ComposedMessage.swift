/// A message ready for the outbox: its `Message-ID` and its exact RFC 5322 bytes (CRLF line
/// endings, 7-bit ASCII, no line over 998 characters).
public struct ComposedMessage: Sendable {
    /// The `Message-ID` header's value, with its angle brackets: `<...@...>`.
    public let messageID: String
    public let bytes: [UInt8]
}
