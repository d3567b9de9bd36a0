import EventFilterKit
import Foundation

struct BounceCommand: Command {
    static let words = ["bounce"]
    static let usage = "bounce [RECIPIENT] < MESSAGE"
    static let abstract = "Record one bounce (an RFC 3464 report or a mailer-daemon message) read from stdin."
    static let discussion = """
        For the mail server: Postfix's pipe transport, a .forward or procmail runs it with one
        bounce on stdin. RECIPIENT is the envelope recipient, the per-message bounce address
        (Postfix pipe: ${recipient}); without it, $ORIGINAL_RECIPIENT and the Delivered-To,
        X-Original-To and To headers are used. The bounce is recorded on its message ('mail list');
        a hard (5.x.x) bounce counts toward [MailSettings] BounceDisableAfter, which disables the
        address's user; a soft (4.x.x) one is counted only.

        Exits 0 when the bounce was recorded, and also, changing nothing and saying why on stderr,
        for a message that is not a bounce, an unknown or forged bounce address, or a message no
        longer in the outbox, so the mail server does not bounce the bounce. Exits 75 (EX_TEMPFAIL:
        the mail server keeps the bounce and retries) when it could not be recorded.
        """

    /// sysexits.h EX_TEMPFAIL: Postfix's pipe (and sendmail, procmail) keep the message and retry.
    static let temporaryFailure: Int32 = 75

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let recipient: String?
        switch arguments.positionals.count {
        case 0: recipient = nil
        case 1: recipient = arguments.positionals[0]
        default: throw EventFilterError.usage("unexpected argument '\(arguments.positionals[1])'")
        }
        let outcome: BounceRecorder.Outcome
        do {
            let message = Array(FileHandle.standardInput.readDataToEndOfFile())
            let recorder = BounceRecorder(store: try context.store(), settings: try BounceSettings.load(try context.settings()))
            outcome = try recorder.record(message: message, envelopeRecipient: recipient,
                                          environment: ProcessInfo.processInfo.environment, now: context.now)
        } catch {
            Output.error("bounce not recorded, the mail server will retry: \(error)")
            exit(temporaryFailure)
        }
        if outcome.changedSomething {
            Output.line(outcome.description)
        } else {
            Output.error(outcome.description)
        }
    }
}
