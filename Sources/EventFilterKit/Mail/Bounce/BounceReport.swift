import Foundation

/// What a bounce message says: the recipients that failed or were delayed, each with its status
/// code and diagnostic, and the addresses in it that may be the VERP envelope sender.
///
/// Reads RFC 3464 delivery status notifications (`multipart/report; report-type=delivery-status`
/// with a `message/delivery-status` part: one group of fields per recipient with `Action`,
/// `Status`, `Diagnostic-Code`), and the common non-standard bounces (qmail's "failure notice",
/// Exim's "Mail delivery failed", and other mailer-daemon messages) by their enhanced status code
/// (RFC 3463, `5.1.1`) or SMTP reply code in the text.
///
///     switch BounceReport.read(MIMEEntity(bytes: bytes)) {
///     case .bounce(let report): report.recipients.first?.status   // "5.1.1"
///     case .notABounce(let why): print(why)                       // an auto-reply, a read receipt
///     }
struct BounceReport {
    struct Recipient: Equatable {
        /// `Final-Recipient` (else `Original-Recipient`), a bare address when given.
        var address: String?
        /// `x.y.z`, an RFC 3463 status code.
        var status: String
        /// The remote server's words (`Diagnostic-Code` without its type), one line.
        var diagnostic: String

        /// A 5.x.x status: the address will not work (RFC 3463 "permanent failure").
        var isHard: Bool { status.hasPrefix("5") }
    }

    enum Reading {
        case bounce(BounceReport)
        case notABounce(String)
    }

    /// Failed or delayed recipients, in the report's order; never empty.
    let recipients: [Recipient]
    /// True for an RFC 3464 report, false for a recognised non-standard bounce.
    let isStandard: Bool

    /// The recipient the report is about: the one whose address is `recipient`, else the first.
    func recipient(matching recipient: String) -> Recipient {
        recipients.first { $0.address?.caseInsensitiveCompare(recipient) == .orderedSame } ?? recipients[0]
    }

    static func read(_ message: MIMEEntity) -> Reading {
        let entities = message.allEntities
        if let status = entities.first(where: { ["message/delivery-status", "message/global-delivery-status"].contains($0.contentType) }) {
            let recipients = deliveryStatusRecipients(status.text)
            guard !recipients.isEmpty else {
                return .notABounce("the delivery status report names no failed or delayed recipient (a success notice)")
            }
            return .bounce(BounceReport(recipients: recipients, isStandard: true))
        }
        if message.contentType == "multipart/report" {
            let type = message.contentTypeParameter("report-type") ?? "none"
            return .notABounce("a report of type \(type.prefix(40)), not a delivery status report")
        }
        guard looksLikeBounce(message) else {
            return .notABounce("no delivery status report, and not from a mailer daemon")
        }
        let text = entities.filter { $0.contentType.hasPrefix("text/") && $0.enclosed == nil }.map(\.text).joined(separator: "\n")
        let subject = (message.header("Subject") ?? "").lowercased()
        let recipient = nonStandardRecipient(text: text, subject: subject)
        return .bounce(BounceReport(recipients: [recipient], isStandard: false))
    }

    // MARK: RFC 3464

