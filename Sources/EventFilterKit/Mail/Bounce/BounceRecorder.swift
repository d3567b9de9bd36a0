import Foundation

/// `eventfilter bounce`: reads one bounce as an MTA delivers it (Postfix `pipe`, `.forward`,
/// procmail), finds the message it is about from the VERP address, and records it.
///
/// The VERP address is looked for, in this order: the envelope recipient the MTA passed
/// (Postfix pipe's `${recipient}`), `$ORIGINAL_RECIPIENT` (Postfix's local delivery to a command),
/// the `Delivered-To`, `X-Original-To` and `To` headers, then anywhere in the message (a
/// non-standard bounce that quotes the returned message's `Return-Path`). The first address
/// shaped like this installation's bounce address decides: a wrong code is a forgery.
///
/// Nothing is recorded, and the outcome is still a success (so the MTA does not bounce the
/// bounce), for a message that is not a bounce, an address that is not ours or is forged, and a
/// message the outbox no longer has.
///
///     let recorder = BounceRecorder(store: store, settings: bounces)
///     let outcome = try recorder.record(message: bytes, envelopeRecipient: "bounces+42-…@example.org",
///                                       environment: ProcessInfo.processInfo.environment, now: now)
///     print(outcome.description)   // "message 42 to ann@example.com: hard bounce 5.1.1 (1 of 3)"
public final class BounceRecorder {
    public enum Outcome: Equatable, Sendable, CustomStringConvertible {
        case recorded(id: Int64, recipient: String, hard: Bool, status: String, record: BounceRecord, limit: Int)
        /// Recorded on the message only: DebugSending sent it to the test address, not its recipient.
        case recordedUncounted(id: Int64, recipient: String, hard: Bool, status: String)
        case duplicate(id: Int64)
        case notABounce(String)
        case notOurs
        case forged(String)
        case unknownMessage(Int64)

        /// True when the store changed.
        public var changedSomething: Bool {
            switch self {
            case .recorded, .recordedUncounted: return true
            default: return false
            }
        }

        public var description: String {
            switch self {
            case let .recorded(id, recipient, hard, status, record, limit):
                let kind = hard ? "hard" : "soft"
                var line = "message \(id) to \(recipient): \(kind) bounce \(status)"
                if hard {
                    line += " (\(record.count) of \(limit))"
                    if record.disabledUser { line += "; user \(recipient) disabled" }
                    else if record.suppressed { line += "; address \(recipient) suppressed" }
                    else if record.reachedLimit { line += "; user \(recipient) was already disabled" }
                } else {
                    line += " (soft bounce \(record.count), counted only)"
                }
                return line
            case let .recordedUncounted(id, recipient, hard, status):
                return "message \(id) to \(recipient): \(hard ? "hard" : "soft") bounce \(status) "
                    + "(not counted: DebugSending sent it to the test address)"
            case .duplicate(let id):
                return "message \(id): this bounce was already recorded; nothing changed"
            case .notABounce(let why):
                return "not a bounce: \(why); nothing changed"
            case .notOurs:
                return "no bounce address of this installation in the message; nothing changed"
            case .forged(let address):
                return "\(address) is not a bounce address this installation made; nothing changed"
            case .unknownMessage(let id):
                return "message \(id) is no longer in the outbox; nothing changed"
            }
        }
    }

    /// Messages larger than this are read only this far: the report comes before the returned
    /// message, and the rest is never needed.
    public static let readLimit = 4 << 20

    let store: Store
    let settings: BounceSettings

    public init(store: Store, settings: BounceSettings) {
        self.store = store
        self.settings = settings
    }

    public func record(message bytes: [UInt8], envelopeRecipient: String?, environment: [String: String], now: Int64) throws -> Outcome {
        guard let bounceAddress = settings.address else {
            throw EventFilterError.failure("site.ini [MailSettings] BounceAddress is not set, so no message has a bounce address")
        }
        let message = MIMEEntity(bytes: Array(bytes.prefix(Self.readLimit)))
        let report: BounceReport
        switch BounceReport.read(message) {
        case .notABounce(let why): return .notABounce(why)
        case .bounce(let read): report = read
        }
        // Without a key no message ever had a bounce address: a throw-away key makes every code a forgery.
        let verp = VERPAddress(bounceAddress: bounceAddress, secret: try store.existingVERPSecret() ?? Crypto.randomBytes(32))
        var candidates = [envelopeRecipient, environment["ORIGINAL_RECIPIENT"], environment["RECIPIENT"]].compactMap { $0 }
        for name in ["Delivered-To", "X-Original-To", "To"] { candidates += message.headers(named: name) }
        // Anywhere else: the raw message, and the parts' decoded bodies (a base64 returned message).
        candidates += verp.addresses(in: ([String(decoding: bytes.prefix(Self.readLimit), as: UTF8.self)]
            + message.allEntities.dropFirst().map(\.text)).joined(separator: "\n"))
        for candidate in candidates {
            switch verp.messageID(in: candidate) {
            case .notOurs:
                continue
            case .forged:
                return .forged(BounceReport.oneLine(String(candidate.prefix(200))))
            case .valid(let id):
                guard let recipient = try store.outboxRecipient(id: id) else { return .unknownMessage(id) }
                let failed = report.recipient(matching: recipient)
                let record = try store.recordBounce(outboxID: id, recipient: recipient, hard: failed.isHard, status: failed.status,
                                                    diagnostic: failed.diagnostic, disableAfter: settings.disableAfter,
                                                    counting: !settings.debugSending, now: now)
                guard record.counted else { return .duplicate(id: id) }
                if settings.debugSending {
                    return .recordedUncounted(id: id, recipient: recipient, hard: failed.isHard, status: failed.status)
                }
                return .recorded(id: id, recipient: recipient, hard: failed.isHard, status: failed.status, record: record,
                                 limit: settings.disableAfter)
            }
        }
        return .notOurs
    }
}
