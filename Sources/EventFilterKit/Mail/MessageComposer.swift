import Foundation

/// Builds notification mail: one recipient, UTF-8 text (and optionally HTML) in
/// quoted-printable, RFC 2047 subjects and names, threading headers and the markers that keep
/// auto-responders quiet (`Auto-Submitted: auto-generated`, `Precedence: bulk`).
///
/// Every header value is checked before it is written: a CR, LF or NUL anywhere in the subject,
/// a name, a message id or an extra header throws `HeaderError`, so a value taken from an event
/// can never add a header of its own.
///
///     let composer = MessageComposer(
///         from: try Mailbox(address: "noreply@example.com", name: "Example Site"),
///         messageIDDomain: "example.com")
///     let message = try composer.compose(
///         to: try Mailbox(address: "kari@example.no", name: "Kari Nordmann"),
///         subject: "Article \"Blåbær\" was published [Example Site]",
///         text: "Hello\n", html: "<p>Hello</p>\n", date: 1_700_000_000,
///         inReplyTo: "<node.60.eznotification@example.com>",
///         extraHeaders: [(name: "List-Unsubscribe", value: "<https://example.com/u/abc>")])
///     message.messageID   // "<5f0c...e1000000002a.1700000000@example.com>"
public struct MessageComposer: Sendable {
    public let from: Mailbox
    /// The right-hand side of generated message ids: a host name, such as the site's domain.
    public let messageIDDomain: String

    public init(from: Mailbox, messageIDDomain: String) {
        self.from = from
        self.messageIDDomain = messageIDDomain
    }

