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
