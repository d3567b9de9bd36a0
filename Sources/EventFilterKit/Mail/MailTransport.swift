/// Moves messages out of the outbox. Implementations: file, SMTP (libcurl), sendmail.
///
/// `deliver` reports each message's outcome through `report` on the calling thread, as soon as
/// it is known, so the outbox can commit "sent" right after the server accepted that message:
/// a crash then resends at most the messages in flight, never loses one.
///
///     try transport.deliver(batch) { message, outcome in try record(message.id, outcome) }
///     try transport.deliver(batch) { group in try recordInOneTransaction(group) }
public protocol MailTransport: AnyObject {
    func deliver(_ messages: [OutgoingMessage], report: (OutgoingMessage, DeliveryOutcome) throws -> Void) throws
    /// Like `deliver(_:report:)`, but outcomes arrive in groups (on the calling thread, in
    /// completion order), each to be committed in one transaction before `record` returns. A
    /// transport that keeps working while a group is recorded bounds how many accepted messages
    /// can be waiting for their record at once; that bound is what a crash can send twice. The
    /// default hands over one outcome at a time, each recorded before the next message starts.
    func deliver(_ messages: [OutgoingMessage], recordingGroups record: ([(message: OutgoingMessage, outcome: DeliveryOutcome)]) throws -> Void) throws
    /// True when delivering a message twice has no visible effect (the file transport rewrites
    /// the same file). Then the outbox commits a batch's outcomes in one transaction; otherwise
    /// it commits each outcome as soon as it is reported.
    var redeliveryIsIdempotent: Bool { get }
}

extension MailTransport {
    public var redeliveryIsIdempotent: Bool { false }

    public func deliver(_ messages: [OutgoingMessage], recordingGroups record: ([(message: OutgoingMessage, outcome: DeliveryOutcome)]) throws -> Void) throws {
        try deliver(messages) { message, outcome in try record([(message, outcome)]) }
    }
}
