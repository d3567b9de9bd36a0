import Foundation
import XCTest

@testable import EventFilterKit

/// Kaltura HTTP event notifications: `X-KALTURA-SIGNATURE` = hex(hash(secret + body)).
/// Digests below were computed with Python's hashlib, never with the code under test.
final class WebhookKalturaHTTPTests: XCTestCase {
    private let secret = "s3cr3t"
    private let now: Int64 = 1_767_200_000  // 2025-12-31T16:53:20Z, well before the webinar
    private var source: WebhookSource {
        WebhookSource(name: "kh", type: .kalturaHTTP, secret: secret, pathPrefix: "/webinars/")
    }

    /// The notes' vector body (§1.2) and its three digests.
    private let vectorBody = #"{"objectType":"KalturaHttpNotification"}"#
    private let vectorDigests: [(String, String)] = [
        ("sha1", "c1ec4be3201b12c2ac912574c6126898fa3757ef"),
        ("sha256", "5fda6588cf8c913b5f214368a5250a788371a39216553ad2521af757001f7910"),
        ("sha512",
         "80219a3be574ab862011e22eec7eede87be779349875d5a2bb574a3ff680499b7c0c5b3876cc445049017ad13c8e4b8aca78142203fd2d969b80829eb382f658"),
    ]

    /// A schedule event in the shape of seed 002 (a KalturaLiveStreamScheduleEvent wrapping a
    /// live entry): starts 2026-01-01T09:00:00Z (1767258000), ends an hour later.
    private let scheduleBody =
        #"{"object":{"id":"4711","partnerId":123,"templateEntryId":"1_live01","summary":"Quarterly webinar","startDate":1767258000,"endDate":1767261600,"status":2,"classificationType":1,"recurrenceType":0,"organizer":"events@example.com","tags":"webinar","objectType":"KalturaLiveStreamScheduleEvent"},"eventObjectType":"scheduleEventNotifications.ScheduleEvent","eventNotificationJobId":33578094492,"templateId":26970222,"templateName":"Schedule event created","templateSystemName":"SCHEDULE_EVENT_ADDED","eventType":2,"objectType":"KalturaHttpNotification"}"#
    private let scheduleSHA1 = "717317e4981b620aaab6fdf0a99a477eb5045e36"
    private let start: Int64 = 1_767_258_000
    private let end: Int64 = 1_767_261_600

    /// The same notification as `data=<urlencoded JSON>` (the template's default urlEncode).
    private let wrappedScheduleBody =
        "data=%7B%22object%22%3A%7B%22id%22%3A%224711%22%2C%22partnerId%22%3A123%2C%22templateEntryId%22%3A%221_live01%22%2C%22summary%22%3A%22Quarterly+webinar%22%2C%22startDate%22%3A1767258000%2C%22endDate%22%3A1767261600%2C%22status%22%3A2%2C%22classificationType%22%3A1%2C%22recurrenceType%22%3A0%2C%22organizer%22%3A%22events%40example.com%22%2C%22tags%22%3A%22webinar%22%2C%22objectType%22%3A%22KalturaLiveStreamScheduleEvent%22%7D%2C%22eventObjectType%22%3A%22scheduleEventNotifications.ScheduleEvent%22%2C%22eventNotificationJobId%22%3A33578094492%2C%22templateId%22%3A26970222%2C%22templateName%22%3A%22Schedule+event+created%22%2C%22templateSystemName%22%3A%22SCHEDULE_EVENT_ADDED%22%2C%22eventType%22%3A2%2C%22objectType%22%3A%22KalturaHttpNotification%22%7D"
    private let wrappedSHA256 = "95ef2e756140de825c91bb0a6bfb7ea8ad316f4c8fee7be20a177f8fa52c7f19"

    /// An entry changed, signed with sha512.
    private let entryBody =
        #"{"object":{"id":"0_abc","partnerId":123,"name":"Keynote","thumbnailUrl":"https://cdn.example/thumb/0_abc","downloadUrl":"https://cdn.example/dl/0_abc.mp4","status":2,"objectType":"KalturaMediaEntry"},"eventObjectType":1,"eventNotificationJobId":555,"templateId":1,"templateName":"Entry Ready","templateSystemName":"ENTRY_READY","eventType":3,"objectType":"KalturaHttpNotification"}"#
    private let entrySHA512 =
        "76ac4850683e75dcefb0cffcb5c90f2a56961752bbb4caac66911892200dc5859671d116be94ba0888267b86542d3ecc6c9dbf3eb20e8b8a521ab49d8c198fec"