    /// The per-recipient groups of a `message/delivery-status` body whose action is `failed` or
    /// `delayed` (or, without an action, whose status is 4.x.x or 5.x.x).
    static func deliveryStatusRecipients(_ body: String) -> [Recipient] {
        var groups: [[String]] = [[]]
        for line in body.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.trimmingCharacters(in: .whitespaces).isEmpty {
                if !(groups.last?.isEmpty ?? true) { groups.append([]) }
            } else {
                groups[groups.count - 1].append(String(line))
            }
        }
        var recipients: [Recipient] = []
        for group in groups where !group.isEmpty {
            let fields = MIMEEntity.parseHeaders(Array(group.joined(separator: "\n").utf8)[...])
            func field(_ name: String) -> String? {
                fields.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
            }
            guard field("Final-Recipient") != nil || field("Original-Recipient") != nil || field("Action") != nil else { continue }
            let action = field("Action")?.lowercased().split(separator: " ").first.map(String.init)
            var status = field("Status").flatMap { firstStatusCode(in: $0) }
            switch action {
            case "failed": status = status ?? "5.0.0"
            case "delayed": status = status ?? "4.0.0"
            case nil: break
            default: continue  // delivered, relayed, expanded: not a failure
            }
            guard let code = status, code.hasPrefix("4") || code.hasPrefix("5") else { continue }
            let address = (field("Final-Recipient") ?? field("Original-Recipient")).map(addressOfTypedField)
            let diagnostic = field("Diagnostic-Code").map(addressOfTypedField) ?? ""
            recipients.append(Recipient(address: address, status: code, diagnostic: oneLine(diagnostic)))
        }
        return recipients
    }

    /// `rfc822; ann@example.com` → `ann@example.com`; `smtp; 550 5.1.1 ...` → `550 5.1.1 ...` (RFC 3464 §2.3).
    private static func addressOfTypedField(_ value: String) -> String {
        guard let semicolon = value.firstIndex(of: ";") else { return value.trimmingCharacters(in: .whitespaces) }
        var rest = value[value.index(after: semicolon)...].trimmingCharacters(in: .whitespaces)
        if rest.hasPrefix("<") && rest.hasSuffix(">") && rest.count >= 2 { rest = String(rest.dropFirst().dropLast()) }
        return rest
    }

    // MARK: Non-standard bounces

    private static let bounceSubjects = [
        "undeliver", "undelivered", "delivery status notification", "failure notice", "mail delivery failed",
        "delivery failure", "returned mail", "non-delivery", "nondeliverable", "could not be delivered",
        "delivery has failed", "delivery delayed", "delayed mail", "warning: message", "mail system error",
    ]

    /// A mailer daemon's message: from `MAILER-DAEMON` or `postmaster`, with an empty return path,
    /// or with a subject bounces use.
    private static func looksLikeBounce(_ message: MIMEEntity) -> Bool {
        let subject = (message.header("Subject") ?? "").lowercased()
        if bounceSubjects.contains(where: subject.contains) { return true }
        let from = (message.header("From") ?? "").lowercased()
        if from.contains("mailer-daemon") || from.contains("postmaster@") || from.contains("mail delivery") { return true }
        return message.headers(named: "Return-Path").contains { $0.replacingOccurrences(of: " ", with: "") == "<>" }
            && firstStatusCode(in: message.allEntities.map(\.text).joined(separator: "\n")) != nil
    }

    private static func nonStandardRecipient(text: String, subject: String) -> Recipient {
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        if let line = lines.first(where: { firstStatusCode(in: $0) != nil }), let code = firstStatusCode(in: line) {
            return Recipient(address: nil, status: code, diagnostic: oneLine(line))
        }
        if let line = lines.first(where: { smtpReplyClass(in: $0) != nil }), let reply = smtpReplyClass(in: line) {
            return Recipient(address: nil, status: "\(reply).0.0", diagnostic: oneLine(line))
        }
        let lower = text.lowercased()
        let delayed = ["delayed", "will keep trying", "still trying", "will retry", "temporary"].contains { lower.contains($0) || subject.contains($0) }
            && !lower.contains("permanent")
        let reason = lines.first { line in
            ["sorry", "unknown", "does not exist", "no such", "failed", "error", "delayed"].contains { line.lowercased().contains($0) }
        } ?? ""
        return Recipient(address: nil, status: delayed ? "4.0.0" : "5.0.0", diagnostic: oneLine(reason))
    }

    /// The first RFC 3463 code (`5.1.1`, `4.4.1`) in `text`, standing alone (qmail writes `#5.1.1`).
    static func firstStatusCode(in text: String) -> String? {
        let bytes = Array(text.utf8)
        func isDigit(_ index: Int) -> Bool { index < bytes.count && bytes[index] >= 0x30 && bytes[index] <= 0x39 }
        func digits(from index: Int, max: Int) -> Int {
            var count = 0
            while count < max && isDigit(index + count) { count += 1 }
            return count
        }
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            let standsAlone = index == 0 || !(isDigit(index - 1) || bytes[index - 1] == UInt8(ascii: "."))
            if (byte == UInt8(ascii: "4") || byte == UInt8(ascii: "5")) && standsAlone
                && index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: ".") {
                let subject = digits(from: index + 2, max: 3)
                let afterSubject = index + 2 + subject
                if subject > 0 && afterSubject < bytes.count && bytes[afterSubject] == UInt8(ascii: ".") {
                    let detail = digits(from: afterSubject + 1, max: 3)
                    let end = afterSubject + 1 + detail
                    if detail > 0 && !isDigit(end) && !(end < bytes.count && bytes[end] == UInt8(ascii: ".") && isDigit(end + 1)) {
                        return String(decoding: bytes[index..<end], as: UTF8.self)
                    }
                }
            }
            index += 1
        }
        return nil
    }

    /// "4" or "5" when the line holds an SMTP reply (`550 User unknown`, `550-...`, `said: 552 ...`).
    private static func smtpReplyClass(in line: String) -> Character? {
        let words = line.split(whereSeparator: { $0 == " " || $0 == ":" })
        for word in words {
            let code = word.hasSuffix("-") ? word.dropLast() : word
            if code.count == 3, code.allSatisfy(\.isASCII), code.allSatisfy(\.isNumber),
               let first = code.first, first == "4" || first == "5", let value = Int(code), (400...599).contains(value) {
                return first
            }
        }
        return nil
    }

    /// One line of printable text, at most 500 characters, for `mail list` and the store.
    static func oneLine(_ text: String) -> String {
        let scalars = text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 }
        var result = String(String.UnicodeScalarView(scalars))
        while result.contains("  ") { result = result.replacingOccurrences(of: "  ", with: " ") }
        result = result.trimmingCharacters(in: .whitespaces)
        return result.count > 500 ? String(result.prefix(497)) + "..." : result
    }
}
