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
