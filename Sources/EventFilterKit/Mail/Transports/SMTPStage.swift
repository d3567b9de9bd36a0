/// The step an SMTP conversation had reached; failure reasons name it.
enum SMTPStage: Sendable, Equatable {
    /// `message`: the message's bytes are going out; `endOfData`: all of them (and the final
    /// dot) are out, and the server's verdict on the message is awaited.
    case connecting, hello, starttls, authentication, sender, recipient, data, message, endOfData, quit

    /// The stage a client command line starts, or nil for lines that start none
    /// (AUTH continuation lines, the end-of-data dot).
    init?(commandLine line: UnsafeRawBufferPointer) {
        // The command word, upper-cased, packed into an integer: this runs for each command line
        // curl sends while it opens a connection (EHLO, STARTTLS, AUTH and its continuations),
        // inside its debug callback, so it allocates nothing.
        var word: UInt64 = 0
        var length = 0
        for byte in line.prefix(9) {
            if byte == 0x20 || byte == 0x0D || byte == 0x0A { break }
            guard length < 8 else { return nil }  // longer than any command
            word = word << 8 | UInt64(byte & 0xDF)  // ASCII upper case
            length += 1
        }
        switch word {
        case Self.packed("EHLO"), Self.packed("HELO"): self = .hello
        case Self.packed("STARTTLS"): self = .starttls
        case Self.packed("AUTH"): self = .authentication
        case Self.packed("MAIL"): self = .sender
        case Self.packed("RCPT"): self = .recipient
        case Self.packed("DATA"): self = .data
        case Self.packed("QUIT"): self = .quit
        default: return nil
        }
    }

    private static func packed(_ command: StaticString) -> UInt64 {
        var word: UInt64 = 0
        command.withUTF8Buffer { for byte in $0 { word = word << 8 | UInt64(byte) } }
        return word
    }
}

extension SMTPStage {
    /// Connecting, greeting, EHLO, STARTTLS or AUTH: the steps every message on a new
    /// connection goes through, so a failure here would repeat for all of them.
    var isSessionSetup: Bool {
        switch self {
        case .connecting, .hello, .starttls, .authentication: return true
        case .sender, .recipient, .data, .message, .endOfData, .quit: return false
        }
    }

    /// MAIL FROM was sent: the session setup worked.
    var isAfterSessionSetup: Bool {
        switch self {
        case .sender, .recipient, .data, .message, .endOfData: return true
        case .connecting, .hello, .starttls, .authentication, .quit: return false
        }
    }

    /// Where a reply came: "in reply to MAIL FROM", "in its greeting".
    var answering: String {
        switch self {
        case .connecting: return "in its greeting"
        case .hello: return "in reply to EHLO"
        case .starttls: return "in reply to STARTTLS"
        case .authentication: return "in reply to AUTH"
        case .sender: return "in reply to MAIL FROM"
        case .recipient: return "in reply to RCPT TO"
        case .data: return "in reply to DATA"
        case .message, .endOfData: return "in reply to the message"
        case .quit: return "in reply to QUIT"
        }
    }

    /// "while waiting for the RCPT TO reply", for timeouts and dropped connections.
    var during: String {
        switch self {
        case .connecting: return "while connecting"
        case .hello: return "waiting for the EHLO reply"
        case .starttls: return "during STARTTLS"
        case .authentication: return "during authentication"
        case .sender: return "waiting for the MAIL FROM reply"
        case .recipient: return "waiting for the RCPT TO reply"
        case .data: return "waiting for the DATA reply"
        case .message: return "while sending the message"
        case .endOfData: return "waiting for the reply to the message"
        case .quit: return "while closing"
        }
    }
}
