import Foundation
import XCTest

/// Standard Webhooks through `eventfilter ingest` and `eventfilter run`: the specification's own
/// test vector, which has no `type` field, is a genuine message and reaches the subscribers.
final class StandardWebhookEndToEndTests: XCTestCase {
    private typealias F = IngestFixture

    /// The vector of standard-webhooks/standard-webhooks (libraries/python/tests/test_webhooks.py).
    private let vectorID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
    private let vectorBody = #"{"test": 2432232314}"#
    private let vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    private var vectorHeaders: [(String, String)] {
        [("webhook-id", vectorID), ("webhook-timestamp", F.standardTimestamp), ("webhook-signature", vectorSignature)]
    }

    func testTheSpecificationVectorIsAcceptedAsAMessageAndMailed() throws {
        let root = try F.makeRoot()
        let accepted = try root.ingest("billing", body: vectorBody, contentType: "application/json",
                                       headers: vectorHeaders, now: F.standardNow)
        XCTAssertEqual(accepted.status, 0, accepted.stderr)
        XCTAssertEqual(accepted.stdout, "1\n")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event WHERE type = 'billing.message'"), 1)
        XCTAssertEqual(try root.jsonObjects("SELECT params FROM event WHERE id = 1").first?["test"] as? Int, 2_432_232_314)

        let replay = try root.ingest("billing", body: vectorBody, contentType: "application/json",
                                     headers: vectorHeaders, now: F.standardNow)
        XCTAssertEqual(replay.stdout, "1\n", "the webhook-id dedupes a retry")
        XCTAssertEqual(root.eventCount, 1)

        // Outside the window the same signed message is refused and stores nothing.
        let late = try root.ingest("billing", body: vectorBody, contentType: "application/json",
                                   headers: [("webhook-id", "msg_other")] + vectorHeaders.dropFirst(), now: "2021-02-25T15:08:11Z")
        XCTAssertEqual(late.status, 1)
        XCTAssertTrue(late.stderr.hasPrefix("eventfilter: rejected (401 "), late.stderr)
        XCTAssertEqual(root.eventCount, 1)

        try root.ok("run", now: F.standardNow)
        let mails = try root.mails()
        XCTAssertEqual(mails.count, 1)
        XCTAssertEqual(mails.first?.to, "Ann <ann@example.com>")
        XCTAssertTrue(mails.first?.subject.contains("billing.message") ?? false, mails.first?.subject ?? "")
        XCTAssertTrue(mails.first?.text.contains("billing.message") ?? false, mails.first?.text ?? "")
        try root.assertStrictMIME()
    }

    func testTypeFieldReadsTheTypeFromAnotherField() throws {
        let root = try F.makeRoot()
        try root.write("settings/webhooks.ini", F.webhooksINI + """

            [Source-shop]
            Type=standard
            Secret=\(F.standardSecret)
            TypeField=event

            """)
        try root.ok("subscribe", "ann@example.com", "shop", now: F.standardNow)
        // Signed with Python's hmac under the test key.
        let body = #"{"event":"order.shipped","data":{"order":"o-17"}}"#
        let signature = try F.python("""
            import base64, hashlib, hmac, sys
            key = base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            print("v1," + base64.b64encode(hmac.new(key, sys.argv[1].encode(), hashlib.sha256).digest()).decode(), end="")
            """, "msg_shop1.\(F.standardTimestamp).\(body)")
        let result = try root.ingest("shop", body: body, contentType: "application/json", headers: [
            ("webhook-id", "msg_shop1"), ("webhook-timestamp", F.standardTimestamp), ("webhook-signature", signature),
        ], now: F.standardNow)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event WHERE type = 'shop.order.shipped'"), 1)

        try root.write("settings/webhooks.ini", F.webhooksINI + "\n[Source-shop]\nType=standard\nSecret=\(F.standardSecret)\nTypeField=a.b\n")
        let refused = try root.ingest("shop", body: body, contentType: "application/json", now: F.standardNow)
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("[Source-shop] TypeField must be"), refused.stderr)
        XCTAssertFalse(refused.stderr.contains(F.standardSecret))
    }
}
