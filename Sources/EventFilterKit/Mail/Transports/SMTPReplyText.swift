/// Turns a server reply (possibly multi-line) into one short printable line.
enum SMTPReplyText {
    static let maximumLength = 300

    static func oneLine(_ bytes: [UInt8]) -> String {
        // Every accepted message's reply passes here ("250 2.0.0 Ok: queued as 4F2A1"): a line of
        // printable ASCII with single spaces is its own one-line form, so it is copied; the general
        // path's walk over Unicode scalars was 4% of a delivery's CPU.
        if isAlreadyOneLine(bytes) { return String(decoding: bytes, as: UTF8.self) }
        return general(bytes)
    }

    /// One line of printable ASCII (no control bytes), a space after the code, no two spaces in a
    /// row and none at the end (the general path drops those around an enhanced status code),
    /// short enough.
    static func isAlreadyOneLine(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 5, bytes.count <= maximumLength, bytes[3] == 0x20, bytes.last != 0x20 else { return false }
        var previous: UInt8 = 0
        for byte in bytes {
            guard byte >= 0x20 && byte < 0x7F && !(byte == 0x20 && previous == 0x20) else { return false }
            previous = byte
        }
        return true
    }

    static func general(_ bytes: [UInt8]) -> String {
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
