/// The step an SMTP conversation had reached; failure reasons name it.
enum SMTPStage: Sendable, Equatable {
    /// `message`: the message's bytes are going out; `endOfData`: all of them (and the final
    /// dot) are out, and the server's verdict on the message is awaited.
    case connecting, hello, starttls, authentication, sender, recipient, data, message, endOfData, quit

    /// The stage a client command line starts, or nil for lines that start none
    /// (AUTH continuation lines, the end-of-data dot).
    init?(commandLine line: UnsafeRawBufferPointer) {
        var word: [UInt8] = []
        for byte in line.prefix(9) {
            if byte == 0x20 || byte == 0x0D || byte == 0x0A { break }
            word.append(byte & 0xDF)  // ASCII upper case
        }
        switch String(decoding: word, as: UTF8.self) {
        case "EHLO", "HELO": self = .hello
        case "STARTTLS": self = .starttls
        case "AUTH": self = .authentication
        case "MAIL": self = .sender
        case "RCPT": self = .recipient
        case "DATA": self = .data
        case "QUIT": self = .quit
        default: return nil
        }
    }
}

/// What the libcurl callbacks of one connection read and write during `curl_easy_perform`:
/// the message being uploaded and what the server last said.
///
/// curl holds an unretained pointer to it (READDATA, DEBUGDATA); ``SMTPConnection`` keeps it
/// alive for as long as the handle exists. The callbacks run on the thread inside perform, which
/// is the connection's owner, so no locking is needed.
final class SMTPExchange {
    private var body: [UInt8] = []
    private var offset = 0
    private(set) var stage: SMTPStage = .connecting
    /// Set once curl sends QUIT (it does after a failure): later lines are only the goodbye.
    private var closing = false
    /// The lines of the server's latest reply, LF-separated, CR stripped. Never client lines,
    /// so credentials sent during AUTH cannot end up here.
    private var reply: [UInt8] = []
    private var replyComplete = true
    /// Whether the server said anything during this attempt (else an old reply code is stale).
    private(set) var heardServer = false

    func begin(uploading bytes: [UInt8]) {
        body = bytes
        offset = 0
        stage = .connecting
        closing = false
        reply.removeAll(keepingCapacity: true)
        replyComplete = true
        heardServer = false
    }

    func finish() {
        body = []
    }

    /// Copies the next part of the message into curl's buffer; 0 means end of message.
    func read(into buffer: UnsafeMutablePointer<CChar>, capacity: Int) -> Int {
        let count = min(capacity, body.count - offset)
        if count > 0 {
            body.withUnsafeBytes { source in
                UnsafeMutableRawPointer(buffer).copyMemory(from: source.baseAddress! + offset, byteCount: count)
            }
            offset += count
        }
        // With the size announced, curl stops asking after the last byte and sends the final
        // ".": from here on it waits for the reply that says whether the server took the message.
        if offset == body.count && (stage == .data || stage == .message) { stage = .endOfData }
        return count
    }

    func clientSent(_ line: UnsafeRawBufferPointer) {
        guard !closing, let next = SMTPStage(commandLine: line) else { return }
        if next == .quit {
            closing = true
            return
        }
        // AUTH continuation lines are base64 and cannot contain a space; only a real MAIL or
        // QUIT ends the authentication stage.
        if stage == .authentication && next != .sender && next != .quit { return }
        stage = next
    }

    /// After a failure curl sends QUIT; its "221 bye" must not replace the reply that failed.
    func serverSent(_ chunk: UnsafeRawBufferPointer) {
        guard !closing else { return }
        for rawLine in chunk.split(separator: 0x0A, omittingEmptySubsequences: true) {
            let line = rawLine.last == 0x0D ? rawLine.dropLast() : rawLine[...]
            guard !line.isEmpty else { continue }
            if replyComplete {
                reply.removeAll(keepingCapacity: true)
            } else {
                reply.append(0x0A)
            }
            reply.append(contentsOf: line)
            // "250-..." continues a multi-line reply, "250 ..." ends it.
            replyComplete = line.count < 4 || line[line.startIndex + 3] != UInt8(ascii: "-")
            heardServer = true
        }
    }

    func messageDataStarted() {
        if stage == .data { stage = .message }
    }

    /// The latest reply as one printable line: "550 5.1.1 no such user".
    var replyText: String? {
        guard !reply.isEmpty else { return nil }
        return SMTPReplyText.oneLine(reply)
    }
}

/// Turns a server reply (possibly multi-line) into one short printable line.
enum SMTPReplyText {
    static let maximumLength = 300

    static func oneLine(_ bytes: [UInt8]) -> String {
        let lines = bytes.split(separator: 0x0A).map { line in
            String(decoding: line, as: UTF8.self).unicodeScalars
                .map { $0.properties.generalCategory == .control ? "?" : String($0) }.joined()
        }
        guard let first = lines.first else { return "" }
        // "550-5.1.1 a" + "550 5.1.1 b" -> "550 5.1.1 a b": keep the code (and a repeated
        // enhanced status) once.
        let code = String(first.prefix(3))
        var texts = lines.map { $0.count > 4 ? String($0.dropFirst(4)) : "" }
        if let status = texts.first?.split(separator: " ").first, status.contains("."),
           texts.allSatisfy({ $0.hasPrefix(status + " ") || $0 == status }) {
            texts = texts.map { String($0.dropFirst(status.count)).trimmingLeadingSpaces() }
            texts[0] = status + (texts[0].isEmpty ? "" : " " + texts[0])
        }
        let text = ([code] + texts.filter { !$0.isEmpty }).joined(separator: " ")
        return text.count > maximumLength ? String(text.prefix(maximumLength)) + "…" : text
    }
}

extension String {
    fileprivate func trimmingLeadingSpaces() -> String {
        String(drop(while: { $0 == " " }))
    }
}
