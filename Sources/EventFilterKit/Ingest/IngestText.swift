/// Small text helpers for building safe one-line answers and ids.
enum IngestText {
    /// Trims spaces, tabs, CR and LF: HTTP's notion of whitespace, not Unicode's.
    static func trim<S: StringProtocol>(_ text: S) -> String {
        let scalars = Array(text.unicodeScalars)
        func isSpace(_ scalar: Unicode.Scalar) -> Bool {
            scalar == " " || scalar == "\t" || scalar == "\r" || scalar == "\n"
        }
        guard let first = scalars.firstIndex(where: { !isSpace($0) }),
            let last = scalars.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(String.UnicodeScalarView(scalars[first...last]))
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
