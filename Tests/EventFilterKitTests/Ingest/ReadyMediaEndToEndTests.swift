import Foundation
import XCTest

/// Media that is ready is announced once, with the source's own "watch" link, through
/// `eventfilter ingest` and `eventfilter run`.
final class ReadyMediaEndToEndTests: XCTestCase {
    private typealias F = IngestFixture

    private let linkedSources = F.webhooksINI
        .replacingOccurrences(of: "[Source-kaltura]\nType=kaltura\n", with: "[Source-kaltura]\nType=kaltura\nEntryURL=https://videos.example.org/media/{partner_id}/{entry_id}?from=mail\n")
        .replacingOccurrences(of: "[Source-webinars]\nType=kaltura-http\n", with: "[Source-webinars]\nType=kaltura-http\nEntryURL=https://videos.example.org/e/{entry_id}\n")
        .replacingOccurrences(of: "[Source-panda]\nType=panda\n", with: "[Source-panda]\nType=panda\nVideoURL=https://watch.example.org/v/{video_id}\n")
        .replacingOccurrences(of: "[Source-enablex]\nType=enablex\n", with: "[Source-enablex]\nType=enablex\nRecordingURL=https://rec.example.org/{app_id}/{room_id}\n")

    private func legacyEntry(_ notification: String, type: String, status: String = "2") throws -> String {
        try F.kalturaSigned([
            ("notification_id", notification), ("notification_type", type), ("partner_id", "123"), ("entry_id", "0_key"),
            ("name", "Keynote"), ("status", status),
        ])
    }

    private func outbox(_ root: TestRoot) throws -> String {
        try root.rows("SELECT id, recipient, subject FROM outbox JOIN outbox_message ON outbox_id = id ORDER BY id").map { $0.joined(separator: "|") }.joined(separator: "\n")
    }

