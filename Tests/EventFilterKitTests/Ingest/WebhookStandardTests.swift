import Foundation
import XCTest

@testable import EventFilterKit

/// Standard Webhooks v1 with the official vector of standard-webhooks/standard-webhooks
/// (libraries/python/tests/test_webhooks.py::test_sign_function) and one typed payload signed
/// with Python's hmac under the same key.
final class WebhookStandardTests: XCTestCase {
    private let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    private let timestamp: Int64 = 1_614_265_330
    private var source: WebhookSource { WebhookSource(name: "billing", type: .standard, secret: secret) }

    private let officialID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
    private let officialBody = #"{"test": 2432232314}"#
    private let officialSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

    private let typedID = "msg_2Lx"
    private let typedBody = #"{"type":"invoice.paid","timestamp":"2021-02-25T15:02:10Z","data":{"invoice":"in_1","amount":42}}"#
    private let typedSignature = "v1,X8ERV1mVjDBXoPVOmFG6e7B+b97jbPDAP90GXJALAgg="

    private func process(
        _ body: String, id: String?, timestamp: String?, signature: String?, now: Int64? = nil,
        source: WebhookSource? = nil
    ) -> WebhookVerdict {
        var headers: [(String, String)] = []
        if let id { headers.append(("webhook-id", id)) }
        if let timestamp { headers.append(("webhook-timestamp", timestamp)) }
        if let signature { headers.append(("webhook-signature", signature)) }
        return WebhookVerifier.process(
            WebhookFixtures.post(body, contentType: "application/json", headers: headers, path: "/billing"),
            source: source ?? self.source, now: now ?? timestamp.flatMap { Int64($0) } ?? self.timestamp,
            bodyLimit: 1 << 20)
    }

    func testOfficialVectorSignsAsPublished() {
        let key = Crypto.base64Decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")!
        let mac = Crypto.hmac(.sha256, key: key, data: Array("\(officialID).\(timestamp).\(officialBody)".utf8))
        XCTAssertEqual("v1," + Crypto.base64Encode(mac), officialSignature)
    }