    /// Composes one message.
    ///
    /// - Parameters:
    ///   - text: the plain-text body; LF, CRLF or CR line breaks, sent as CRLF.
    ///   - html: the HTML alternative; when given the message is `multipart/alternative` with the
    ///     text part first and the HTML part last (the one clients prefer).
    ///   - date: the `Date` header, in Unix seconds, written in UTC (`+0000`).
    ///   - messageID: `<left@right>`; nil generates a unique one in `messageIDDomain`.
    ///   - inReplyTo, references: message ids for threading; written only when given.
    ///   - extraHeaders: printable-ASCII headers written after the fixed ones, such as
    ///     `List-Unsubscribe` or `Reply-To`. Headers the composer writes itself, and `Cc`/`Bcc`,
    ///     are refused.
    /// - Throws: `HeaderError` naming the header whose value cannot be written.
    public func compose(
        to: Mailbox, subject: String, text: String, html: String?, date: Int64,
        messageID: String? = nil, inReplyTo: String? = nil, references: [String] = [],
        extraHeaders: [(name: String, value: String)] = []
    ) throws -> ComposedMessage {
        try HeaderCheck.rejectLineBreaks(in: subject, header: "Subject")
        // The run's random bits and a counter: no system call per message (MessageIDSequence).
        let unique = MessageIDSequence.shared.next()
        let id = messageID ?? Self.generateMessageID(domain: messageIDDomain, unixTime: date, unique: unique)
        // A boundary only needs to differ from message to message: quoted-printable parts can
        // never contain it (see makeBoundary).
        let boundaryBits = unique.random.1 ^ unique.counter
        try HeaderCheck.validateMessageID(id, header: "Message-ID")
        if let inReplyTo { try HeaderCheck.validateMessageID(inReplyTo, header: "In-Reply-To") }
        for reference in references { try HeaderCheck.validateMessageID(reference, header: "References") }
        for header in extraHeaders { try Self.validateExtraHeader(name: header.name, value: header.value) }

        // Quoted-printable grows plain text by a few percent; non-ASCII text grows more and
        // makes the array reallocate once or twice, which is still cheap.
        let bodySize = text.utf8.count + (html?.utf8.count ?? 0)
        var writer = MIME.HeaderWriter(capacity: 900 + bodySize + bodySize / 8)

        writer.start("Date")
        Self.appendDate(date, to: &writer.bytes)
        writer.endLine()
        writer.start("From")
        Self.appendMailbox(from, to: &writer)
        writer.endLine()
        writer.start("To")
        Self.appendMailbox(to, to: &writer)
        writer.endLine()
        writer.start("Subject")
        Self.appendUnstructured(subject, to: &writer)
        writer.endLine()
        writer.start("Message-ID")
        writer.append(id)
        writer.endLine()
        if let inReplyTo {
            writer.start("In-Reply-To")
            writer.append(inReplyTo)
            writer.endLine()
        }
        if !references.isEmpty {
            writer.start("References")
            for (index, reference) in references.enumerated() {
                if index > 0 {
                    if writer.column + 1 + reference.utf8.count > MIME.recommendedLineLength {
                        writer.fold()
                    } else {
                        writer.append(byte: 32)
                    }
                }
                writer.append(reference)
            }
            writer.endLine()
        }
        writer.bytes.append(contentsOf: Self.fixedHeaders)
        for header in extraHeaders {
            writer.start(header.name)
            var value = header.value
            let fitted = value.withUTF8 { writer.appendFolded($0) }
            if !fitted {
                throw HeaderError("header '\(header.name)' has a word too long for a 998-character line")
            }
            writer.endLine()
        }

        if let html {
            let boundary = Self.makeBoundary(random: boundaryBits)
            writer.bytes.append(contentsOf: Self.multipartAlternative)
            writer.bytes.append(contentsOf: boundary)
            writer.bytes.append(contentsOf: [34, 13, 10, 13, 10])  // closing quote, end of header, blank line
            // The CRLF before each delimiter belongs to the delimiter (RFC 2046 §5.1.1), so a
            // part's content ends exactly where its text ends.
            Self.appendDelimiter(boundary, to: &writer.bytes, first: true)
            writer.bytes.append(contentsOf: Self.textPlainHeaders)
            MIME.appendQuotedPrintable(text, endWithLineBreak: false, to: &writer.bytes)
            Self.appendDelimiter(boundary, to: &writer.bytes, first: false)
            writer.bytes.append(contentsOf: Self.textHTMLHeaders)
            MIME.appendQuotedPrintable(html, endWithLineBreak: false, to: &writer.bytes)
            Self.appendDelimiter(boundary, to: &writer.bytes, first: false)
            writer.bytes.removeLast(2)
            writer.bytes.append(contentsOf: [45, 45, 13, 10])  // --CRLF closes the multipart
        } else {
            writer.bytes.append(contentsOf: Self.textPlainHeaders)
            MIME.appendQuotedPrintable(text, endWithLineBreak: true, to: &writer.bytes)
        }
        return ComposedMessage(messageID: id, bytes: writer.bytes)
    }

    /// A new globally unique message id, `<32 hex digits.unix time@domain>`. The 32 digits are
    /// 88 bits the process drew at random once (a collision between any two runs, on any hosts,
    /// as unlikely as between 2^44 random draws) followed by a 40-bit counter, so one run's ids
    /// never repeat and sort in the order they were made. The time only helps a person reading logs.
    public static func generateMessageID(domain: String) -> String {
        generateMessageID(domain: domain, unixTime: Int64(Date().timeIntervalSince1970), unique: MessageIDSequence.shared.next())
    }

