import Foundation
import XCTest

@testable import EventFilterKit

/// `settings/webhooks.ini`: what a source block means, and the one-line errors for the ones that
/// could never verify a request. Also the readable times intake adds for the mail.
final class IngestSettingsTests: XCTestCase {
    private var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("ingest-settings-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("settings/override"), withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    private func write(_ text: String, to relative: String = "settings/webhooks.ini") throws {
        try Data(text.utf8).write(to: root.appendingPathComponent(relative))
    }

    private func load() throws -> [String: WebhookSource] {
        try WebhookSources.load(settings: Settings(root: root))
    }

    /// The error `load` throws, as the one line the command line prints.
    private func loadError(file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try load()
            XCTFail("loaded", file: file, line: line)
            return ""
        } catch {
            return "\(error)"
        }
    }

    func testDefaultsAndEveryKey() throws {
        try write("""
            [Source-panda]
            Type=panda
            Secret=tok

            [Source-webinars]
            Type=Kaltura-HTTP
            Secret= s3cr3t\t
            Path=/events/live/
            ReminderLead=3600

            [Source-billing]
            Type=standard
            Secret=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
            Tolerance=60

            [Source-cloud]
            Type=panda
            Secret=tok2
            MailProgress=enabled

            [SomethingElse]
            Key=value

            """)
        let sources = try load()
        XCTAssertEqual(sources.keys.sorted(), ["billing", "cloud", "panda", "webinars"])
        let panda = try XCTUnwrap(sources["panda"])
        XCTAssertEqual(panda.type, .panda)
        XCTAssertEqual(panda.pathPrefix, "/panda/")
        XCTAssertEqual(panda.reminderLead, 900)
        XCTAssertEqual(panda.toleranceSeconds, 300)
        XCTAssertFalse(panda.mailProgress)
        let webinars = try XCTUnwrap(sources["webinars"])
        XCTAssertEqual(webinars.type, .kalturaHTTP, "the type is case-insensitive")
        XCTAssertEqual(webinars.secret, "s3cr3t", "blanks around a secret are a paste accident")
        XCTAssertEqual(webinars.pathPrefix, "/events/live/")
        XCTAssertEqual(webinars.reminderLead, 3600)
        XCTAssertEqual(sources["billing"]?.toleranceSeconds, 60)
        XCTAssertEqual(sources["cloud"]?.mailProgress, true)
        XCTAssertEqual(try WebhookSources.bodyLimit(settings: Settings(root: root)), 1_048_576)
    }

    func testNoFileMeansNoSourcesAndTheDefaultLimit() throws {
        XCTAssertTrue(try load().isEmpty)
        XCTAssertEqual(try WebhookSources.bodyLimit(settings: Settings(root: root)), 1 << 20)
    }

    func testOverrideReplacesAPlaceholderSecret() throws {
        try write("""
            [Source-kaltura]
            Type=kaltura
            Secret=REPLACE-ME

            """)
        try write("""
            <?php /* #?ini charset="utf-8"?
            [Source-kaltura]
            Secret=real-secret
            */ ?>
            """, to: "settings/override/webhooks.ini.append.php")
        XCTAssertEqual(try load()["kaltura"]?.secret, "real-secret")
    }

    func testBodyLimit() throws {
        try write("[WebhookSettings]\nBodyLimit=65536\n")
        XCTAssertEqual(try WebhookSources.bodyLimit(settings: Settings(root: root)), 65536)
        try write("[WebhookSettings]\nBodyLimit=0\n")
        XCTAssertThrowsError(try WebhookSources.bodyLimit(settings: Settings(root: root))) { error in
            XCTAssertEqual("\(error)", "settings/webhooks.ini:2: [WebhookSettings] BodyLimit must be between 1 and 1073741824 bytes")
        }
        try write("[WebhookSettings]\nBodyLimit=1MB\n")
        XCTAssertThrowsError(try WebhookSources.bodyLimit(settings: Settings(root: root))) { error in
            XCTAssertTrue("\(error)".hasPrefix("settings/webhooks.ini:2: "), "\(error)")
        }
    }

    func testRefusedSourcesNameFileLineAndNeverTheSecret() throws {
        let secret = "very-secret-value"
        let cases: [(block: String, expected: String)] = [
            ("[Source-a]\nType=vimeo\nSecret=\(secret)\n",
             "settings/webhooks.ini:2: [Source-a] Type='vimeo' is not one of kaltura, kaltura-http, panda, enablex, standard"),
            ("[Source-a]\nSecret=\(secret)\n",
             "settings/webhooks.ini:2: [Source-a] Type is missing; use one of kaltura, kaltura-http, panda, enablex, standard"),
            ("[Source-a]\nType=panda\nSecret=\n",
             "settings/webhooks.ini:3: [Source-a] Secret is empty: give the token the notification URL carries as ?token=..."),
            ("[Source-a]\nType=panda\n",
             "settings/webhooks.ini:2: [Source-a] Secret is empty: give the token the notification URL carries as ?token=..."),
            ("[Source-a]\nType=standard\nSecret=whsec_***\(secret)\n",
             "settings/webhooks.ini:3: [Source-a] Secret must be a Standard Webhooks key: whsec_ followed by base64"),
            ("[Source-a]\nType=enablex\nSecret=\(secret)\n",
             "settings/webhooks.ini:3: [Source-a] Secret must be user:password for HTTP Basic authentication"),
            ("[Source-a]\nType=panda\nSecret=\(secret)\nPath=relative/\n",
             "settings/webhooks.ini:4: [Source-a] Path must start with '/'"),
            ("[Source-a]\nType=kaltura-http\nSecret=\(secret)\nReminderLead=-5\n",
             "settings/webhooks.ini:4: [Source-a] ReminderLead must not be negative"),
            ("[Source-a]\nType=standard\nSecret=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\nTolerance=0\n",
             "settings/webhooks.ini:4: [Source-a] the timestamp tolerance must be positive"),
            ("[Source-a]\nType=panda\nSecert=\(secret)\n",
             "settings/webhooks.ini:3: [Source-a] unknown key Secert; expected one of EntryURL, MailProgress, Path, RecordingURL, ReminderLead, Secret, Tolerance, Type, TypeField, VideoURL"),
            ("[Source-a]\nType=standard\nSecret=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\nTypeField=a.b\n",
             "settings/webhooks.ini:4: [Source-a] TypeField must be a JSON field name of letters, digits, '_' and '-'"),
            ("[Source-a]\nType=panda\nSecret=\(secret)\nMailProgress=sometimes\n",
             "settings/webhooks.ini:4: [Source-a] MailProgress must be enabled or disabled, not \"sometimes\""),
            ("[Source-unsubscribe]\nType=panda\nSecret=\(secret)\n",
             "settings/webhooks.ini:2: [Source-unsubscribe] 'unsubscribe' is reserved for one-click unsubscribe links; choose another source name"),
            ("[Source-a.b]\nType=panda\nSecret=\(secret)\n",
             "settings/webhooks.ini:2: [Source-a.b] the source name may only use letters, digits, '_' and '-'"),
        ]
        for (block, expected) in cases {
            try write(block)
            let message = loadError()
            XCTAssertEqual(message, expected)
            XCTAssertFalse(message.contains(secret), message)
        }
    }

    func testReadableTimesAreComputedFromUnixSeconds() {
        // Calendar facts: 2026-01-01 is a Thursday; 2000-02-29 a Tuesday; 1970-01-01 a Thursday.
        XCTAssertEqual(ReadableTime.text(1_767_258_000), "Thursday 1 January 2026, 09:00 UTC")
        XCTAssertEqual(ReadableTime.text(951_782_400 + 23 * 3600 + 59 * 60 + 59), "Tuesday 29 February 2000, 23:59 UTC")
        XCTAssertEqual(ReadableTime.text(0), "Thursday 1 January 1970, 00:00 UTC")
        XCTAssertEqual(ReadableTime.clock(1_767_258_000 + 5 * 60), "09:05 UTC")

        var params: [String: JSONValue] = ["start_date": .number(1_767_258_000), "end_date": .string("1767261600"), "x": .null]
        ReadableTime.addDerivedTimes(to: &params, fields: [("start_date", "start"), ("end_date", "end"), ("x", "x")])
        XCTAssertEqual(params["start_time"], .string("2026-01-01T09:00:00Z"))
        XCTAssertEqual(params["end_text"], .string("Thursday 1 January 2026, 10:00 UTC"))
        XCTAssertEqual(params["end_clock"], .string("10:00 UTC"))
        XCTAssertEqual(params["start_date"], .number(1_767_258_000), "the raw field stays")
        XCTAssertNil(params["x_time"])
    }

    func testEveryIngestTemplateParsesAndTheKernelsWin() throws {
        for (name, source) in BuiltinTemplates.ingest {
            XCTAssertNoThrow(try Template(source: source, name: name), name)
        }
        for name in ["event/subject.txt", "event/body.txt", "event/body.html",
                     "enablex.recording/subject.txt", "kaltura.schedule_reminder/body.html", "panda.video-encoded/subject.txt"] {
            XCTAssertNotNil(BuiltinTemplates.all[name], name)
        }
        for (name, source) in BuiltinTemplates.core {
            XCTAssertEqual(BuiltinTemplates.all[name], source, "the kernel's \(name) is kept")
        }
    }

    func testRecordingSubjectFallsBackToTheRoomID() throws {
        let subject = try Template(source: XCTUnwrap(BuiltinTemplates.ingest["enablex.recording/subject.txt"]), name: "s")
        XCTAssertEqual(subject.render(["room_id": "r-1"], escapeHTML: false).trimmingCharacters(in: .newlines),
                       "Recording of room r-1 is ready")
        XCTAssertEqual(subject.render(["room_id": "r-1", "room_name": "Board room"], escapeHTML: false)
                        .trimmingCharacters(in: .newlines), "Recording of room Board room is ready")
    }
}
