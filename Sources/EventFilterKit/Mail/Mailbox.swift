/// An e-mail address with an optional display name, checked when it is made so that it can go
/// into a `From` or `To` header as it is.
///
/// The address must be a plain ASCII `local@domain` (no comments, no quoted local part, no
/// internationalized domain). The name may be any Unicode text without control characters; the
/// composer quotes it or encodes it (RFC 2047) as needed. An empty name counts as no name.
///
///     let from = try Mailbox(address: "noreply@example.com", name: "Example Site")
///     let to = try Mailbox(address: "kari@example.no", name: "Kari Nordmann")
///     _ = try Mailbox(address: "kari@example.no\r\nBcc: x@evil.example")   // throws HeaderError
public struct Mailbox: Sendable, Equatable {
    public let address: String
    public let name: String?

    public init(address: String, name: String? = nil) throws {
        try Mailbox.validate(address: address)
        if let name, !name.isEmpty {
            try HeaderCheck.rejectControlCharacters(in: name, what: "display name")
            self.name = name
        } else {
            self.name = nil
        }
        self.address = address
    }

    /// Checks `local@domain`, with a dot-atom local part (RFC 5322 §3.4.1) and a host name domain.
    static func validate(address: String) throws {
        func fail(_ reason: String) -> HeaderError {
            HeaderError("address \(HeaderCheck.quoted(address)) \(reason)")
        }
        let bytes = Array(address.utf8)
        if bytes.isEmpty { throw HeaderError("address is empty") }
        var at = -1
        for (index, byte) in bytes.enumerated() {
            switch byte {
            case 13, 10: throw fail("contains a line break")
            case 0: throw fail("contains a NUL character")
            case 0...32, 127: throw fail("contains whitespace or a control character")
            case 128...: throw fail("contains non-ASCII characters")
            case UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: ","), UInt8(ascii: "\""),
                UInt8(ascii: ";"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "["),
                UInt8(ascii: "]"), UInt8(ascii: "\\"), UInt8(ascii: ":"):
                throw fail("contains the character '\(Character(Unicode.Scalar(byte)))'")
            case UInt8(ascii: "@"):
                if at >= 0 { throw fail("has more than one '@'") }
                at = index
            default: break
            }
        }
        if at < 0 { throw fail("has no '@'") }
        if bytes.count > 254 { throw fail("is longer than 254 characters") }
        let local = bytes[..<at], domain = bytes[(at + 1)...]
        if local.isEmpty { throw fail("has nothing before the '@'") }
        if local.count > 64 { throw fail("has a local part longer than 64 characters") }
        if !HeaderCheck.isDotAtom(local) { throw fail("has a misplaced '.' before the '@'") }
        if domain.isEmpty { throw fail("has no domain after the '@'") }
        for label in domain.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            if label.isEmpty { throw fail("has an empty label in its domain") }
            for byte in label where !(HeaderCheck.isAlphanumeric(byte)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")) {
                throw fail("has the character '\(Character(Unicode.Scalar(byte)))' in its domain")
            }
        }
    }
}
