extension StringProtocol {
    /// The text without the spaces and tabs around it: what Foundation's
    /// `trimmingCharacters(in: .whitespaces)` gives (the space separators U+0020, U+00A0, U+1680,
    /// U+2000-U+200A, U+202F, U+205F, U+3000, with U+0009 and, as Foundation has it, U+200B), in
    /// Swift alone. Foundation's goes through NSString, and the settings every command reads at
    /// start called it a dozen times.
    ///
    ///     " 30\t".trimmingWhitespace   // "30"
    var trimmingWhitespace: String {
        let scalars = unicodeScalars
        func isSpace(_ scalar: Unicode.Scalar) -> Bool {
            switch scalar.value {
            case 0x20, 0x09, 0xA0, 0x1680, 0x2000...0x200B, 0x202F, 0x205F, 0x3000: return true
            default: return false
            }
        }
        guard let first = scalars.firstIndex(where: { !isSpace($0) }),
              let last = scalars.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(String.UnicodeScalarView(scalars[first...last]))
    }
}