    private static func generateMessageID(domain: String, unixTime: Int64,
                                          unique: (random: (UInt64, UInt64), counter: UInt64)) -> String {
        var bytes: [UInt8] = [UInt8(ascii: "<")]
        bytes.reserveCapacity(56 + domain.utf8.count)
        appendHex(unique.random.0, to: &bytes)
        appendHex(unique.random.1, digits: 6, to: &bytes)
        appendHex(unique.counter, digits: 10, to: &bytes)
        bytes.append(UInt8(ascii: "."))
        bytes.append(contentsOf: String(unixTime).utf8)
        bytes.append(UInt8(ascii: "@"))
        bytes.append(contentsOf: domain.utf8)
        bytes.append(UInt8(ascii: ">"))
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: Headers

    private static let fixedHeaders: [UInt8] = Array(
        "MIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\nPrecedence: bulk\r\n".utf8)
    private static let multipartAlternative: [UInt8] = Array(
        "Content-Type: multipart/alternative; boundary=\"".utf8)
    private static let textPlainHeaders: [UInt8] = Array(
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n".utf8)
    private static let textHTMLHeaders: [UInt8] = Array(
        "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n".utf8)

    /// Headers the composer writes itself, plus the copy headers a one-recipient message must not have.
    private static let reservedHeaders: Set<String> = [
        "date", "from", "to", "subject", "message-id", "in-reply-to", "references", "mime-version",
        "auto-submitted", "precedence", "content-type", "content-transfer-encoding",
    ]

    static func validateExtraHeader(name: String, value: String) throws {
        let nameBytes = name.utf8
        if nameBytes.isEmpty { throw HeaderError("extra header has an empty name") }
        for byte in nameBytes where byte < 33 || byte > 126 || byte == UInt8(ascii: ":") {
            let reason = byte == 13 || byte == 10 ? "a line break" : "the character \(HeaderCheck.quoted(String(decoding: [byte], as: UTF8.self)))"
            throw HeaderError("extra header name \(HeaderCheck.quoted(name)) contains \(reason)")
        }
        if nameBytes.count > 76 { throw HeaderError("extra header name \(HeaderCheck.quoted(name)) is too long") }
        let lowercased = name.lowercased()
        if lowercased == "cc" || lowercased == "bcc" {
            throw HeaderError("header '\(name)' is not allowed: each message goes to exactly one recipient")
        }
        if reservedHeaders.contains(lowercased) {
            throw HeaderError("header '\(name)' is written by the composer and cannot be an extra header")
        }
        try HeaderCheck.rejectLineBreaks(in: value, header: name)
        for byte in value.utf8 where (byte < 32 && byte != 9) || byte > 126 {
            throw HeaderError("header '\(name)' contains non-ASCII or control characters; encode the value first")
        }
    }

    /// `Name <address>`, with the name as atoms, a quoted string or encoded-words, whichever
    /// reads best and keeps the line short.
    private static func appendMailbox(_ mailbox: Mailbox, to writer: inout MIME.HeaderWriter) {
        let address = mailbox.address
        guard var name = mailbox.name else {
            writer.append(address)
            return
        }
        let addressLength = address.utf8.count + 3  // " <" and ">"
        name.withUTF8 { bytes in
            switch phraseForm(bytes) {
            case .atoms where writer.column + bytes.count + addressLength <= MIME.recommendedLineLength:
                writer.bytes.append(contentsOf: bytes)
                writer.column += bytes.count
            case .quoted(let escapes)
            where writer.column + bytes.count + escapes + 2 + addressLength <= MIME.recommendedLineLength:
                writer.append(byte: UInt8(ascii: "\""))
                for byte in bytes {
                    if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                        writer.append(byte: UInt8(ascii: "\\"))
                    }
                    writer.append(byte: byte)
                }
                writer.append(byte: UInt8(ascii: "\""))
            default:
                writer.appendEncodedWords(bytes)
            }
        }
        if writer.column + addressLength > MIME.quotedPrintableLineLength {
            writer.fold()
        } else {
            writer.append(byte: 32)
        }
        writer.append(byte: UInt8(ascii: "<"))
        writer.append(address)
        writer.append(byte: UInt8(ascii: ">"))
    }

    private enum PhraseForm {
        case atoms
        case quoted(escapes: Int)
        case encoded
    }

    private static func phraseForm(_ bytes: UnsafeBufferPointer<UInt8>) -> PhraseForm {
        var atoms = true
        var escapes = 0
        var previous: UInt8 = 32
        for byte in bytes {
            if byte < 32 || byte > 126 { return .encoded }
            if byte == UInt8(ascii: "?") && previous == UInt8(ascii: "=") { return .encoded }
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { escapes += 1 }
            if byte == 32 {
                if previous == 32 { atoms = false }
            } else if !HeaderCheck.isAtext(byte) {
                atoms = false
            }
            previous = byte
        }
        if previous == 32 { atoms = false }  // a trailing space (or an empty name)
        return atoms ? .atoms : .quoted(escapes: escapes)
    }

    /// Printable ASCII is written as it is, folded at whitespace; anything else, or text that
    /// looks like an encoded-word, is encoded so that readers show exactly the given text.
    private static func appendUnstructured(_ value: String, to writer: inout MIME.HeaderWriter) {
        var value = value
        value.withUTF8 { bytes in
            var plain = true
            var previous: UInt8 = 0
            for byte in bytes {
                if (byte < 32 && byte != 9) || byte > 126 || (byte == UInt8(ascii: "?") && previous == UInt8(ascii: "=")) {
                    plain = false
                    break
                }
                previous = byte
            }
            if plain && writer.appendFolded(bytes) { return }
            writer.appendEncodedWords(bytes)
        }
    }

    // MARK: Body

    /// `=_` plus random hex. Quoted-printable writes `=` only before two hex digits or a line
    /// break, so `=_` can never occur in an encoded part: the boundary cannot collide with content.
    private static func makeBoundary(random: UInt64) -> [UInt8] {
        var boundary: [UInt8] = Array("=_ef".utf8)
        appendHex(random, to: &boundary)
        return boundary
    }

    private static func appendDelimiter(_ boundary: [UInt8], to out: inout [UInt8], first: Bool) {
        if !first {
            out.append(13)
            out.append(10)
        }
        out.append(45)
        out.append(45)
        out.append(contentsOf: boundary)
        out.append(13)
        out.append(10)
    }

    /// The low `digits` hex digits of `value`, lowercase, zero-padded to that width.
    private static func appendHex(_ value: UInt64, digits: UInt64 = 16, to out: inout [UInt8]) {
        var shift: UInt64 = (digits - 1) * 4
        while true {
            out.append(MIME.hexDigit(UInt8((value >> shift) & 15)) | 0x20)  // lowercase
            if shift == 0 { break }
            shift -= 4
        }
    }

    // MARK: Date

    private static let weekdayNames: [UInt8] = Array("ThuFriSatSunMonTueWed".utf8)
    private static let monthNames: [UInt8] = Array("JanFebMarAprMayJunJulAugSepOctNovDec".utf8)

    /// RFC 5322 §3.3 in UTC: `Tue, 14 Nov 2023 22:13:20 +0000`. Dates outside years 1970-9999
    /// are clamped, since the format has no room for them.
    private static func appendDate(_ unixTime: Int64, to out: inout [UInt8]) {
        let time = min(max(unixTime, 0), 253_402_300_799)
        let days = time / 86_400
        let seconds = Int(time % 86_400)
        // Days to civil date, after Howard Hinnant's `civil_from_days` (no era needed: days >= 0).
        let shifted = Int(days) + 719_468
        let era = shifted / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153  // 0 = March
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)

        let weekday = Int(days % 7) * 3  // 1970-01-01 was a Thursday
        out.append(contentsOf: weekdayNames[weekday..<(weekday + 3)])
        out.append(UInt8(ascii: ","))
        out.append(32)
        appendTwoDigits(day, to: &out)
        out.append(32)
        out.append(contentsOf: monthNames[((month - 1) * 3)..<((month - 1) * 3 + 3)])
        out.append(32)
        appendTwoDigits(year / 100, to: &out)
        appendTwoDigits(year % 100, to: &out)
        out.append(32)
        appendTwoDigits(seconds / 3600, to: &out)
        out.append(UInt8(ascii: ":"))
        appendTwoDigits(seconds / 60 % 60, to: &out)
        out.append(UInt8(ascii: ":"))
        appendTwoDigits(seconds % 60, to: &out)
        out.append(contentsOf: [32, 43, 48, 48, 48, 48])  // " +0000"
    }

    @inline(__always)
    private static func appendTwoDigits(_ value: Int, to out: inout [UInt8]) {
        out.append(UInt8(48 + value / 10))
        out.append(UInt8(48 + value % 10))
    }
}
