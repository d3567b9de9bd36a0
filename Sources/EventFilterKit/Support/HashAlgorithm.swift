import CCrypto

/// A message digest that webhook senders use to sign what they send.
///
///     Crypto.hash(.sha256, Array("abc".utf8))   // 32 bytes
public enum HashAlgorithm: String, Sendable, CaseIterable {
    case md5, sha1, sha256, sha512

    /// The digest length in bytes.
    public var byteCount: Int {
        switch self {
        case .md5: return 16
        case .sha1: return 20
        case .sha256: return 32
        case .sha512: return 64
        }
    }

    /// OpenSSL's static method table; never freed.
    var evp: OpaquePointer {
        switch self {
        case .md5: return EVP_md5()
        case .sha1: return EVP_sha1()
        case .sha256: return EVP_sha256()
        case .sha512: return EVP_sha512()
        }
    }
}
