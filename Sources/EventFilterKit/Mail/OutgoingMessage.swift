/// A composed message as the outbox hands it to a transport.
public struct OutgoingMessage: Sendable {
    /// The outbox row id.
    public let id: Int64
    /// Envelope sender (MAIL FROM), a bare address.
    public let sender: String
    /// Envelope recipient (RCPT TO), a bare address. One per message: no Bcc lists.
    public let recipient: String
    /// The exact RFC 5322 bytes, CRLF line endings.
    public let bytes: [UInt8]

    public init(id: Int64, sender: String, recipient: String, bytes: [UInt8]) {
        self.id = id
        self.sender = sender
        self.recipient = recipient
        self.bytes = bytes
    }
}
