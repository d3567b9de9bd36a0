import XCTest

@testable import EventFilterKit

/// Digests and HMACs against published vectors (FIPS 180 "abc", RFC 2202 / RFC 4231 "Jefe"),
/// plus the codings and comparisons the verifiers rely on.
final class CryptoTests: XCTestCase {
    private let abc = Array("abc".utf8)

    func testHashesMatchPublishedVectors() {
        XCTAssertEqual(Crypto.hexEncode(Crypto.hash(.md5, abc)), "900150983cd24fb0d6963f7d28e17f72")
        XCTAssertEqual(Crypto.hexEncode(Crypto.hash(.sha1, abc)), "a9993e364706816aba3e25717850c26c9cd0d89d")
        XCTAssertEqual(
            Crypto.hexEncode(Crypto.hash(.sha256, abc)),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(
            Crypto.hexEncode(Crypto.hash(.sha512, abc)),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                + "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f")
        XCTAssertEqual(
            Crypto.hexEncode(Crypto.hash(.sha256, [])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        for algorithm in HashAlgorithm.allCases {
            XCTAssertEqual(Crypto.hash(algorithm, abc).count, algorithm.byteCount)
        }
    }

    func testHMACsMatchRFC2202AndRFC4231() {
        let key = Array("Jefe".utf8)
        let data = Array("what do ya want for nothing?".utf8)
        XCTAssertEqual(Crypto.hexEncode(Crypto.hmac(.md5, key: key, data: data)), "750c783e6ab0b503eaa86e310a5db738")
        XCTAssertEqual(
            Crypto.hexEncode(Crypto.hmac(.sha1, key: key, data: data)), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
        XCTAssertEqual(
            Crypto.hexEncode(Crypto.hmac(.sha256, key: key, data: data)),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        XCTAssertEqual(
            Crypto.hexEncode(Crypto.hmac(.sha512, key: key, data: data)),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
                + "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737")
    }

    func testGitHubDocumentedHMACPair() {
        // docs.github.com/webhooks/securing: the documented secret and payload.
        let mac = Crypto.hmac(.sha256, key: Array("It's a Secret to Everybody".utf8), data: Array("Hello, World!".utf8))
        XCTAssertEqual(Crypto.hexEncode(mac), "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
    }

    func testHMACWithEmptyKeyAndData() {
        // RFC 4231 gives no empty-key vector; this value comes from Python's hmac module.
        XCTAssertEqual(
            Crypto.hexEncode(Crypto.hmac(.sha256, key: [], data: [])),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad")
    }

    /// A key set up once gives the one-shot HMAC on every use, whatever the message is split into.
    func testAReusedHMACKeyMatchesTheOneShotHMAC() throws {
        let jefe = Array("Jefe".utf8)
        let key = try XCTUnwrap(HMACKey.shared(.sha256, key: jefe))
        for _ in 0..<3 {
            XCTAssertEqual(
                Crypto.hexEncode(key.mac(Array("what do ya ".utf8), [], Array("want for nothing?".utf8))),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", "RFC 4231 test case 2, in three parts")
        }
        XCTAssertTrue(HMACKey.shared(.sha256, key: jefe) === key, "the same key is set up once")
        XCTAssertEqual(Crypto.hexEncode(try XCTUnwrap(HMACKey.shared(.sha256, key: [])).mac()),
                       "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad")
        for algorithm in HashAlgorithm.allCases {
            let secret = Crypto.randomBytes(Int.random(in: 1...100)), data = Crypto.randomBytes(Int.random(in: 0...300))
            let reused = try XCTUnwrap(HMACKey.shared(algorithm, key: secret))
            XCTAssertEqual(reused.mac(data), Crypto.hmac(algorithm, key: secret, data: data), "\(algorithm)")
            XCTAssertEqual(reused.mac(Array(data.prefix(7)), Array(data.dropFirst(7))), Crypto.hmac(algorithm, key: secret, data: data))
        }
    }

    func testConstantTimeEqual() {
        XCTAssertTrue(Crypto.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        XCTAssertFalse(Crypto.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        XCTAssertFalse(Crypto.constantTimeEqual([1, 2, 3], [1, 2]))
        XCTAssertFalse(Crypto.constantTimeEqual([], [0]))
        XCTAssertTrue(Crypto.constantTimeEqual([], []))
        XCTAssertTrue(Crypto.secretsMatch(presented: Array("user:pass".utf8), expected: Array("user:pass".utf8)))
        XCTAssertFalse(Crypto.secretsMatch(presented: Array("user:pas".utf8), expected: Array("user:pass".utf8)))
    }

    func testRandomBytesAreFreshAndSized() {
        let first = Crypto.randomBytes(32)
        let second = Crypto.randomBytes(32)
        XCTAssertEqual(first.count, 32)
        XCTAssertNotEqual(first, second)
        XCTAssertEqual(Crypto.randomBytes(0), [])
    }

    func testHexCoding() {
        XCTAssertEqual(Crypto.hexEncode([0x00, 0x0f, 0xa5, 0xff]), "000fa5ff")
        XCTAssertEqual(Crypto.hexDecode("000FA5ff"), [0x00, 0x0f, 0xa5, 0xff])
        XCTAssertNil(Crypto.hexDecode("abc"))
        XCTAssertNil(Crypto.hexDecode("zz"))
        XCTAssertEqual(Crypto.hexDecode(""), [])
    }

    func testBase64Coding() {
        XCTAssertEqual(Crypto.base64Encode(Array("user:pass".utf8)), "dXNlcjpwYXNz")
        XCTAssertEqual(Crypto.base64Encode(Array("ab".utf8)), "YWI=")
        XCTAssertEqual(Crypto.base64Decode("YWI="), Array("ab".utf8))
        XCTAssertEqual(Crypto.base64Decode("YWI"), Array("ab".utf8), "missing padding is tolerated")
        XCTAssertNil(Crypto.base64Decode("Y"))
        XCTAssertNil(Crypto.base64Decode("YW I="))
        XCTAssertNil(Crypto.base64Decode("!!!!"))
    }
}
