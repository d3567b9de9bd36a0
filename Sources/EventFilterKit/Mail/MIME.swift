/// The byte-level encoders behind `MessageComposer`: quoted-printable bodies (RFC 2045 §6.7),
/// RFC 2047 encoded-words, and header folding (RFC 5322 §2.2.3). Everything writes ASCII
/// straight into a `[UInt8]`, so composing a message makes no intermediate strings.
enum MIME {
    static let recommendedLineLength = 78
    static let maximumLineLength = 998
    /// RFC 2045: encoded lines are at most 76 characters, the soft break's `=` included.
    static let quotedPrintableLineLength = 76
    /// RFC 2047 §2: "An encoded-word may not be more than 75 characters long".
    static let encodedWordLength = 75

    @inline(__always)
    static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? 48 + value : 55 + value
    }

    // MARK: Quoted-printable

    /// Appends `text` as quoted-printable with CRLF hard line breaks.
    ///
    /// CRLF, LF and a lone CR in the text all become hard breaks. Besides what RFC 2045 requires
    /// (`=`, bytes outside 33...126, whitespace before a line end), a `.` or the `F` of `From `
    /// at the start of an encoded line is encoded too, so neither SMTP dot handling nor mbox
    /// `>From` quoting can alter the text.
    ///
    /// With `endWithLineBreak`, output for text that does not end with a line break gets a final
    /// soft break (`=` CRLF), which decodes to nothing: the body ends in CRLF as SMTP wants, and
    /// the text still round-trips exactly.
    static func appendQuotedPrintable(_ text: String, endWithLineBreak: Bool, to out: inout [UInt8]) {
        var text = text
        text.withUTF8 { appendQuotedPrintable($0, endWithLineBreak: endWithLineBreak, to: &out) }
    }

    static func appendQuotedPrintable(_ input: UnsafeBufferPointer<UInt8>, endWithLineBreak: Bool, to out: inout [UInt8]) {
        let count = input.count
        guard count > 0 else { return }
        let endsWithBreak = input[count - 1] == 10 || input[count - 1] == 13
        let addSoftBreak = endWithLineBreak && !endsWithBreak
        // Before a final soft break the last line must leave room for its `=`.
        let afterEnd: UInt8 = addSoftBreak ? 0 : 10
        // Worst case: every byte as =XX (3), plus a 3-byte soft break per 24 input bytes.
        let encoded = [UInt8](unsafeUninitializedCapacity: 3 * count + count / 8 + 8) { buffer, written in
            quotedPrintableClasses.withUnsafeBufferPointer { classes in
                var index = 0
                var column = 0
                var position = 0
                while index < count {
                    let byte = input[index]
                    let byteClass = classes[Int(byte)]
                    // Most bytes are plain and mid-line: they fit whether or not the line ends here.
                    // So are a `.` or `F` after a line's start, and a space or tab with more of
                    // the line after it: none of them needs encoding there (the full check below
                    // would say the same, at several times the cost; spaces are common in text).
                    if column < quotedPrintableLineLength - 1 {
                        if byteClass == QuotedPrintableClass.literal
                            || column > 0 && (byteClass == QuotedPrintableClass.dot || byteClass == QuotedPrintableClass.capitalF)
                            || byteClass == QuotedPrintableClass.whitespace && index + 1 < count
                                && input[index + 1] != 13 && input[index + 1] != 10 {
                            buffer[position] = byte
                            position += 1
                            column += 1
                            index += 1
                            continue
                        }
                    }
                    if byteClass == QuotedPrintableClass.lineBreak {
                        buffer[position] = 13
                        buffer[position + 1] = 10
                        position += 2
                        column = 0
                        index += (byte == 13 && index + 1 < count && input[index + 1] == 10) ? 2 : 1
                        continue
                    }
                    let next: UInt8 = index + 1 < count ? input[index + 1] : afterEnd
                    let atLineEnd = next == 13 || next == 10
                    var encode = needsEncoding(byteClass, atLineEnd: atLineEnd, atLineStart: column == 0, input, index)
                    // The last character of a line may use column 76; any other needs room for a soft break.
                    let limit = atLineEnd ? quotedPrintableLineLength : quotedPrintableLineLength - 1
                    if column + (encode ? 3 : 1) > limit {
                        buffer[position] = UInt8(ascii: "=")
                        buffer[position + 1] = 13
                        buffer[position + 2] = 10
                        position += 3
                        column = 0
                        encode = needsEncoding(byteClass, atLineEnd: atLineEnd, atLineStart: true, input, index)
                    }
                    if encode {
                        buffer[position] = UInt8(ascii: "=")
                        buffer[position + 1] = hexDigit(byte >> 4)
                        buffer[position + 2] = hexDigit(byte & 15)
                        position += 3
                        column += 3
                    } else {
                        buffer[position] = byte
                        position += 1
                        column += 1
                    }
                    index += 1
                }
                if addSoftBreak {
                    buffer[position] = UInt8(ascii: "=")
                    buffer[position + 1] = 13
                    buffer[position + 2] = 10
                    position += 3
                }
                written = position
            }
        }
        out.append(contentsOf: encoded)
    }

    /// How quoted-printable treats each byte value.
    private enum QuotedPrintableClass {
        static let literal: UInt8 = 0
        /// `=`, controls, DEL and every non-ASCII byte.
        static let encoded: UInt8 = 1
        /// Space and tab: literal, except before a line end.
        static let whitespace: UInt8 = 2
        static let dot: UInt8 = 3
        static let capitalF: UInt8 = 4
        static let lineBreak: UInt8 = 5
    }

    private static let quotedPrintableClasses: [UInt8] = (0..<256).map { value in
        switch value {
        case 13, 10: return QuotedPrintableClass.lineBreak
        case 32, 9: return QuotedPrintableClass.whitespace
        case Int(UInt8(ascii: ".")): return QuotedPrintableClass.dot
        case Int(UInt8(ascii: "F")): return QuotedPrintableClass.capitalF
        case Int(UInt8(ascii: "=")), 0..<32, 127...: return QuotedPrintableClass.encoded
        default: return QuotedPrintableClass.literal
        }
    }

    /// Besides what RFC 2045 requires, a `.` or the `F` of `From ` at the start of a line is
    /// encoded: SMTP and mbox treat those lines specially.
    @inline(__always)
    private static func needsEncoding(
        _ byteClass: UInt8, atLineEnd: Bool, atLineStart: Bool, _ input: UnsafeBufferPointer<UInt8>, _ index: Int
    ) -> Bool {
        switch byteClass {
        case QuotedPrintableClass.encoded:
            return true
        case QuotedPrintableClass.whitespace:
            return atLineEnd
        case QuotedPrintableClass.dot:
            return atLineStart
        case QuotedPrintableClass.capitalF:
            return atLineStart && index + 4 < input.count && input[index + 1] == UInt8(ascii: "r")
                && input[index + 2] == UInt8(ascii: "o") && input[index + 3] == UInt8(ascii: "m")
                && input[index + 4] == 32
        default:
            return false
        }
    }

    // MARK: Base64 and encoded-words

    private static let base64Alphabet: [UInt8] = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func appendBase64(_ input: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int, to out: inout [UInt8]) {
        base64Alphabet.withUnsafeBufferPointer { alphabet in
            var index = start
            while index + 3 <= end {
                let value = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
                out.append(alphabet[Int(value >> 18)])
                out.append(alphabet[Int((value >> 12) & 63)])
                out.append(alphabet[Int((value >> 6) & 63)])
                out.append(alphabet[Int(value & 63)])
                index += 3
            }
            let rest = end - index
            if rest > 0 {
                let value = UInt32(input[index]) << 16 | (rest == 2 ? UInt32(input[index + 1]) << 8 : 0)
                out.append(alphabet[Int(value >> 18)])
                out.append(alphabet[Int((value >> 12) & 63)])
                out.append(rest == 2 ? alphabet[Int((value >> 6) & 63)] : UInt8(ascii: "="))
                out.append(UInt8(ascii: "="))
            }
        }
    }

    /// The length of the UTF-8 sequence that starts with `lead`.
    @inline(__always)
    static func utf8SequenceLength(_ lead: UInt8) -> Int {
        switch lead {
        case 0..<0x80: return 1
        case 0xC0..<0xE0: return 2
        case 0xE0..<0xF0: return 3
        default: return 4
        }
    }

    // MARK: Header lines

    /// Writes header lines into a message buffer, tracking the column for folding.
    struct HeaderWriter {
        var bytes: [UInt8]
        var column = 0

        init(capacity: Int) {
            bytes = []
            bytes.reserveCapacity(capacity)
        }

        mutating func append(_ text: String) {
            bytes.append(contentsOf: text.utf8)
            column += text.utf8.count
        }

        mutating func append(byte: UInt8) {
            bytes.append(byte)
            column += 1
        }

        /// Starts a header line: `Name: `.
        mutating func start(_ name: String) {
            append(name)
            append(byte: UInt8(ascii: ":"))
            append(byte: 32)
        }

        mutating func endLine() {
            bytes.append(13)
            bytes.append(10)
            column = 0
        }

        /// Continues the header on a new line that starts with a space.
        mutating func fold() {
            bytes.append(13)
            bytes.append(10)
            bytes.append(32)
            column = 1
        }

        /// Appends printable ASCII, breaking lines before whitespace so that lines stay within 78
        /// characters where the words allow. Returns false, with nothing written, when a word is
        /// too long to keep a line within 998 characters.
        mutating func appendFolded(_ value: UnsafeBufferPointer<UInt8>) -> Bool {
            let savedCount = bytes.count, savedColumn = column
            let count = value.count
            var start = 0
            var wroteSomething = false
            while start < count {
                // A segment is leading whitespace plus the word after it; a fold goes before it.
                var end = start
                while end < count && (value[end] == 32 || value[end] == 9) { end += 1 }
                let hasWord = end < count
                while end < count && value[end] != 32 && value[end] != 9 { end += 1 }
                let length = end - start
                let startsWithSpace = value[start] == 32 || value[start] == 9
                if wroteSomething && startsWithSpace && hasWord && column + length > recommendedLineLength {
                    bytes.append(13)
                    bytes.append(10)
                    column = 0
                }
                if column + length > maximumLineLength {
                    bytes.removeSubrange(savedCount...)
                    column = savedColumn
                    return false
                }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: value[start..<end]))
                column += length
                wroteSomething = true
                start = end
            }
            return true
        }

        /// Appends UTF-8 text as `=?UTF-8?B?...?=` encoded-words (RFC 2047), each at most 75
        /// characters, split only between UTF-8 sequences and folded with CRLF SPACE so that no
        /// line exceeds 76 characters.
        mutating func appendEncodedWords(_ value: UnsafeBufferPointer<UInt8>) {
            let overhead = 12  // =?UTF-8?B? and ?=
            var start = 0
            while start < value.count {
                var room = min(encodedWordLength, quotedPrintableLineLength - column)
                // The longest UTF-8 sequence (4 bytes) needs 8 base64 characters.
                if room < overhead + 8 {
                    fold()
                    room = encodedWordLength
                }
                let capacity = (room - overhead) / 4 * 3
                var end = start
                while end < value.count {
                    let next = end + utf8SequenceLength(value[end])
                    if next - start > capacity { break }
                    end = min(next, value.count)
                }
                bytes.append(contentsOf: [61, 63, 85, 84, 70, 45, 56, 63, 66, 63])  // =?UTF-8?B?
                let before = bytes.count
                appendBase64(value, from: start, to: end, to: &bytes)
                bytes.append(63)  // ?
                bytes.append(61)  // =
                column += bytes.count - before + overhead
                start = end
                if start < value.count { fold() }
            }
        }
    }
}
