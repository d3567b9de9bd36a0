import EventFilterKit
import Foundation

/// `eventfilter bounce`: run by the mail server with one bounce on stdin; or, with `--enable`,
/// by an operator to let an address that bounced get mail again.
struct BounceCommand: Command {
    static let words = ["bounce"]
    static let abstract = "Record one bounce read from stdin (run by the mail server), or enable an address again."
    static let recipient = OptionalArgument("RECIPIENT", help: "the envelope recipient: the message's bounce address (Postfix pipe: ${recipient})",
                                            parse: ValueParser.string)
    static let enable = Option("enable", value: "EMAIL", help: "enable the address's user (or unsuppress an address without one); its hard bounce count starts again",
                               parse: ValueParser.email)
    static let parameters: [any Parameter] = [recipient, enable]
    static let exclusive = [ExclusiveGroup([recipient, enable])]
    static let discussion = """
        Postfix's pipe transport, a .forward or procmail runs it with one bounce on stdin: an RFC 3464
        delivery status report, or a mailer-daemon message that names the status (qmail, Exim).
        Without RECIPIENT the bounce address is taken from $ORIGINAL_RECIPIENT, then the
        Delivered-To, X-Original-To and To headers, then the returned message. The bounce is
        recorded on its message ('mail list'). A hard (5.x.x) bounce counts toward site.ini
        [MailSettings] BounceDisableAfter (3), which disables the address's user; a soft (4.x.x)
        one is counted only.

        Exits 0 when the bounce was recorded, and also, changing nothing and saying why on stderr,
        for a message that is not a bounce, an unknown or forged bounce address, a message no
        longer in the outbox, or a bounce already recorded: the mail server must not bounce the
        bounce. Exits 75 (EX_TEMPFAIL: the mail server keeps the bounce and retries) when it could
        not be recorded.
        """

    /// sysexits.h EX_TEMPFAIL: Postfix's pipe (and sendmail, procmail) keep the message and retry.
    static let temporaryFailure: Int32 = 75

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        if let email = arguments[enable] {
            guard try context.store().enableAfterBounces(email: email, now: context.now) else {
                throw EventFilterError.failure("no user and no bounces for \(email)")
            }
            Output.line("enabled \(email)")
            return
        }
        let outcome: BounceRecorder.Outcome
        do {
            let message = Array(FileHandle.standardInput.readDataToEndOfFile())
            let settings = try BounceSettings.load(try context.settings())
            let recorder = BounceRecorder(store: try context.store(), settings: settings)
            outcome = try recorder.record(message: message, envelopeRecipient: arguments[recipient],
                                          environment: ProcessInfo.processInfo.environment, now: context.now)
        } catch {
            Output.error("bounce not recorded, the mail server will retry: \(ErrorReport.message(error))")
            exit(temporaryFailure)
        }
        if outcome.changedSomething {
            Output.line(outcome.description)
        } else {
            Output.error(outcome.description)
        }
    }
}
