import Foundation

/// eZ's `DebugSending`: every message goes to one address (staging), whatever its recipient.
/// Only the envelope changes; the message keeps its headers, so a tester sees who it was for.
final class RedirectingTransport: MailTransport {
    let inner: MailTransport
    let receiver: String

    init(wrapping inner: MailTransport, to receiver: String) {
        self.inner = inner
        self.receiver = receiver
    }

    func deliver(_ messages: [OutgoingMessage], report: (OutgoingMessage, DeliveryOutcome) throws -> Void) throws {
        let originals = Dictionary(uniqueKeysWithValues: messages.map { ($0.id, $0) })
        let redirected = messages.map { OutgoingMessage(id: $0.id, sender: $0.sender, recipient: receiver, bytes: $0.bytes) }
        try inner.deliver(redirected) { message, outcome in try report(originals[message.id]!, outcome) }
    }

    /// Keeps the inner transport's grouping (and its bound on acceptances awaiting their record).
    func deliver(_ messages: [OutgoingMessage], recordingGroups record: ([(message: OutgoingMessage, outcome: DeliveryOutcome)]) throws -> Void) throws {
        let originals = Dictionary(uniqueKeysWithValues: messages.map { ($0.id, $0) })
        let redirected = messages.map { OutgoingMessage(id: $0.id, sender: $0.sender, recipient: receiver, bytes: $0.bytes) }
        try inner.deliver(redirected) { group in try record(group.map { (originals[$0.message.id]!, $0.outcome) }) }
    }
}
