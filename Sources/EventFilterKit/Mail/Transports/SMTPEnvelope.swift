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
        let scalars = address.unicodeScalars
        if scalars.contains(where: { $0 == "\r" || $0 == "\n" }) { return "a line break" }
        if scalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) { return "a control character" }
        if scalars.contains(where: { $0 == "<" || $0 == ">" }) { return "an angle bracket" }
        return nil
    }
}
