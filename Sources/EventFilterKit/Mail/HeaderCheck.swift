/// The checks every header value passes before it is written.
enum HeaderCheck {
    /// Throws for CR, LF and NUL, which would end or corrupt a header line.
    static func rejectLineBreaks(in value: String, header: String) throws {
        func firstBreak<C: Collection>(_ bytes: C) -> UInt8? where C.Element == UInt8 {
            bytes.first { $0 == 13 || $0 == 10 || $0 == 0 }
        }
        // Native strings are contiguous UTF-8: scanning the buffer is several times faster.
        let found = value.utf8.withContiguousStorageIfAvailable(firstBreak) ?? firstBreak(value.utf8)
        if let byte = found {
            throw HeaderError(byte == 0
                ? "header '\(header)' contains a NUL character"
                : "header '\(header)' contains a line break")
        }
    }

    /// Throws for any C0 control character or DEL; `what` names the value in the message.
    static func rejectControlCharacters(in value: String, what: String) throws {
        for byte in value.utf8 where byte < 32 || byte == 127 {
            switch byte {
            case 13, 10: throw HeaderError("\(what) \(quoted(value)) contains a line break")
            case 0: throw HeaderError("\(what) \(quoted(value)) contains a NUL character")
            default: throw HeaderError("\(what) \(quoted(value)) contains a control character")
            }
        }
    }

    /// Quotes untrusted text for an error message, escaping control characters so the message
    /// stays on one line, and shortening it.
    static func quoted(_ value: String) -> String {
        var result = "'"
        for (count, scalar) in value.unicodeScalars.enumerated() {
            if count == 80 {
                result += "..."
                break
            }
            switch scalar.value {
            case 0..<32, 127, 0x2028, 0x2029: result += scalar.escaped(asASCII: true)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "'"
    }

    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)
    }

    /// RFC 5322 `atext`: printable ASCII except the specials and space.
    static func isAtext(_ byte: UInt8) -> Bool {
        if isAlphanumeric(byte) { return true }
        switch byte {
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"),
            UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"),
            UInt8(ascii: "-"), UInt8(ascii: "/"), UInt8(ascii: "="), UInt8(ascii: "?"),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "{"),
            UInt8(ascii: "|"), UInt8(ascii: "}"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// RFC 5322 `dot-atom-text`: atext runs joined by single dots.
    static func isDotAtom<C: Collection>(_ bytes: C) -> Bool where C.Element == UInt8 {
        var previousWasDot = true  // a leading dot is as wrong as a double one
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                if previousWasDot { return false }
                previousWasDot = true
            } else if isAtext(byte) {
                previousWasDot = false
            } else {
                return false
            }
        }
        return !previousWasDot
    }

    /// Checks `<left@right>` with dot-atom sides (RFC 5322 §3.6.4 `msg-id` without the
    /// obsolete and literal forms), so strict parsers accept it.
    static func validateMessageID(_ id: String, header: String) throws {
        try rejectLineBreaks(in: id, header: header)
        var contiguous = id
        try contiguous.withUTF8 { try validateMessageID(bytes: $0, id: id, header: header) }
    }

    private static func validateMessageID(bytes: UnsafeBufferPointer<UInt8>, id: String, header: String) throws {
        guard bytes.count >= 5, bytes.count <= 250, bytes.first == UInt8(ascii: "<"),
            bytes.last == UInt8(ascii: ">")
        else {
            throw HeaderError("header '\(header)' has a malformed message id \(quoted(id)); expected <left@right>")
        }
        let inner = bytes[1..<(bytes.count - 1)]
        guard let at = inner.firstIndex(of: UInt8(ascii: "@")),
            isDotAtom(inner[..<at]), isDotAtom(inner[(at + 1)...])
        else {
            throw HeaderError("header '\(header)' has a malformed message id \(quoted(id)); expected <left@right>")
        }
    }
}
