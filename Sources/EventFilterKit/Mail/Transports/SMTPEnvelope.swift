/// Envelope addresses go into SMTP command lines: a line break there would let a message's data
/// inject commands, so such addresses are refused before the server is contacted.
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
        for byte in address.utf8 {
            switch byte {
            case 0x0D, 0x0A: lineBreak = true
            case 0..<0x20, 0x7F: control = true
            case UInt8(ascii: "<"), UInt8(ascii: ">"): angle = true
            default: break
            }
        }
        if lineBreak { return "a line break" }
        if control { return "a control character" }
        if angle { return "an angle bracket" }
        return nil
    }
}
