import Foundation
import XCTest

@testable import EventFilterKit

/// Kaltura legacy server notifications (`sig` = md5 of the admin secret followed by every other
/// field's name and value, names sorted bytewise), with reference vectors computed with Python and
/// multi-notification inputs made by re-running kaltura/server's sender logic in Python.
final class WebhookKalturaTests: XCTestCase {
    private let secret = "s3cr3t"
    private var source: WebhookSource { WebhookSource(name: "kaltura", type: .kaltura, secret: secret) }

    /// The notes' single-notification example, form-encoded as PHP's http_build_query does.
    private let singleBody =
        "notification_id=1&notification_type=entry_add&puser_id=u1&partner_id=123&entry_id=0_abc&name=Test"
        + "&signed_fields=notification_id%2Cnotification_type%2Cpuser_id%2Cpartner_id%2Centry_id%2Cname%2Csigned_fields%2C"
        + "&sig=3dc0526aab0fcf57734ce10051e860c9"

    /// The notes' multi-notification example: not1 entry_add 0_a (id 11), not2 entry_delete 0_b (id 12).
    private let multiBody =
        "not1_notification_id=11&not1_notification_type=entry_add&not1_puser_id=u1&not1_partner_id=123&not1_entry_id=0_a"
        + "&not2_notification_id=12&not2_notification_type=entry_delete&not2_puser_id=u1&not2_partner_id=123&not2_entry_id=0_b"
        + "&signed_fields=not2_notification_id%2Cnot2_notification_type%2Cnot2_puser_id%2Cnot2_partner_id%2Cnot2_entry_id%2Csigned_fields%2C"
        + "&multi_notification=true&number_of_notifications=2&sig=57693beb6186c95879af4c194a39810a"

    private func process(_ body: String, contentType: String? = WebhookFixtures.form, source: WebhookSource? = nil)
        -> WebhookVerdict
    {
        WebhookVerifier.process(
            WebhookFixtures.post(body, contentType: contentType, path: "/kaltura"), source: source ?? self.source,
            now: 1_700_000_000, bodyLimit: 1 << 20)
    }

