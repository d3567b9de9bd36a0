/// One reply of an SMTP server, possibly multi-line ("250-SIZE 1000\r\n250 HELP\r\n").
///
///     let reply = try wire.readReply(until: deadline)   // SMTPReply(code: 250, lines: "250 2.0.0 Ok")
///     if reply.isPositive { ... } else { quote(reply.oneLine) }
struct SMTPReply {
    /// The three-digit code (RFC 5321 section 4.2), 0 when the first line does not start with one.
    let code: Int
    /// The lines, LF-separated, CR stripped, as the server sent them.
    let lines: [UInt8]

    init(lines: [UInt8]) {
        self.lines = lines
        var code = 0
        for byte in lines.prefix(3) {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { code = 0; break }
            code = code * 10 + Int(byte - UInt8(ascii: "0"))
        }
        self.code = lines.count >= 3 ? code : 0
    }

    /// Whether `line` (CR and LF stripped) is a reply's last: "250 ..." ends it, "250-..."
    /// continues it (RFC 5321 section 4.2.1).
    static func endsReply<Line: Collection>(_ line: Line) -> Bool where Line.Element == UInt8 {
        line.count < 4 || line[line.index(line.startIndex, offsetBy: 3)] != UInt8(ascii: "-")
    }

    /// 2xx: the command worked.
    var isPositive: Bool { (200...299).contains(code) }

    /// The reply as one printable line: "550 5.1.1 no such user".
    var oneLine: String { SMTPReplyText.oneLine(lines) }
}
