import CCrypto
import Foundation

/// Hashes, HMACs, constant-time comparison and randomness from the system's libcrypto, plus
/// the hex and base64 codings the webhook senders use.
///
///     let mac = Crypto.hmac(.sha256, key: key, data: Array("id.ts.body".utf8))
///     Crypto.base64Encode(mac)                     // "g0hM9SsE…"
///     Crypto.constantTimeEqual(mac, presented)     // compare secrets without a timing leak
public enum Crypto {
    public static func hash(_ algorithm: HashAlgorithm, _ data: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = withNonNullBytes(data) { pointer, count in
            EVP_Digest(pointer, count, &digest, &length, algorithm.evp, nil)
        }
        // Fails only when libcrypto cannot allocate or the provider is missing: nothing to recover.
        precondition(ok == 1, "libcrypto could not compute \(algorithm.rawValue)")
        return Array(digest.prefix(Int(length)))
    }

    public static func hmac(_ algorithm: HashAlgorithm, key: [UInt8], data: [UInt8]) -> [UInt8] {
        var mac = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let result = withNonNullBytes(key) { keyPointer, keyCount in
            withNonNullBytes(data) { dataPointer, dataCount in
                HMAC(algorithm.evp, keyPointer, Int32(keyCount), dataPointer, dataCount, &mac, &length)
            }
        }
        precondition(result != nil, "libcrypto could not compute HMAC-\(algorithm.rawValue)")
        return Array(mac.prefix(Int(length)))
    }

    /// True when both byte strings are equal. The time taken depends only on the length, never on
    /// where the contents differ; a length mismatch returns false without comparing contents.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return a.withUnsafeBytes { pa in
            b.withUnsafeBytes { pb in CRYPTO_memcmp(pa.baseAddress, pb.baseAddress, a.count) == 0 }
        }
    }

    /// Compares a presented secret with the configured one without leaking either's length or
    /// contents through timing: both sides are hashed first, so the comparison is always 32 bytes.
    public static func secretsMatch(presented: [UInt8], expected: [UInt8]) -> Bool {
        constantTimeEqual(hash(.sha256, presented), hash(.sha256, expected))
    }

    /// Cryptographically strong random bytes (opaque tokens, message ids).
    public static func randomBytes(_ count: Int) -> [UInt8] {
        precondition(count >= 0, "randomBytes needs a non-negative count")
        var bytes = [UInt8](repeating: 0, count: count)
        if count == 0 { return bytes }
        let ok = RAND_bytes(&bytes, Int32(count))
        precondition(ok == 1, "libcrypto's random generator failed")
        return bytes
    }

    // MARK: Hex

    /// Lowercase hex, as Kaltura and GitHub print digests.
    public static func hexEncode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes hex in either case. Nil for an odd length or a non-hex character.
    public static func hexDecode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(chars.count / 2)
        var index = 0
        while index < chars.count {
            guard let high = hexValue(chars[index]), let low = hexValue(chars[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    static func hexValue(_ char: UInt8) -> UInt8? {
        switch char {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return char - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return char - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return char - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    // MARK: Base64

    /// Standard base64 (RFC 4648 §4) with padding.
    public static func base64Encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
    }

    /// Decodes standard base64. Missing trailing padding is tolerated (senders strip it);
    /// any other character, including whitespace, makes it nil.
    public static func base64Decode(_ text: String) -> [UInt8]? {
        var padded = text
        let remainder = padded.utf8.count % 4
        if remainder == 1 { return nil }
        if remainder > 0 { padded += String(repeating: "=", count: 4 - remainder) }
        guard let data = Data(base64Encoded: padded) else { return nil }
        return Array(data)
    }

    /// Calls `body` with a pointer that is never nil, even for an empty array: libcrypto treats
    /// a NULL key or buffer differently from an empty one.
    static func withNonNullBytes<R>(_ bytes: [UInt8], _ body: (UnsafePointer<UInt8>, Int) -> R) -> R {
        if bytes.isEmpty {
            let placeholder: [UInt8] = [0]
            return placeholder.withUnsafeBufferPointer { body($0.baseAddress!, 0) }
        }
        return bytes.withUnsafeBufferPointer { body($0.baseAddress!, bytes.count) }
    }
}
