/// Small text helpers for building safe one-line answers and ids.
enum IngestText {
    /// Trims spaces, tabs, CR and LF: HTTP's notion of whitespace, not Unicode's.
    static func trim<S: StringProtocol>(_ text: S) -> String {
        // Nothing to cut, the usual case (a space is one ASCII byte, never part of another
        // character's bytes): the text as it is, without copying it scalar by scalar.
        let whole = String(text)
        if let first = whole.utf8.first, let last = whole.utf8.last, !isSpaceByte(first), !isSpaceByte(last) {
            return whole
        }
        let scalars = Array(text.unicodeScalars)
        func isSpace(_ scalar: Unicode.Scalar) -> Bool {
            scalar == " " || scalar == "\t" || scalar == "\r" || scalar == "\n"
        }
        guard let first = scalars.firstIndex(where: { !isSpace($0) }),
            let last = scalars.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(String.UnicodeScalarView(scalars[first...last]))
    }

    private static func isSpaceByte(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A
    }

    /// A sender-supplied value fit to quote in a one-line reason: control characters replaced,
    /// at most 60 characters, in single quotes.
    static func quoted(_ text: String) -> String {
        var scalars = text.unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : $0 }
        var suffix = ""
        if scalars.count > 60 {
            scalars = Array(scalars.prefix(60))
            suffix = "…"
        }
        return "'" + String(String.UnicodeScalarView(scalars)) + suffix + "'"
    }
}
