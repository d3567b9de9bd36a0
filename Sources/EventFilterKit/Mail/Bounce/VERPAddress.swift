import Foundation

/// Per-message envelope senders (VERP, variable envelope return path) that cannot be forged.
///
/// Message 42 leaves with the envelope sender `bounces+42-<mac>@example.org`, where `<mac>` is
/// the first 8 bytes of HMAC-SHA256(installation secret, "verp:42") in lowercase hex. The MTA
/// delivers a bounce for it to `bounces@example.org` (Postfix: `recipient_delimiter = +`), and
/// the address alone says which message bounced. Without the secret nobody can name another
/// message, so a forged bounce changes nothing.
///
///     let verp = VERPAddress(bounceAddress: "bounces@example.org", secret: secret)
///     let sender = verp.envelopeSender(for: 42)        // "bounces+42-…@example.org"
///     verp.messageID(in: sender)                        // .valid(42)
///     verp.messageID(in: "bounces+43-0000000000000000@example.org")   // .forged
public final class VERPAddress {
    /// The outcome of reading an address.
    public enum Match: Equatable, Sendable {
        /// Ours, with a valid code: the outbox id.
        case valid(Int64)
        /// Shaped like ours (`local+…@domain`), but the code does not match.
        case forged
        /// Not a VERP address of this installation at all.
        case notOurs
    }

    /// The `+` of Postfix's `recipient_delimiter` (and qmail's, Exim's `local_part_suffix`).
    static let delimiter = "+"
    private static let macBytes = 8

    let localPart: String
    let domain: String
    private let secret: [UInt8]

    /// `bounceAddress` is a checked bare address (`BounceSettings.address`).
    public init(bounceAddress: String, secret: [UInt8]) {
        let at = bounceAddress.lastIndex(of: "@") ?? bounceAddress.endIndex
        localPart = String(bounceAddress[..<at])
        domain = at < bounceAddress.endIndex ? String(bounceAddress[bounceAddress.index(after: at)...]) : ""
        self.secret = secret
    }

    public func envelopeSender(for id: Int64) -> String {
        "\(localPart)\(Self.delimiter)\(id)-\(code(for: id))@\(domain)"
    }

    /// Reads an address as given by an MTA or a header: `<…>`, a `rfc822;` prefix and case do not matter.
    public func messageID(in candidate: String) -> Match {
        var address = candidate.trimmingCharacters(in: .whitespaces)
        if let semicolon = address.firstIndex(of: ";"), address[..<semicolon].lowercased().trimmingCharacters(in: .whitespaces) == "rfc822" {
            address = String(address[address.index(after: semicolon)...]).trimmingCharacters(in: .whitespaces)
        }
        if address.hasPrefix("<") && address.hasSuffix(">") && address.count >= 2 {
            address = String(address.dropFirst().dropLast())
        }
        address = address.lowercased()
        let prefix = (localPart + Self.delimiter).lowercased()
        let suffix = "@" + domain.lowercased()
        guard address.hasPrefix(prefix), address.hasSuffix(suffix), address.count > prefix.count + suffix.count else { return .notOurs }
        let token = address.dropFirst(prefix.count).dropLast(suffix.count)
        let parts = token.split(separator: "-", omittingEmptySubsequences: false)
        // The id is written without leading zeros, so one message has exactly one address.
        guard parts.count == 2, let id = Int64(parts[0]), id > 0, String(id) == parts[0] else { return .forged }
        let presented = Array(parts[1].utf8), expected = Array(code(for: id).utf8)
        return Crypto.constantTimeEqual(presented, expected) ? .valid(id) : .forged
    }

    /// Every address in `text` shaped like ours (`local+<token>@domain`, any case), in order.
    public func addresses(in text: String) -> [String] {
        let lower = Array(text.lowercased().utf8)
        let prefix = Array((localPart + Self.delimiter).lowercased().utf8)
        let suffix = Array(("@" + domain).lowercased().utf8)
        var found: [String] = []
        var index = 0
        while index + prefix.count <= lower.count {
            guard lower[index..<index + prefix.count].elementsEqual(prefix) else { index += 1; continue }
            // The local part must start here, not inside a longer one (xbounces+…).
            let startsWord = index == 0 || !Self.isTokenByte(lower[index - 1]) && lower[index - 1] != UInt8(ascii: ".")
            var end = index + prefix.count
            while end < lower.count && Self.isTokenByte(lower[end]) { end += 1 }
            let after = end + suffix.count
            // The domain must end here too: not example.org.evil.example, not example.organic.
            let domainEnds = after >= lower.count || !Self.isTokenByte(lower[after])
                && !(lower[after] == UInt8(ascii: ".") && after + 1 < lower.count && Self.isTokenByte(lower[after + 1]))
            if startsWord && after <= lower.count && lower[end..<after].elementsEqual(suffix) && domainEnds {
                found.append(String(decoding: lower[index..<end + suffix.count], as: UTF8.self))
            }
            index = end
        }
        return found
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x7A) || byte == UInt8(ascii: "-")
    }

    private func code(for id: Int64) -> String {
        Crypto.hexEncode(Array(Crypto.hmac(.sha256, key: secret, data: Array("verp:\(id)".utf8)).prefix(Self.macBytes)))
    }
}
