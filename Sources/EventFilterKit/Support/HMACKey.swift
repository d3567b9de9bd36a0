import CCrypto
import Foundation

/// An HMAC key set up once in libcrypto and reused for every message it signs. The one-shot
/// `Crypto.hmac` looks the algorithm up by name and builds a context for each call, which cost
/// more than the hashing of a webhook's few hundred bytes; re-initialising a keyed context
/// starts again from the key's prepared inner and outer states.
///
///     let key = HMACKey.shared(.sha256, key: secret)    // made once per secret, then the same object
///     key?.mac(Array("id.ts.".utf8), body)             // == Crypto.hmac(.sha256, key: secret, data: prefix + body)
final class HMACKey: @unchecked Sendable {
    let algorithm: HashAlgorithm
    /// The keyed EVP_MAC_CTX; used under `lock`, since a context is not safe to share.
    private let context: OpaquePointer
    private let lock = NSLock()

    /// Nil when libcrypto cannot set the key up (no HMAC in its providers, no memory).
    init?(_ algorithm: HashAlgorithm, key: [UInt8]) {
        guard let mac = EVP_MAC_fetch(nil, "HMAC", nil) else { return nil }
        defer { EVP_MAC_free(mac) }
        guard let context = EVP_MAC_CTX_new(mac) else { return nil }
        let keyed = algorithm.rawValue.uppercased().withCString { digest in
            "digest".withCString { field -> Int32 in
                var params = [
                    OSSL_PARAM_construct_utf8_string(field, UnsafeMutablePointer(mutating: digest), 0),
                    OSSL_PARAM_construct_end(),
                ]
                return Crypto.withNonNullBytes(key) { pointer, count in EVP_MAC_init(context, pointer, count, &params) }
            }
        }
        guard keyed == 1 else {
            EVP_MAC_CTX_free(context)
            return nil
        }
        self.algorithm = algorithm
        self.context = context
    }

    deinit { EVP_MAC_CTX_free(context) }

    /// The HMAC of the concatenation of `parts`.
    func mac(_ parts: [UInt8]...) -> [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        // A NULL key re-initialises with the key already set.
        var ok = EVP_MAC_init(context, nil, 0, nil) == 1
        for part in parts where !part.isEmpty {
            ok = ok && part.withUnsafeBufferPointer { EVP_MAC_update(context, $0.baseAddress, $0.count) } == 1
        }
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length = 0
        ok = ok && EVP_MAC_final(context, &out, &length, out.count) == 1
        // Fails only when libcrypto cannot allocate: nothing to recover, as for `Crypto.hmac`.
        precondition(ok, "libcrypto could not compute HMAC-\(algorithm.rawValue)")
        return Array(out.prefix(length))
    }

    /// The key for (`algorithm`, `key`), made on first use and kept for the life of the process
    /// (a process holds the few secrets of its settings; past 64 the cache starts over, so a
    /// reload's new secrets do not pile up).
    static func shared(_ algorithm: HashAlgorithm, key: [UInt8]) -> HMACKey? {
        cache.key(algorithm, key)
    }

    private static let cache = Cache()

    private final class Cache: @unchecked Sendable {
        private let lock = NSLock()
        private var keys: [Entry: HMACKey] = [:]

        struct Entry: Hashable {
            let algorithm: HashAlgorithm
            let key: [UInt8]
        }

        func key(_ algorithm: HashAlgorithm, _ key: [UInt8]) -> HMACKey? {
            let entry = Entry(algorithm: algorithm, key: key)
            lock.lock()
            defer { lock.unlock() }
            if let known = keys[entry] { return known }
            guard let made = HMACKey(algorithm, key: key) else { return nil }
            if keys.count >= 64 { keys.removeAll() }
            keys[entry] = made
            return made
        }
    }
}
