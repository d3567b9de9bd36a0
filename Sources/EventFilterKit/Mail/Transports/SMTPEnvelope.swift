import CCurl
import Foundation

/// Envelope addresses go into SMTP command lines: a line break there would let a message's data
/// inject commands, so such addresses are refused before the server is contacted.
///
///     SMTPEnvelope.problem(sender: "a@example.org", recipient: "b\r\nRCPT TO:<c>")  // "recipient address … contains a line break"
///     SMTPEnvelope.wireForm(of: "ann@bücher.example")                               // "ann@xn--bcher-kva.example"
enum SMTPEnvelope {
    static func problem(sender: String, recipient: String) -> String? {
        if recipient.isEmpty { return "recipient address is empty" }
        if let bad = unsafeCharacter(in: recipient) { return "recipient address \(recipient.debugDescription) contains \(bad)" }
        if let bad = unsafeCharacter(in: sender) { return "sender address \(sender.debugDescription) contains \(bad)" }
        return nil
    }

    private static func unsafeCharacter(in address: String) -> String? {
        // One pass over the UTF-8 bytes, once per message: a control character is a byte below
        // 0x20 or 0x7F, and no byte of a multi-byte character is below 0x80.
        var lineBreak = false, control = false, angle = false
        // The string's bytes in one buffer (withUTF8): iterating its UTF-8 view instead cost
        // about 20 instructions a byte (callgrind), twice a message.
        var address = address
        address.withUTF8 { bytes in
            for byte in bytes {
                switch byte {
                case 0x0D, 0x0A: lineBreak = true
                case 0..<0x20, 0x7F: control = true
                case UInt8(ascii: "<"), UInt8(ascii: ">"): angle = true
                default: break
                }
            }
        }
        if lineBreak { return "a line break" }
        if control { return "a control character" }
        if angle { return "an angle bracket" }
        return nil
    }

    /// The bytes of an address as MAIL FROM or RCPT TO carries it: a domain that is not ASCII in
    /// its ASCII form (IDNA, through libcurl's URL parser: the conversion libcurl applied to the
    /// envelope), so a server without SMTPUTF8 can route it; the local part as it is. Left as
    /// UTF-8 when libcurl cannot convert it.
    /// `asciiForm` converts the domain (nil: it stays as it came); ``SMTPDomainForms`` passes
    /// one that remembers each domain's form, so a connection converts each domain once.
    static func wireForm(of address: String,
                         asciiForm: (ArraySlice<UInt8>) -> [UInt8]? = SMTPEnvelope.asciiForm(ofDomain:)) -> [UInt8] {
        let bytes = Array(address.utf8)
        guard let at = bytes.lastIndex(of: UInt8(ascii: "@")), bytes[(at + 1)...].contains(where: { $0 >= 0x80 }),
              let ascii = asciiForm(bytes[(at + 1)...]) else {
            return bytes
        }
        return Array(bytes[...at]) + ascii
    }

    /// The ASCII form of a domain that is not ASCII, or nil when it stays as it came (libcurl
    /// cannot convert it, or its form is no host name).
    static func asciiForm(ofDomain domainBytes: ArraySlice<UInt8>) -> [UInt8]? {
        let domain = String(decoding: domainBytes, as: UTF8.self)
        guard let converted = ccurl_idn_to_ascii(domain) else { return nil }
        defer { free(converted) }
        let ascii = Array(String(cString: converted).utf8)
        // UTS #46 maps some characters to ASCII that means something in a command line
        // (fullwidth ">" to ">", a no-break space to a space): only letters, digits, "-", "_"
        // and "." are a host name; anything else would close the address early and add
        // parameters to the command, so such a domain stays as it came.
        guard ascii.allSatisfy({ isHostNameByte($0) }) else { return nil }
        return ascii
    }

    /// Whether a byte of `text`'s UTF-8 is not ASCII (0x80 or above), read from the string's
    /// bytes in one buffer (withUTF8): iterating its UTF-8 view instead cost about 20
    /// instructions a byte (callgrind).
    static func hasNonASCII(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { $0.contains { $0 >= 0x80 } }
    }

    private static func isHostNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
            return true
        default:
            return false
        }
    }
}