    func testOfficialVectorPassesVerification() {
        // The official payload has no `type`: it is a genuine message of the source, not a malformed one.
        let verdict = process(officialBody, id: officialID, timestamp: "\(timestamp)", signature: officialSignature)
        let events = WebhookFixtures.events(verdict)
        XCTAssertEqual(events.map(\.type), ["billing.message"])
        XCTAssertEqual(events.first?.params, ["test": 2432232314, "path": "/billing/"], "an untyped message is its own data")
        XCTAssertEqual(events.first?.dedupeKey, "standard:billing:\(officialID)")
        let forged = process(officialBody, id: officialID, timestamp: "\(timestamp)", signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ2OE=")
        WebhookFixtures.assertRejected(forged, 403, secret: secret)
    }

    func testTypeFieldNamesTheFieldThatCarriesTheType() {
        var custom = source
        custom.typeField = "event"
        let key = source.standardWebhooksKey!
        func signed(_ body: String, source: WebhookSource) -> WebhookVerdict {
            let mac = Crypto.hmac(.sha256, key: key, data: Array("msg_t.\(timestamp).\(body)".utf8))
            return process(body, id: "msg_t", timestamp: "\(timestamp)", signature: "v1," + Crypto.base64Encode(mac), source: source)
        }
        let named = WebhookFixtures.events(signed(#"{"event":"order.shipped","order":"o1"}"#, source: custom))
        XCTAssertEqual(named.first?.type, "billing.order.shipped")
        XCTAssertEqual(named.first?.params, ["path": "/billing/"], "a typed envelope's params are its data")
        // With TypeField=event, a `type` field is just data, and the message is untyped.
        let untyped = WebhookFixtures.events(signed(#"{"type":"ignored","n":1}"#, source: custom))
        XCTAssertEqual(untyped.first?.type, "billing.message")
        XCTAssertEqual(untyped.first?.params, ["type": "ignored", "n": 1, "path": "/billing/"])
        WebhookFixtures.assertRejected(signed(#"{"event":7}"#, source: custom), 400, secret: secret, mentioning: "event")
        WebhookFixtures.assertRejected(signed(#"{"event":"a b"}"#, source: custom), 400, secret: secret, mentioning: "event")
        custom.typeField = "a.b"
        XCTAssertNotNil(custom.configurationProblem)
    }

    func testTypedPayloadBecomesAnEvent() {
        let events = WebhookFixtures.events(process(typedBody, id: typedID, timestamp: "\(timestamp)", signature: typedSignature))
        XCTAssertEqual(events.count, 1)
        let event = events[0]
        XCTAssertEqual(event.type, "billing.invoice.paid")
        XCTAssertEqual(event.dedupeKey, "standard:billing:msg_2Lx")
        XCTAssertNil(event.notBefore)
        XCTAssertEqual(event.params, ["invoice": "in_1", "amount": 42, "path": "/billing/"])
    }

    func testAnyOfSeveralSignaturesMayMatch() {
        let rotated = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v1a,ignored== \(typedSignature)"
        XCTAssertEqual(WebhookFixtures.events(process(typedBody, id: typedID, timestamp: "\(timestamp)", signature: rotated)).count, 1)
        let noneMatch = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v1,not-base64"
        WebhookFixtures.assertRejected(process(typedBody, id: typedID, timestamp: "\(timestamp)", signature: noneMatch), 403, secret: secret)
        WebhookFixtures.assertRejected(
            process(typedBody, id: typedID, timestamp: "\(timestamp)", signature: "v1a,abcd v2,abcd"), 401, secret: secret, mentioning: "v1")
    }

    func testTimestampWindowIsFiveMinutesBothWays() {
        let signedAt = "\(timestamp)"
        for skew: Int64 in [-300, 0, 300] {
            let verdict = process(typedBody, id: typedID, timestamp: signedAt, signature: typedSignature, now: timestamp + skew)
            XCTAssertEqual(WebhookFixtures.events(verdict).count, 1, "skew \(skew)")
        }
        for skew: Int64 in [-301, 301, 86_400] {
            let verdict = process(typedBody, id: typedID, timestamp: signedAt, signature: typedSignature, now: timestamp + skew)
            WebhookFixtures.assertRejected(verdict, 401, secret: secret, mentioning: "window")
        }
        var strict = source
        strict.toleranceSeconds = 10
        let verdict = process(typedBody, id: typedID, timestamp: signedAt, signature: typedSignature, now: timestamp + 11, source: strict)
        WebhookFixtures.assertRejected(verdict, 401, secret: secret)
    }

    func testReplayWithAFreshTimestampIsForbidden() {
        // The timestamp is signed: moving it into the window breaks the signature.
        let verdict = process(typedBody, id: typedID, timestamp: "\(timestamp + 3600)", signature: typedSignature)
        WebhookFixtures.assertRejected(verdict, 403, secret: secret)
    }

    func testTamperedBodyAndWrongKey() {
        let tampered = typedBody.replacingOccurrences(of: "42", with: "4200")
        WebhookFixtures.assertRejected(process(tampered, id: typedID, timestamp: "\(timestamp)", signature: typedSignature), 403, secret: secret)
        WebhookFixtures.assertRejected(process(typedBody, id: "msg_2Ly", timestamp: "\(timestamp)", signature: typedSignature), 403, secret: secret)
        let otherKey = WebhookSource(name: "billing", type: .standard, secret: "whsec_" + Crypto.base64Encode(Array(repeating: 7, count: 24)))
        WebhookFixtures.assertRejected(
            process(typedBody, id: typedID, timestamp: "\(timestamp)", signature: typedSignature, source: otherKey), 403,
            secret: otherKey.secret)
        let unprefixed = WebhookSource(name: "billing", type: .standard, secret: "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        XCTAssertEqual(
            WebhookFixtures.events(process(typedBody, id: typedID, timestamp: "\(timestamp)", signature: typedSignature, source: unprefixed)).count, 1,
            "the whsec_ prefix is optional, as in the reference libraries")
    }

    func testMissingAndMalformedHeaders() {
        let ts = "\(timestamp)"
        WebhookFixtures.assertRejected(process(typedBody, id: nil, timestamp: ts, signature: typedSignature), 401, secret: secret, mentioning: "webhook-id")
        WebhookFixtures.assertRejected(process(typedBody, id: typedID, timestamp: nil, signature: typedSignature), 401, secret: secret)
        WebhookFixtures.assertRejected(process(typedBody, id: typedID, timestamp: ts, signature: nil), 401, secret: secret)
        WebhookFixtures.assertRejected(process(typedBody, id: typedID, timestamp: "16142653e3", signature: typedSignature, now: timestamp), 400, secret: secret)
        WebhookFixtures.assertRejected(process(typedBody, id: "msg.2Lx", timestamp: ts, signature: typedSignature), 400, secret: secret, mentioning: "'.'")
    }

    /// A control character (Unicode category Cc: ASCII below 0x20, DEL, C1 such as U+0085) in the
    /// id is refused before the signature is checked; other characters go on to the signature.
    func testAControlCharacterInTheIdIsRefused() {
        let ts = "\(timestamp)"
        for id in ["msg\t1", "msg\u{7F}1", "msg\u{85}1", "msg\u{1}1"] {
            WebhookFixtures.assertRejected(process(typedBody, id: id, timestamp: ts, signature: typedSignature), 400, secret: secret, mentioning: "control")
        }
        WebhookFixtures.assertRejected(process(typedBody, id: "msg_é1", timestamp: ts, signature: typedSignature), 403, secret: secret)
    }

    func testSignedButMalformedPayloads() {
        let key = source.standardWebhooksKey!
        func signed(_ body: String, id: String = "msg_x") -> WebhookVerdict {
            let mac = Crypto.hmac(.sha256, key: key, data: Array("\(id).\(timestamp).\(body)".utf8))
            return process(body, id: id, timestamp: "\(timestamp)", signature: "v1," + Crypto.base64Encode(mac))
        }
        WebhookFixtures.assertRejected(signed("not json"), 400, secret: secret)
        WebhookFixtures.assertRejected(signed(#"["type"]"#), 400, secret: secret)
        WebhookFixtures.assertRejected(signed(#"{"type":"a b"}"#), 400, secret: secret)
        WebhookFixtures.assertRejected(signed(#"{"type":"x","data":[1]}"#), 400, secret: secret, mentioning: "data")
        let bare = WebhookFixtures.events(signed(#"{"type":"ping"}"#))
        XCTAssertEqual(bare.first?.type, "billing.ping")
        XCTAssertEqual(bare.first?.params, ["path": "/billing/"])
    }
}