    func testAKalturaEntryIsAnnouncedReadyOnceWithItsWatchLink() throws {
        let root = try F.makeRoot()
        try root.write("settings/webhooks.ini", linkedSources)
        let now = F.scheduleNow
        XCTAssertEqual(try root.ingest("kaltura", body: legacyEntry("7", type: "entry_add"), contentType: F.form, now: now).status, 0)
        try root.ok("run", now: now)
        let mails = try root.mails()
        XCTAssertEqual(mails.map(\.subject), ["[Test Site] \"Keynote\" is ready to watch"])
        XCTAssertTrue(mails[0].text.contains("Watch: https://videos.example.org/media/123/0_key?from=mail"), mails[0].text)
        XCTAssertTrue(mails[0].html?.contains(#"<a href="https://videos.example.org/media/123/0_key?from=mail">Watch</a>"#) ?? false,
                      mails[0].html ?? "")
        let before = try outbox(root)

        // Later updates of the ready entry (a new thumbnail, a new name): stored, announced to nobody.
        for (id, type) in [("8", "entry_update"), ("9", "entry_update_thumbnail")] {
            let result = try root.ingest("kaltura", body: legacyEntry(id, type: type), contentType: F.form, now: now)
            XCTAssertEqual(result.status, 0, result.stderr)
        }
        try root.ok("run", now: "2026-01-01T07:05:00Z")
        XCTAssertEqual(try outbox(root), before, "no second announcement")
        XCTAssertEqual(try root.jsonObjects("SELECT params FROM event WHERE type LIKE 'kaltura.entry_update%'").filter { $0["quiet"] as? Bool == true }.count, 2)
        try root.assertStrictMIME()
    }

    func testAnEntryAddedBeforeItIsReadyIsAnnouncedWhenItBecomesReady() throws {
        let root = try F.makeRoot()  // no EntryURL: the mail says where the entry is
        let now = F.scheduleNow
        XCTAssertEqual(try root.ingest("kaltura", body: legacyEntry("1", type: "entry_add", status: "1"), contentType: F.form, now: now).status, 0)
        XCTAssertEqual(try root.ingest("kaltura", body: legacyEntry("2", type: "entry_update"), contentType: F.form, now: now).status, 0)
        XCTAssertEqual(try root.ingest("kaltura", body: legacyEntry("3", type: "entry_update"), contentType: F.form, now: now).status, 0)
        try root.ok("run", now: now)
        let mails = try root.mails()
        XCTAssertEqual(mails.map(\.subject), ["[Test Site] New media \"Keynote\" was added", "[Test Site] \"Keynote\" is ready to watch"])
        let ready = mails[1]
        XCTAssertTrue(ready.text.contains("Entry 0_key, partner 123"), "where it is, without a link: \(ready.text)")
        XCTAssertFalse(ready.text.contains("Watch:"), ready.text)
    }

    func testAKalturaHTTPEntryIsAnnouncedOnce() throws {
        let root = try F.makeRoot()
        try root.write("settings/webhooks.ini", linkedSources)
        let entry = #"{"object":{"id":"0_abc","partnerId":123,"name":"Keynote","status":2,"objectType":"KalturaMediaEntry"},"eventObjectType":1,"eventNotificationJobId":JOB,"templateId":1,"templateName":"Entry Ready","templateSystemName":"ENTRY_READY","eventType":3,"objectType":"KalturaHttpNotification"}"#
        for job in ["555", "556"] {
            let body = entry.replacingOccurrences(of: "JOB", with: job)
            let signature = try F.python(
                "import hashlib, sys; print(hashlib.sha1((sys.argv[1] + sys.argv[2]).encode()).hexdigest(), end='')",
                F.kalturaSecret, body)
            let result = try root.ingest("webinars", body: body, contentType: "application/json",
                                         headers: [("X-Kaltura-Signature", signature)], now: F.scheduleNow)
            XCTAssertEqual(result.status, 0, result.stderr)
        }
        try root.ok("run", now: F.scheduleNow)
        let mails = try root.mails()
        XCTAssertEqual(mails.map(\.subject), ["[Test Site] \"Keynote\" is ready to watch"])
        XCTAssertTrue(mails[0].text.contains("Watch: https://videos.example.org/e/0_abc"), mails[0].text)
    }

    func testAPandaVideoIsAnnouncedOnceAndARecordingLinksToItsPage() throws {
        let root = try F.makeRoot()
        try root.write("settings/webhooks.ini", linkedSources)
        let now = F.scheduleNow
        for body in [F.pandaEncoded, "event=video-encoded&video_id=v1&encoding_ids%5B0%5D=e1&encoding_ids%5B1%5D=e2"] {
            XCTAssertEqual(try root.ingest("panda?token=\(F.pandaToken)", body: body, contentType: F.form, now: now).status, 0)
        }
        XCTAssertEqual(try root.ingest("enablex", body: F.enablexRecording, contentType: "application/json",
                                       headers: [("Authorization", F.enablexAuthorization)], now: now).status, 0)
        try root.ok("run", now: now)
        let mails = try root.mails()
        XCTAssertEqual(mails.map(\.subject).sorted(), ["[Test Site] Recording of room room-a is ready", "[Test Site] Video v1 is ready"])
        let video = try XCTUnwrap(mails.first { $0.subject.hasPrefix("[Test Site] Video") })
        XCTAssertTrue(video.text.contains("Watch: https://watch.example.org/v/v1"), video.text)
        let recording = try XCTUnwrap(mails.first { $0.subject.hasPrefix("[Test Site] Recording") })
        XCTAssertTrue(recording.text.contains("Watch: https://rec.example.org/app1/room-a"), recording.text)
        try root.assertStrictMIME()
    }

    /// A video re-encoded months later (or a Kaltura entry edited) is still the media announced
    /// then: runs that purge what is older than KeepDedupeDays (90) keep what was announced.
    func testMediaReadyMonthsAgoIsNotAnnouncedAgainAfterThePurges() throws {
        let root = try F.makeRoot()
        XCTAssertEqual(try root.ingest("panda?token=\(F.pandaToken)", body: F.pandaEncoded, contentType: F.form,
                                       now: "2026-01-01T07:00:00Z").status, 0)
        try root.ok("run", now: "2026-01-01T07:00:00Z")
        XCTAssertEqual(try root.mails().map(\.subject), ["[Test Site] Video v1 is ready"])
        try root.ok("run", now: "2026-04-05T07:00:00Z")  // 94 days later: the purges run

        let reencoded = "event=video-encoded&video_id=v1&encoding_ids%5B0%5D=e7"
        XCTAssertEqual(try root.ingest("panda?token=\(F.pandaToken)", body: reencoded, contentType: F.form,
                                       now: "2026-04-06T07:00:00Z").status, 0)
        XCTAssertEqual(try root.jsonObjects("SELECT params FROM event WHERE type = 'panda.video-encoded' ORDER BY id DESC LIMIT 1")
            .first?["quiet"] as? Bool, true, "kept, quietly")
        try root.ok("run", now: "2026-04-06T07:00:00Z")
        XCTAssertEqual(try root.mailFiles().count, 1, "announced once")
    }

    func testWithoutALinkTheMailSaysWhereTheVideoIs() throws {
        let root = try F.makeRoot()
        XCTAssertEqual(try root.ingest("panda?token=\(F.pandaToken)", body: F.pandaEncoded, contentType: F.form, now: F.scheduleNow).status, 0)
        XCTAssertEqual(try root.ingest("enablex", body: F.enablexRecording, contentType: "application/json",
                                       headers: [("Authorization", F.enablexAuthorization)], now: F.scheduleNow).status, 0)
        try root.ok("run", now: F.scheduleNow)
        let mails = try root.mails()
        let video = try XCTUnwrap(mails.first { $0.subject.hasPrefix("[Test Site] Video") })
        XCTAssertTrue(video.text.contains("Find it in Panda under video id v1."), video.text)
        let recording = try XCTUnwrap(mails.first { $0.subject.hasPrefix("[Test Site] Recording") })
        XCTAssertTrue(recording.text.contains("EnableX app app1, room room-a, conference c9."), recording.text)
    }

    func testUnusableLinkTemplatesAreRefusedWithTheirLine() throws {
        let root = try F.makeRoot()
        let cases: [(String, String)] = [
            ("EntryURL=ftp://videos.example.org/{entry_id}", "EntryURL must be an http:// or https:// URL"),
            ("EntryURL=https://videos.example.org/{video_id}", "EntryURL has an unknown placeholder {video_id}; use {entry_id}, {partner_id}"),
            ("EntryURL=https://{partner_id}.example.org/{entry_id}", "EntryURL must name its host literally, without placeholders"),
            ("EntryURL=https://videos.example.org/{entry_id", "EntryURL has an unmatched '{' or '}'"),
            ("VideoURL=https://watch.example.org/{video_id}", "VideoURL does not apply to Type=kaltura; use EntryURL"),
        ]
        for (line, message) in cases {
            let ini = F.webhooksINI.replacingOccurrences(of: "[Source-kaltura]\nType=kaltura\n", with: "[Source-kaltura]\nType=kaltura\n\(line)\n")
            try root.write("settings/webhooks.ini", ini)
            let lineNumber = try XCTUnwrap(ini.components(separatedBy: "\n").firstIndex(of: line)) + 1
            let result = try root.ingest("kaltura", body: F.kalturaSingle, contentType: F.form, now: F.scheduleNow)
            XCTAssertEqual(result.status, 1)
            XCTAssertEqual(result.stderr, "eventfilter: settings/webhooks.ini:\(lineNumber): [Source-kaltura] \(message)\n")
        }
        XCTAssertEqual(root.eventCount, 0, "nothing stored while the settings are broken")
    }
}