    private func process(
        _ body: String, signature: String?, algorithm: String?, contentType: String? = "application/json",
        now: Int64? = nil
    ) -> WebhookVerdict {
        var headers: [(String, String)] = []
        if let signature { headers.append(("X-KALTURA-SIGNATURE", signature)) }
        if let algorithm { headers.append(("X-KALTURA-HASH-ALGO", algorithm)) }
        return WebhookVerifier.process(
            WebhookFixtures.post(body, contentType: contentType, headers: headers, path: "/kh"), source: source,
            now: now ?? self.now, bodyLimit: 1 << 20)
    }

    /// Signs bodies the notes give no vector for (Crypto's digests are checked in CryptoTests).
    private func sign(_ body: [UInt8], _ algorithm: HashAlgorithm = .sha1) -> String {
        Crypto.hexEncode(Crypto.hash(algorithm, Array(secret.utf8) + body))
    }

    func testReferenceVectorsForEveryAlgorithm() {
        for (algorithm, digest) in vectorDigests {
            let events = WebhookFixtures.events(process(vectorBody, signature: digest, algorithm: algorithm))
            XCTAssertEqual(events.count, 1, algorithm)
            XCTAssertEqual(events.first?.type, "kaltura.http_notification")
            XCTAssertEqual(events.first.flatMap { WebhookFixtures.string($0, "path") }, "/webinars/")
        }
        // The header is case-insensitive, and the signature may be uppercase hex.
        XCTAssertEqual(
            WebhookFixtures.events(process(vectorBody, signature: vectorDigests[1].1.uppercased(), algorithm: "SHA256")).count, 1)
    }

    func testSHA1IsTheDefaultAlgorithm() {
        XCTAssertEqual(WebhookFixtures.events(process(vectorBody, signature: vectorDigests[0].1, algorithm: nil)).count, 1)
        WebhookFixtures.assertRejected(process(vectorBody, signature: vectorDigests[1].1, algorithm: nil), 403, secret: secret)
    }

    func testAlgorithmMismatchAndUnknownAlgorithms() {
        WebhookFixtures.assertRejected(process(vectorBody, signature: vectorDigests[0].1, algorithm: "sha256"), 403, secret: secret)
        WebhookFixtures.assertRejected(process(vectorBody, signature: vectorDigests[0].1, algorithm: "md5"), 400, secret: secret)
    }

    func testMissingTamperedAndWrongSecret() {
        WebhookFixtures.assertRejected(process(vectorBody, signature: nil, algorithm: "sha256"), 401, secret: secret)
        let tampered = vectorBody.replacingOccurrences(of: "Kaltura", with: "Koltura")
        WebhookFixtures.assertRejected(process(tampered, signature: vectorDigests[1].1, algorithm: "sha256"), 403, secret: secret)
        let other = WebhookSource(name: "kh", type: .kalturaHTTP, secret: "other")
        let verdict = WebhookVerifier.process(
            WebhookFixtures.post(vectorBody, headers: [("X-KALTURA-SIGNATURE", vectorDigests[1].1), ("X-KALTURA-HASH-ALGO", "sha256")]),
            source: other, now: now, bodyLimit: 1000)
        WebhookFixtures.assertRejected(verdict, 403, secret: "other")
        if case .rejected(_, let reason) = verdict {
            XCTAssertFalse(reason.contains(sign(Array(vectorBody.utf8), .sha256)), "the expected signature is never echoed")
        }
    }

    /// The session a schedule notification describes (intake turns it into announcement and reminder).
    private func session(_ event: IncomingEvent?) -> ScheduleNotice? {
        guard case .schedule(let notice)? = event?.lifecycle else { return nil }
        return notice
    }