    /// An independent sign function for the variants the notes give no vector for: PHP's
    /// ksort + concatenation, checked against the golden vectors in `testSignHelperMatchesVectors`.
    private func sign(_ fields: [(String, String)], secret: String = "s3cr3t") -> String {
        let text = fields.filter { $0.0 != "sig" }.sorted { Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8)) }
            .map { $0.0 + $0.1 }.joined()
        return Crypto.hexEncode(Crypto.hash(.md5, Array((secret + text).utf8)))
    }

    private func formBody(_ fields: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return fields.map { name, value in
            let encoded = value.addingPercentEncoding(withAllowedCharacters: allowed)!
            return "\(name)=\(encoded)"
        }.joined(separator: "&")
    }

    private func signedBody(_ fields: [(String, String)]) -> String {
        formBody(fields + [("sig", sign(fields))])
    }

    func testSignHelperMatchesVectors() {
        let fields: [(String, String)] = [
            ("notification_id", "1"), ("notification_type", "entry_add"), ("puser_id", "u1"), ("partner_id", "123"),
            ("entry_id", "0_abc"), ("name", "Test"),
            ("signed_fields", "notification_id,notification_type,puser_id,partner_id,entry_id,name,signed_fields,"),
        ]
        XCTAssertEqual(sign(fields), "3dc0526aab0fcf57734ce10051e860c9")
    }

    func testSingleNotificationVector() {
        let events = WebhookFixtures.events(process(singleBody))
        XCTAssertEqual(events.count, 1)
        let event = events[0]
        XCTAssertEqual(event.type, "kaltura.entry_add")
        XCTAssertEqual(event.dedupeKey, "kaltura:123:1")
        XCTAssertNil(event.notBefore)
        XCTAssertEqual(WebhookFixtures.string(event, "path"), "/kaltura/123/0_abc/")
        XCTAssertEqual(WebhookFixtures.string(event, "node_id"), "0_abc")
        XCTAssertEqual(WebhookFixtures.string(event, "name"), "Test")
        XCTAssertEqual(WebhookFixtures.string(event, "puser_id"), "u1")
        XCTAssertEqual(WebhookFixtures.string(event, "partner_id"), "123")
        XCTAssertNil(event.params["sig"], "the signature is not an event parameter")
        XCTAssertNil(event.params["signed_fields"])
    }

    func testSignatureInUppercaseHexIsAccepted() {
        let body = singleBody.replacingOccurrences(of: "3dc0526aab0fcf57734ce10051e860c9", with: "3DC0526AAB0FCF57734CE10051E860C9")
        XCTAssertEqual(WebhookFixtures.events(process(body)).count, 1)
    }

    func testMissingContentTypeIsReadAsAForm() {
        XCTAssertEqual(WebhookFixtures.events(process(singleBody, contentType: nil)).count, 1)
    }

    func testEncodedValuesAndURLsAreKept() {
        // Python: urlencode + md5 over the ksorted fields; sig a53210f7….
        let body =
            "notification_id=7&notification_type=entry_add&puser_id=u1&partner_id=123&entry_id=0_xyz"
            + "&name=Caf%C3%A9+talk+%26+Q%2BA&thumbnail_url=https%3A%2F%2Fcdn.example%2Fp%2F123%2Fthumbnail%2Fentry_id%2F0_xyz"
            + "&download_url=https%3A%2F%2Fcdn.example%2Fp%2F123%2Fdownload%2F0_xyz.mp4"
            + "&signed_fields=notification_id%2Cnotification_type%2Cpuser_id%2Cpartner_id%2Centry_id%2Cname%2Cthumbnail_url%2Cdownload_url%2Csigned_fields%2C"
            + "&sig=a53210f79e2d58092586f3083ff8cada"
        let event = WebhookFixtures.events(process(body))[0]
        XCTAssertEqual(WebhookFixtures.string(event, "name"), "Café talk & Q+A")
        XCTAssertEqual(WebhookFixtures.string(event, "thumbnail_url"), "https://cdn.example/p/123/thumbnail/entry_id/0_xyz")
        XCTAssertEqual(WebhookFixtures.string(event, "download_url"), "https://cdn.example/p/123/download/0_xyz.mp4")
        XCTAssertEqual(event.dedupeKey, "kaltura:123:7")
    }

    func testMultiNotificationVectorSplitsIntoSeparateEvents() {
        let events = WebhookFixtures.events(process(multiBody))
        XCTAssertEqual(events.map(\.type), ["kaltura.entry_add", "kaltura.entry_delete"])
        XCTAssertEqual(events.map(\.dedupeKey), ["kaltura:123:11", "kaltura:123:12"])
        XCTAssertEqual(events.map { WebhookFixtures.string($0, "path") }, ["/kaltura/123/0_a/", "/kaltura/123/0_b/"])
        XCTAssertEqual(events.map { WebhookFixtures.string($0, "entry_id") }, ["0_a", "0_b"])
        XCTAssertEqual(events.map { WebhookFixtures.string($0, "notification_id") }, ["11", "12"])
        for event in events {
            XCTAssertNil(event.params["not1_entry_id"], "prefixes are stripped")
            XCTAssertNil(event.params["multi_notification"])
            XCTAssertNil(event.params["number_of_notifications"])
        }
    }

    func testTenNotificationsSortNot10BeforeNot2() {
        // sig 349556fe… computed in Python with PHP's string ksort, where not10_ < not2_.
        var fields: [(String, String)] = []
        for n in 1...10 {
            let own: [(String, String)] = [
                ("notification_id", "\(100 + n)"), ("notification_type", "entry_update"), ("puser_id", "u1"),
                ("partner_id", "123"), ("entry_id", "0_e\(n)"),
            ]
            fields += own.map { ("not\(n)_\($0.0)", $0.1) }
        }
        let signedFields = (["notification_id", "notification_type", "puser_id", "partner_id", "entry_id"]
            .map { "not10_\($0)," }.joined()) + "signed_fields,"
        fields += [("signed_fields", signedFields), ("multi_notification", "true"), ("number_of_notifications", "10")]
        fields.append(("sig", "349556fe56e05bd72055585e2668cece"))
        let events = WebhookFixtures.events(process(formBody(fields)))
        XCTAssertEqual(events.map(\.dedupeKey), (1...10).map { "kaltura:123:\(100 + $0)" }, "in notification order")
        XCTAssertEqual(WebhookFixtures.string(events[9], "entry_id"), "0_e10")
    }

    func testTamperedBodyIsForbidden() {
        let tampered = singleBody.replacingOccurrences(of: "name=Test", with: "name=Tost")
        WebhookFixtures.assertRejected(process(tampered), 403, secret: secret)
        let retyped = multiBody.replacingOccurrences(of: "entry_delete", with: "entry_add")
        WebhookFixtures.assertRejected(process(retyped), 403, secret: secret)
    }

    func testWrongSecretIsForbiddenAndTheReasonGivesNothingAway() {
        let other = WebhookSource(name: "kaltura", type: .kaltura, secret: "not-the-secret")
        let verdict = process(singleBody, source: other)
        WebhookFixtures.assertRejected(verdict, 403, secret: "not-the-secret")
        // Neither the signature we expected nor the one presented is echoed.
        let expectedWithOtherSecret = sign([
            ("notification_id", "1"), ("notification_type", "entry_add"), ("puser_id", "u1"), ("partner_id", "123"),
            ("entry_id", "0_abc"), ("name", "Test"),
            ("signed_fields", "notification_id,notification_type,puser_id,partner_id,entry_id,name,signed_fields,"),
        ], secret: "not-the-secret")
        if case .rejected(_, let reason) = verdict {
            XCTAssertFalse(reason.contains(expectedWithOtherSecret))
            XCTAssertFalse(reason.contains("3dc0526a"))
        }
    }

    func testMissingSigIsUnauthorized() {
        let unsigned = singleBody.replacingOccurrences(of: "&sig=3dc0526aab0fcf57734ce10051e860c9", with: "")
        WebhookFixtures.assertRejected(process(unsigned), 401, secret: secret, mentioning: "sig")
        WebhookFixtures.assertRejected(process(unsigned + "&sig="), 401, secret: secret)
        WebhookFixtures.assertRejected(process(singleBody + "x"), 403, secret: secret, mentioning: "sig")
    }

    func testFieldsOutsideSignedFieldsAreDropped() {
        // Kaltura's receiver signs only the listed fields, so anyone can add others: never trust them.
        let injected = singleBody + "&entry_id_extra=evil&zz_note=hello"
        let event = WebhookFixtures.events(process(injected))[0]
        XCTAssertNil(event.params["entry_id_extra"])
        XCTAssertNil(event.params["zz_note"])
        XCTAssertEqual(WebhookFixtures.string(event, "name"), "Test")
        // Overriding a signed field is a tampering attempt, though.
        let overridden = singleBody.replacingOccurrences(of: "name=Test", with: "name=Evil")
        WebhookFixtures.assertRejected(process(overridden), 403, secret: secret)
    }

    func testWithoutASignedFieldsListEveryFieldIsSigned() {
        let fields: [(String, String)] = [
            ("notification_id", "5"), ("notification_type", "entry_update"), ("partner_id", "9"),
            ("entry_id", "0_q"), ("status", "2"),
        ]
        XCTAssertEqual(WebhookFixtures.events(process(signedBody(fields)))[0].dedupeKey, "kaltura:9:5")
        WebhookFixtures.assertRejected(process(signedBody(fields) + "&extra=1"), 403, secret: secret)
    }

    func testMultiNotificationCountMustMatch() {
        let fields: [(String, String)] = [
            ("not1_notification_id", "1"), ("not1_notification_type", "entry_add"), ("not1_partner_id", "1"),
            ("not1_entry_id", "0_a"), ("multi_notification", "true"), ("number_of_notifications", "2"),
        ]
        WebhookFixtures.assertRejected(process(signedBody(fields)), 400, secret: secret, mentioning: "number_of_notifications")
    }

    func testSignedButIncompleteNotificationIsMalformed() {
        let fields: [(String, String)] = [("notification_type", "entry_add"), ("partner_id", "1"), ("entry_id", "0_a")]
        WebhookFixtures.assertRejected(process(signedBody(fields)), 400, secret: secret, mentioning: "notification_id")
        let slashy: [(String, String)] = [
            ("notification_id", "1"), ("notification_type", "entry_add"), ("partner_id", "1"), ("entry_id", "../0_a"),
        ]
        WebhookFixtures.assertRejected(process(signedBody(slashy)), 400, secret: secret, mentioning: "entry_id")
    }

    func testNonEntryObjectsAndNumericTypes() {
        let fields: [(String, String)] = [
            ("notification_id", "8"), ("notification_type", "21"), ("partner_id", "1"), ("user_id", "alice"),
        ]
        let event = WebhookFixtures.events(process(signedBody(fields)))[0]
        XCTAssertEqual(event.type, "kaltura.user_add")
        XCTAssertEqual(WebhookFixtures.string(event, "path"), "/kaltura/1/alice/")
    }

    func testMalformedBodies() {
        WebhookFixtures.assertRejected(process("a=%zz&" + singleBody), 400, secret: secret)
        WebhookFixtures.assertRejected(process(singleBody + "&name=Again"), 400, secret: secret, mentioning: "more than once")
        WebhookFixtures.assertRejected(process(singleBody, contentType: "application/json"), 400, secret: secret)
    }

    func testReplayGivesTheSameDedupeKeys() {
        let first = WebhookFixtures.events(process(multiBody)).map(\.dedupeKey)
        let second = WebhookFixtures.events(process(multiBody)).map(\.dedupeKey)
        XCTAssertEqual(first, second)
        XCTAssertEqual(Set(first).count, 2)
    }
}
