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

/// What became of one delivery attempt.
public enum DeliveryOutcome: Sendable, Equatable {
    /// The server (or file, or sendmail) took responsibility for the message. The reply says how,
    /// as one line, and is kept with the sent message so an operator can find it in the mail
    /// server's log: SMTP's reply to the end of the message ("250 2.0.0 Ok: queued as 4F2A1"),
    /// "sendmail /usr/sbin/sendmail: exited 0", or "written to /srv/mail/42.eml".
    case accepted(String)
    /// Try again later: a 4xx reply, a refused connection, a timeout.
    case temporaryFailure(String)
    /// Do not try again: a 5xx reply. The reason keeps the server's own words.
    case permanentFailure(String)
}

/// Moves messages out of the outbox. Implementations: file, SMTP (libcurl), sendmail.
///
/// `deliver` reports each message's outcome through `report` on the calling thread, as soon as
/// it is known, so the outbox can commit "sent" right after the server accepted that message:
/// a crash then resends at most the messages in flight, never loses one.
public protocol MailTransport: AnyObject {
    func deliver(_ messages: [OutgoingMessage], report: (OutgoingMessage, DeliveryOutcome) throws -> Void) throws
    /// True when delivering a message twice has no visible effect (the file transport rewrites
    /// the same file). Then the outbox commits a batch's outcomes in one transaction; otherwise
    /// it commits each outcome as soon as it is reported.
    var redeliveryIsIdempotent: Bool { get }
}

extension MailTransport {
    public var redeliveryIsIdempotent: Bool { false }
}