    func testScheduledSessionGivesAnnouncementAndReminder() throws {
        let events = WebhookFixtures.events(process(scheduleBody, signature: scheduleSHA1, algorithm: "sha1"))
        XCTAssertEqual(events.map(\.type), ["kaltura.schedule_event"])
        let announcement = events[0]
        let notice = try XCTUnwrap(session(announcement))
        XCTAssertEqual(notice.objectID, "4711")
        XCTAssertEqual(notice.start, start)
        XCTAssertEqual(notice.end, end)
        XCTAssertFalse(notice.cancelled)
        let reminder = try XCTUnwrap(notice.reminder)

        XCTAssertNil(announcement.notBefore, "the announcement is due now")
        XCTAssertEqual(reminder.notBefore, start - 900, "the reminder is due ReminderLead before the start")
        XCTAssertEqual(announcement.dedupeKey, "kaltura-http:kh:job:33578094492")

        for params in [announcement.params, reminder.params] {
            let event = IncomingEvent(type: "t", params: params, dedupeKey: "k")
            XCTAssertEqual(WebhookFixtures.string(event, "path"), "/webinars/123/1_live01/")
            XCTAssertEqual(WebhookFixtures.string(event, "node_id"), "1_live01")
            XCTAssertEqual(WebhookFixtures.string(event, "name"), "Quarterly webinar")
            XCTAssertEqual(params["start_date"], .number(Double(start)))
            XCTAssertEqual(params["end_date"], .number(Double(end)))
            XCTAssertEqual(WebhookFixtures.string(event, "template_system_name"), "SCHEDULE_EVENT_ADDED")
            XCTAssertEqual(WebhookFixtures.string(event, "organizer"), "events@example.com")
        }
        XCTAssertEqual(reminder.params["reminder"], .bool(true))
        XCTAssertEqual(reminder.params["lead_seconds"], .number(900))
    }

    func testReminderLeadComesFromTheSource() {
        var hourEarly = source
        hourEarly.reminderLead = 3600
        let verdict = WebhookVerifier.process(
            WebhookFixtures.post(scheduleBody, headers: [("X-KALTURA-SIGNATURE", scheduleSHA1)]), source: hourEarly,
            now: now, bodyLimit: 1 << 20)
        XCTAssertEqual(session(WebhookFixtures.events(verdict).first)?.reminder?.notBefore, start - 3600)
    }

    func testAReminderWhoseTimeHasPassedIsDueAtOnce() {
        let lateNow = start - 60  // announced a minute before the start, lead 15 minutes
        let events = WebhookFixtures.events(process(scheduleBody, signature: scheduleSHA1, algorithm: nil, now: lateNow))
        XCTAssertLessThanOrEqual(session(events.first)?.reminder?.notBefore ?? .max, lateNow)
    }

    func testNoReminderForASessionThatHasEnded() {
        let events = WebhookFixtures.events(process(scheduleBody, signature: scheduleSHA1, algorithm: nil, now: end + 1))
        XCTAssertEqual(events.map(\.type), ["kaltura.schedule_event"])
        XCTAssertNotNil(session(events.first))
        XCTAssertNil(session(events.first)?.reminder)
    }

