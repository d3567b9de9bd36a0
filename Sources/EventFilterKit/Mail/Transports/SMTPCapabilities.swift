/// The SMTP extensions a server listed in its reply to EHLO that the transport makes use of.
///
///     var capabilities = SMTPCapabilities()
///     capabilities.note(line: "250-PIPELINING")   // each line of the EHLO reply
///     capabilities.pipelining                       // true
struct SMTPCapabilities: Equatable {
    /// RFC 2920: MAIL, RCPT and DATA may go in one write, their replies read afterwards.
    var pipelining = false
    /// RFC 1870: MAIL FROM may carry SIZE=, so an oversized message is refused before its data.
    var size = false
    /// RFC 6531: MAIL FROM may carry SMTPUTF8 for addresses that are not ASCII.
    var smtpUTF8 = false

    /// Takes one line of the EHLO reply ("250-SIZE 10240000", CR and LF stripped). The first line
    /// names the server and matches no keyword here.
    mutating func note(line: UnsafeRawBufferPointer.SubSequence) {
        guard line.count > 4 else { return }
        let keyword = line.dropFirst(4).prefix { $0 != 0x20 }
        if Self.matches(keyword, "PIPELINING") { pipelining = true }
        if Self.matches(keyword, "SIZE") { size = true }
        if Self.matches(keyword, "SMTPUTF8") { smtpUTF8 = true }
    }

    /// EHLO keywords are case-insensitive (RFC 5321 section 2.4).
    private static func matches(_ keyword: UnsafeRawBufferPointer.SubSequence, _ name: StaticString) -> Bool {
        guard keyword.count == name.utf8CodeUnitCount else { return false }
        return name.withUTF8Buffer { expected in
            // ASCII upper case for letters only: "8" & 0xDF is no longer "8".
            zip(keyword, expected).allSatisfy { ($0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0) == $1 }
        }
    }
}