    func testASessionWithoutAnIDKeepsAnnouncementAndReminderAsEvents() {
        let anonymous = scheduleBody.replacingOccurrences(of: #""id":"4711","#, with: "")
        let events = WebhookFixtures.events(process(anonymous, signature: sign(Array(anonymous.utf8)), algorithm: nil))
        XCTAssertEqual(events.map(\.type), ["kaltura.schedule_event", "kaltura.schedule_reminder"])
        XCTAssertNil(events[0].lifecycle, "nothing to follow without the sender's id")
        XCTAssertEqual(events[1].notBefore, start - 900)
        XCTAssertEqual(events[1].dedupeKey, events[0].dedupeKey + ":reminder")
    }

    func testDeletedOrCancelledSessionsAreCancellationsWithoutReminder() throws {
        let deleted = scheduleBody.replacingOccurrences(of: #""eventType":2"#, with: #""eventType":7"#)
        let cancelled = scheduleBody.replacingOccurrences(of: #""status":2"#, with: #""status":1"#)
        let removed = scheduleBody.replacingOccurrences(of: #""status":2"#, with: #""status":3"#)
        for body in [deleted, cancelled, removed] {
            let events = WebhookFixtures.events(process(body, signature: sign(Array(body.utf8)), algorithm: nil))
            XCTAssertEqual(events.map(\.type), ["kaltura.schedule_cancelled"])
            let notice = try XCTUnwrap(session(events.first))
            XCTAssertTrue(notice.cancelled)
            XCTAssertNil(notice.reminder)
            XCTAssertEqual(events.first.flatMap { WebhookFixtures.string($0, "start_text") }, "Thursday 1 January 2026, 09:00 UTC")
        }
    }

    func testDataWrappedJSONGivesTheSameEvents() {
        let raw = WebhookFixtures.events(process(scheduleBody, signature: scheduleSHA1, algorithm: "sha1"))
        let wrapped = WebhookFixtures.events(
            process(wrappedScheduleBody, signature: wrappedSHA256, algorithm: "sha256", contentType: WebhookFixtures.form))
        XCTAssertEqual(wrapped, raw)
        // Kaltura labels urlencoded JSON application/json too: the body decides, not the label.
        let labelled = WebhookFixtures.events(
            process(wrappedScheduleBody, signature: wrappedSHA256, algorithm: "sha256", contentType: "application/json"))
        XCTAssertEqual(labelled, raw)
    }

    func testEntryNotificationTypeAndParams() {
        let events = WebhookFixtures.events(process(entryBody, signature: entrySHA512, algorithm: "sha512"))
        XCTAssertEqual(events.count, 1)
        let event = events[0]
        XCTAssertEqual(event.type, "kaltura.entry_changed")
        XCTAssertEqual(event.dedupeKey, "kaltura-http:kh:job:555")
        XCTAssertEqual(WebhookFixtures.string(event, "path"), "/webinars/123/0_abc/")
        XCTAssertEqual(WebhookFixtures.string(event, "name"), "Keynote")
        XCTAssertEqual(WebhookFixtures.string(event, "thumbnail_url"), "https://cdn.example/thumb/0_abc")
        XCTAssertEqual(WebhookFixtures.string(event, "download_url"), "https://cdn.example/dl/0_abc.mp4")
        XCTAssertEqual(WebhookFixtures.string(event, "event_notification_job_id"), "555")
    }

    func testFormFieldsTemplate() {
        let body = "entry_id=0_f&partner_id=77&name=Clip+one&event_type=entry_ready"
        let events = WebhookFixtures.events(
            process(body, signature: sign(Array(body.utf8)), algorithm: nil, contentType: WebhookFixtures.form))
        XCTAssertEqual(events.first?.type, "kaltura.entry_ready")
        XCTAssertEqual(events.first.flatMap { WebhookFixtures.string($0, "path") }, "/webinars/77/0_f/")
        XCTAssertEqual(events.first.flatMap { WebhookFixtures.string($0, "name") }, "Clip one")
        XCTAssertTrue(events.first?.dedupeKey.hasPrefix("kaltura-http:kh:sha256:") ?? false)
    }

    func testMalformedSignedBodies() {
        func signedProcess(_ bytes: [UInt8], contentType: String = "application/json") -> WebhookVerdict {
            WebhookVerifier.process(
                WebhookFixtures.post(bytes: bytes, contentType: contentType, headers: [("X-KALTURA-SIGNATURE", sign(bytes))]),
                source: source, now: now, bodyLimit: 1 << 20)
        }
        WebhookFixtures.assertRejected(signedProcess(Array(#"{"object": "#.utf8)), 400, secret: secret)
        WebhookFixtures.assertRejected(signedProcess([]), 400, secret: secret, mentioning: "empty")
        WebhookFixtures.assertRejected(signedProcess(Array("data=%3Cxml%3E".utf8)), 400, secret: secret, mentioning: "JSON")
        // What a length-extension forgery looks like: the signed body, SHA padding, more text.
        let extended = Array(vectorBody.utf8) + [0x80, 0, 0, 0, 0x01, 0x40] + Array(#"{"x":1}"#.utf8)
        WebhookFixtures.assertRejected(signedProcess(extended), 400, secret: secret, mentioning: "UTF-8")
    }

    func testUnsignedJunkIsRefusedBeforeParsing() {
        WebhookFixtures.assertRejected(process("%%%", signature: nil, algorithm: nil), 401, secret: secret)
        WebhookFixtures.assertRejected(process("%%%", signature: "00", algorithm: nil), 403, secret: secret)
    }
}
