import Foundation
import XCTest

/// Requests, secrets and signatures for the intake tests. Signatures are the reference vectors of
/// Kaltura's and Standard Webhooks' published examples, or computed here with
/// Python's hashlib/hmac, never with the code under test.
enum IngestFixture {
    static let kalturaSecret = "s3cr3t"
    static let pandaToken = "pnd-7f3a9c"
    static let enablexCredentials = "hooks:pa55word"
    static let standardSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    static let secrets = [kalturaSecret, pandaToken, enablexCredentials, "pa55word", standardSecret, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]

    static let webhooksINI = """
        [WebhookSettings]
        BodyLimit=4096

        [Source-kaltura]
        Type=kaltura
        Secret=\(kalturaSecret)

        [Source-webinars]
        Type=kaltura-http
        Secret=\(kalturaSecret)
        ReminderLead=900

        [Source-panda]
        Type=panda
        Secret=\(pandaToken)

        [Source-enablex]
        Type=enablex
        Secret=\(enablexCredentials)

        [Source-billing]
        Type=standard
        Secret=\(standardSecret)

        """

    static let form = "application/x-www-form-urlencoded"

    /// The notes' single Kaltura notification (entry_add of 0_abc, partner 123) and its md5 sig.
    static let kalturaSingle =
        "notification_id=1&notification_type=entry_add&puser_id=u1&partner_id=123&entry_id=0_abc&name=Test"
        + "&signed_fields=notification_id%2Cnotification_type%2Cpuser_id%2Cpartner_id%2Centry_id%2Cname%2Csigned_fields%2C"
        + "&sig=3dc0526aab0fcf57734ce10051e860c9"

    /// The notes' multi-notification: entry_add of 0_a and entry_delete of 0_b under one sig.
    static let kalturaMulti =
        "not1_notification_id=11&not1_notification_type=entry_add&not1_puser_id=u1&not1_partner_id=123&not1_entry_id=0_a"
        + "&not2_notification_id=12&not2_notification_type=entry_delete&not2_puser_id=u1&not2_partner_id=123&not2_entry_id=0_b"
        + "&signed_fields=not2_notification_id%2Cnot2_notification_type%2Cnot2_puser_id%2Cnot2_partner_id%2Cnot2_entry_id%2Csigned_fields%2C"
        + "&multi_notification=true&number_of_notifications=2&sig=57693beb6186c95879af4c194a39810a"

    /// A Kaltura live-stream schedule event (seed 002's shape) starting 2026-01-01T09:00:00Z and
    /// ending an hour later, with its sha1 `X-KALTURA-SIGNATURE` under `s3cr3t` (Python hashlib).
    static let schedule =
        #"{"object":{"id":"4711","partnerId":123,"templateEntryId":"1_live01","summary":"Quarterly webinar","startDate":1767258000,"endDate":1767261600,"status":2,"classificationType":1,"recurrenceType":0,"organizer":"events@example.com","tags":"webinar","objectType":"KalturaLiveStreamScheduleEvent"},"eventObjectType":"scheduleEventNotifications.ScheduleEvent","eventNotificationJobId":33578094492,"templateId":26970222,"templateName":"Schedule event created","templateSystemName":"SCHEDULE_EVENT_ADDED","eventType":2,"objectType":"KalturaHttpNotification"}"#
    static let scheduleSHA1 = "717317e4981b620aaab6fdf0a99a477eb5045e36"
    /// Two hours before the webinar: the reminder (lead 900 s) is due at 08:45:00Z.
    static let scheduleNow = "2026-01-01T07:00:00Z"

    static let pandaEncoded = "event=video-encoded&video_id=v1&encoding_ids%5B0%5D=e1"
    static let pandaProgress = "event=encoding-progress&encoding_id=e1&video_id=v1&progress=40"

    static let enablexRecording =
        #"{"type":"recording","trans_date":"1700000000","app_id":"app1","room_id":"room-a","conf_num":"c9","recording":["https://files.enablex.io/rec/room-a-1.mp4","https://files.enablex.io/rec/room-a-2.mp4"]}"#
    static var enablexAuthorization: String { "Basic " + Data(enablexCredentials.utf8).base64EncodedString() }

    /// A typed payload signed under the Standard Webhooks test key with Python's hmac.
    static let standardID = "msg_2Lx"
    static let standardTimestamp = "1614265330"
    static let standardNow = "2021-02-25T15:02:10Z"
    static let standardBody = #"{"type":"invoice.paid","timestamp":"2021-02-25T15:02:10Z","data":{"invoice":"in_1","amount":42}}"#
    static let standardSignature = "v1,X8ERV1mVjDBXoPVOmFG6e7B+b97jbPDAP90GXJALAgg="
    static var standardHeaders: [(String, String)] {
        [("webhook-id", standardID), ("webhook-timestamp", standardTimestamp), ("webhook-signature", standardSignature)]
    }

    /// Kaltura's legacy `sig`: md5(secret + k1 + v1 + ...) over the fields sorted by name, by Python.
    static func kalturaSigned(_ fields: [(String, String)]) throws -> String {
        let script = """
            import hashlib, json, sys, urllib.parse
            fields = [tuple(pair) for pair in json.loads(sys.argv[1])]
            text = sys.argv[2] + "".join(k + v for k, v in sorted(fields, key=lambda kv: kv[0].encode()))
            print(urllib.parse.urlencode(fields + [("sig", hashlib.md5(text.encode()).hexdigest())]), end="")
            """
        let json = try String(decoding: JSONSerialization.data(withJSONObject: fields.map { [$0.0, $0.1] }), as: UTF8.self)
        return try python(script, json, kalturaSecret)
    }

    static func python(_ script: String, _ arguments: String...) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CocoaError(.executableLoad) }
        return String(decoding: data, as: UTF8.self)
    }

    /// Makes every insert of an event of `type` fail, as a full disk or a broken store would.
    static func breakStore(_ root: TestRoot, forType type: String? = nil) throws {
        try root.breakWrites("INSERT", on: "event", when: type.map { "NEW.type = '\($0)'" })
    }

    static func repairStore(_ root: TestRoot) throws {
        try root.repairWrites(on: "event")
    }

    /// A root with the sources above and a subscriber of each of them.
    static func makeRoot(siteINI: String? = nil) throws -> TestRoot {
        let root = try TestRoot(siteINI: siteINI)
        try root.write("settings/webhooks.ini", webhooksINI)
        try root.ok("user", "add", "ann@example.com", "--name", "Ann", now: scheduleNow)
        for source in ["kaltura", "webinars", "panda", "enablex", "billing"] {
            try root.ok("subscribe", "ann@example.com", source, now: scheduleNow)
        }
        return root
    }
}

/// What `eventfilter cgi` wrote: the CGI response parsed, and how it exited.
struct CGIAnswer {
    let status: Int
    let headers: [String: String]
    let body: String
    let exitStatus: Int32
    let stderr: String
}

extension TestRoot {
    /// Runs `eventfilter cgi` with the environment a web server would give it (RFC 3875 §4.1).
    func cgi(
        _ method: String, _ path: String, query: String = "", contentType: String? = nil,
        headers: [(String, String)] = [], body: String = "", contentLength: Int? = nil, now: String
    ) throws -> CGIAnswer {
        var environment = [
            "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
            "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
        ]
        let length = contentLength ?? body.utf8.count
        if length > 0 || method == "POST" { environment["CONTENT_LENGTH"] = String(length) }
        if let contentType { environment["CONTENT_TYPE"] = contentType }
        for (name, value) in headers {
            environment["HTTP_" + name.uppercased().replacingOccurrences(of: "-", with: "_")] = value
        }
        let result = try run(["cgi"], now: now, stdin: body, environment: environment)
        let output = result.stdout
        guard let split = output.range(of: "\r\n\r\n") else {
            XCTFail("no CGI header block in \(output.debugDescription); stderr: \(result.stderr)")
            return CGIAnswer(status: 0, headers: [:], body: output, exitStatus: result.status, stderr: result.stderr)
        }
        var fields: [String: String] = [:]
        for line in output[..<split.lowerBound].components(separatedBy: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon]).lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let status = Int(fields["status"]?.split(separator: " ").first ?? "") ?? 0
        return CGIAnswer(status: status, headers: fields, body: String(output[split.upperBound...]),
                         exitStatus: result.status, stderr: result.stderr)
    }

    /// `eventfilter ingest SOURCE` with the given request.
    func ingest(
        _ source: String, body: String, contentType: String? = nil, headers: [(String, String)] = [],
        method: String? = nil, now: String
    ) throws -> Result {
        var arguments = ["ingest", source]
        if let contentType { arguments += ["--content-type", contentType] }
        for (name, value) in headers { arguments += ["--header", "\(name): \(value)"] }
        if let method { arguments += ["--method", method] }
        return try run(arguments, now: now, stdin: body)
    }

    var eventCount: Int { (try? scalar("SELECT count(*) FROM event")) ?? -1 }
}

/// Webhook intake through the real executable: `eventfilter ingest` and `eventfilter cgi` give the
/// HTTP answers the README promises (200, 400, 401, 403, 405, 413, 500), store nothing they refuse,
/// and their events reach the subscribers of the source with mail that reads well.
final class IngestEndToEndTests: XCTestCase {
    private typealias F = IngestFixture

    private func assertNoSecret(_ text: String, file: StaticString = #filePath, line: UInt = #line) {
        for secret in F.secrets {
            XCTAssertFalse(text.contains(secret), "output leaks a secret: \(text)", file: file, line: line)
        }
    }

    // MARK: Answers through `ingest`

    func testIngestAnswersEveryStatusAndStoresOnlyWhatItAccepts() throws {
        let root = try F.makeRoot()
        let now = F.scheduleNow

        let first = try root.ingest("kaltura", body: F.kalturaSingle, contentType: F.form, now: now)
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertEqual(first.stdout, "1\n", "prints the new event's id")
        let replay = try root.ingest("kaltura", body: F.kalturaSingle, contentType: F.form, now: now)
        XCTAssertEqual(replay.status, 0, replay.stderr)
        XCTAssertEqual(replay.stdout, "1\n", "a replay prints the stored id")
        XCTAssertEqual(root.eventCount, 1, "a replay stores nothing new")

        let refusals: [(expected: Int, result: TestRoot.Result)] = [
            (400, try root.ingest("panda?token=\(F.pandaToken)", body: "video_id=v1", contentType: F.form, now: now)),
            (401, try root.ingest("panda", body: F.pandaEncoded, contentType: F.form, now: now)),
            (403, try root.ingest("panda?token=pnd-wrong", body: F.pandaEncoded, contentType: F.form, now: now)),
            (403, try root.ingest("kaltura", body: F.kalturaSingle.replacingOccurrences(of: "name=Test", with: "name=Tampered"),
                                  contentType: F.form, now: now)),
            (404, try root.ingest("nosuchsource", body: F.pandaEncoded, contentType: F.form, now: now)),
            (405, try root.ingest("panda?token=\(F.pandaToken)", body: "", method: "GET", now: now)),
            (413, try root.ingest("panda?token=\(F.pandaToken)", body: F.pandaEncoded + "&pad=" + String(repeating: "x", count: 4096),
                                  contentType: F.form, now: now)),
        ]
        for (expected, result) in refusals {
            XCTAssertEqual(result.status, 1, "refused requests exit 1: \(result.stderr)")
            XCTAssertEqual(result.stdout, "")
            XCTAssertTrue(result.stderr.hasPrefix("eventfilter: rejected (\(expected) "), "expected \(expected): \(result.stderr)")
            XCTAssertEqual(result.stderr.filter { $0 == "\n" }.count, 1, "one line: \(result.stderr)")
            assertNoSecret(result.stderr)
        }
        XCTAssertEqual(root.eventCount, 1, "nothing stored for a rejected request")

        let usage = try root.run(["ingest", "panda", "--header", "no colon"], now: now, stdin: "")
        XCTAssertEqual(usage.status, 2, usage.stderr)
    }

    func testAFailingStoreAnswers500AndStoresNoneOfTheRequestsEvents() throws {
        let root = try F.makeRoot()
        let now = F.scheduleNow
        // The multi-notification's second event fails: the first must not stay stored either.
        try F.breakStore(root, forType: "kaltura.entry_delete")
        let failed = try root.ingest("kaltura", body: F.kalturaMulti, contentType: F.form, now: now)
        XCTAssertEqual(failed.status, 1)
        XCTAssertTrue(failed.stderr.hasPrefix("eventfilter: rejected (500 "), failed.stderr)
        XCTAssertEqual(root.eventCount, 0, "one transaction per request: all or nothing")

        let viaCGI = try root.cgi("POST", "/kaltura", contentType: F.form, body: F.kalturaMulti, now: now)
        XCTAssertEqual(viaCGI.status, 500)
        XCTAssertEqual(viaCGI.exitStatus, 0, "cgi exits 0 once it has answered")
        XCTAssertTrue(viaCGI.stderr.contains("disk full (test)"), "the cause goes to the server's log: \(viaCGI.stderr)")
        XCTAssertFalse(viaCGI.body.contains("disk full"), "the sender is only asked to retry: \(viaCGI.body)")
        XCTAssertEqual(root.eventCount, 0)

        // The sender's retry, once the store works again, stores both.
        try F.repairStore(root)
        let retried = try root.ingest("kaltura", body: F.kalturaMulti, contentType: F.form, now: now)
        XCTAssertEqual(retried.status, 0, retried.stderr)
        XCTAssertEqual(retried.stdout.split(separator: "\n").count, 2)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event WHERE type IN ('kaltura.entry_add', 'kaltura.entry_delete')"), 2)
    }

    // MARK: Answers through `cgi`

    func testCGIAnswersEveryStatusWithTheRightHeaders() throws {
        let root = try F.makeRoot()
        let now = F.standardNow

        let stored = try root.cgi("POST", "/billing", contentType: "application/json", headers: F.standardHeaders,
                                  body: F.standardBody, now: now)
        XCTAssertEqual(stored.status, 200, stored.body)
        XCTAssertEqual(stored.exitStatus, 0)
        XCTAssertEqual(stored.body, "1\n")
        XCTAssertEqual(stored.headers["content-type"], "text/plain; charset=utf-8")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event WHERE type = 'billing.invoice.paid'"), 1)

        let replay = try root.cgi("POST", "/billing", contentType: "application/json", headers: F.standardHeaders,
                                  body: F.standardBody, now: now)
        XCTAssertEqual(replay.status, 200, "a retry of a stored message is answered 200 so the sender stops")
        XCTAssertEqual(replay.body, "1 duplicate\n")
        XCTAssertEqual(root.eventCount, 1)

        let sixMinutesLater = "2021-02-25T15:08:11Z"
        let late = try root.cgi("POST", "/billing", contentType: "application/json", headers: F.standardHeaders,
                                body: F.standardBody, now: sixMinutesLater)
        XCTAssertEqual(late.status, 401, "outside the 5-minute window: \(late.body)")

        let badAuth = try root.cgi("POST", "/enablex", contentType: "application/json",
                                   headers: [("Authorization", "Basic " + Data("hooks:guess".utf8).base64EncodedString())],
                                   body: F.enablexRecording, now: now)
        XCTAssertEqual(badAuth.status, 403)
        let noAuth = try root.cgi("POST", "/enablex", contentType: "application/json", body: F.enablexRecording, now: now)
        XCTAssertEqual(noAuth.status, 401)
        XCTAssertEqual(noAuth.headers["www-authenticate"], #"Basic realm="eventfilter", charset="UTF-8""#)

        let malformed = try root.cgi("POST", "/enablex", contentType: "application/json",
                                     headers: [("Authorization", F.enablexAuthorization)], body: #"{"type":"recording""#, now: now)
        XCTAssertEqual(malformed.status, 400)
        let shortBody = try root.cgi("POST", "/panda", query: "token=\(F.pandaToken)", contentType: F.form,
                                     body: F.pandaEncoded, contentLength: F.pandaEncoded.utf8.count + 10, now: now)
        XCTAssertEqual(shortBody.status, 400, "a body shorter than CONTENT_LENGTH: \(shortBody.body)")
        let unknown = try root.cgi("POST", "/nosuchsource", contentType: F.form, body: F.pandaEncoded, now: now)
        XCTAssertEqual(unknown.status, 404)
        let nested = try root.cgi("POST", "/panda/extra", query: "token=\(F.pandaToken)", contentType: F.form,
                                  body: F.pandaEncoded, now: now)
        XCTAssertEqual(nested.status, 404)
        let get = try root.cgi("GET", "/panda", query: "token=\(F.pandaToken)", now: now)
        XCTAssertEqual(get.status, 405)
        XCTAssertEqual(get.headers["allow"], "POST")
        let tooLarge = try root.cgi("POST", "/panda", query: "token=\(F.pandaToken)", contentType: F.form,
                                    body: String(repeating: "x", count: 4097), now: now)
        XCTAssertEqual(tooLarge.status, 413)

        for answer in [late, badAuth, noAuth, malformed, shortBody, unknown, nested, get, tooLarge] {
            XCTAssertEqual(answer.exitStatus, 0, "cgi exits 0 after answering \(answer.status)")
            XCTAssertEqual(answer.body.filter { $0 == "\n" }.count, 1, "one-line reason: \(answer.body)")
            XCTAssertTrue(answer.stderr.contains(": \(answer.status) "), "refusals are logged: \(answer.stderr)")
            assertNoSecret(answer.body + answer.stderr)
        }
        XCTAssertEqual(root.eventCount, 1, "nothing stored for a rejected request")
    }

    func testBrokenWebhookSettingsAnswer500AndNameTheLine() throws {
        let root = try F.makeRoot()
        let text = F.webhooksINI + """

            [Source-typo]
            Type=kaltura-htp
            Secret=hidden-\(F.kalturaSecret)

            """
        try root.write("settings/webhooks.ini", text)
        let typeLine = try XCTUnwrap(text.components(separatedBy: "\n").firstIndex(of: "Type=kaltura-htp")) + 1
        let ingest = try root.ingest("panda?token=\(F.pandaToken)", body: F.pandaEncoded, contentType: F.form, now: F.scheduleNow)
        XCTAssertEqual(ingest.status, 1)
        XCTAssertEqual(ingest.stderr,
                       "eventfilter: settings/webhooks.ini:\(typeLine): [Source-typo] Type='kaltura-htp' is not one of kaltura, kaltura-http, panda, enablex, standard\n")

        let cgi = try root.cgi("POST", "/panda", query: "token=\(F.pandaToken)", contentType: F.form, body: F.pandaEncoded,
                               now: F.scheduleNow)
        XCTAssertEqual(cgi.status, 500)
        XCTAssertEqual(cgi.exitStatus, 0)
        XCTAssertTrue(cgi.stderr.contains("settings/webhooks.ini:\(typeLine):"), cgi.stderr)
        XCTAssertFalse(cgi.body.contains("webhooks.ini"), "file names stay in the log: \(cgi.body)")
        assertNoSecret(cgi.body + cgi.stderr + ingest.stderr)
        XCTAssertEqual(root.eventCount, 0)
    }

    // MARK: Mail per source type

    func testEverySourceTypeMailsItsSubscriberInWords() throws {
        let root = try F.makeRoot()
        let now = F.scheduleNow
        let readyEntry = try F.kalturaSigned([
            ("notification_id", "7"), ("notification_type", "entry_add"), ("partner_id", "123"), ("entry_id", "0_key"),
            ("name", "Keynote"), ("status", "2"), ("download_url", "https://cdn.example/dl/0_key.mp4"),
        ])
        let requests: [(source: String, body: String, type: String?, headers: [(String, String)])] = [
            ("kaltura", readyEntry, F.form, []),
            ("webinars", F.schedule, "application/json", [("X-Kaltura-Signature", F.scheduleSHA1)]),
            ("panda?token=\(F.pandaToken)", F.pandaEncoded, F.form, []),
            ("panda?token=\(F.pandaToken)", F.pandaProgress, F.form, []),
            ("enablex", F.enablexRecording, "application/json", [("Authorization", F.enablexAuthorization)]),
        ]
        for request in requests {
            for attempt in 1...2 {
                let result = try root.ingest(request.source, body: request.body, contentType: request.type,
                                             headers: request.headers, now: now)
                XCTAssertEqual(result.status, 0, "\(request.source) attempt \(attempt): \(result.stderr)")
            }
        }
        // The Standard Webhooks payload is only valid at its own timestamp.
        let standard = try root.ingest("billing", body: F.standardBody, contentType: "application/json",
                                       headers: F.standardHeaders, now: F.standardNow)
        XCTAssertEqual(standard.status, 0, standard.stderr)
        // entry, webinar announcement + reminder, video, progress, recording, invoice; replays added nothing.
        XCTAssertEqual(root.eventCount, 7)

        try root.ok("run", now: now)
        let mails = try root.mails()
        let subjects = Set(mails.map(\.subject))
        XCTAssertEqual(subjects, [
            "[Test Site] \"Keynote\" is ready to watch",
            "[Test Site] Webinar \"Quarterly webinar\" scheduled for Thursday 1 January 2026, 09:00 (UTC)",
            "[Test Site] Video v1 is ready",
            "[Test Site] Recording of room room-a is ready",
            "[Test Site] billing.invoice.paid: node billing",
        ], "one mail per event, none for quiet progress, none yet for the reminder")
        XCTAssertEqual(mails.count, 5)
        XCTAssertTrue(mails.allSatisfy { $0.to == "Ann <ann@example.com>" })

        let recording = try XCTUnwrap(mails.first { $0.subject.hasPrefix("[Test Site] Recording") })
        XCTAssertTrue(recording.text.contains("room-a-1.mp4: https://files.enablex.io/rec/room-a-1.mp4"), recording.text)
        XCTAssertTrue(recording.text.contains("room-a-2.mp4: https://files.enablex.io/rec/room-a-2.mp4"), recording.text)
        let html = try XCTUnwrap(recording.html)
        XCTAssertTrue(html.contains(#"<li><a href="https://files.enablex.io/rec/room-a-1.mp4">room-a-1.mp4</a></li>"#), html)
        XCTAssertEqual(html.components(separatedBy: "<ul>").count, 2, "one list: \(html)")

        let entry = try XCTUnwrap(mails.first { $0.subject.contains("Keynote") })
        XCTAssertTrue(entry.text.contains("Download: https://cdn.example/dl/0_key.mp4"), entry.text)
        let webinar = try XCTUnwrap(mails.first { $0.subject.hasPrefix("[Test Site] Webinar") })
        XCTAssertTrue(webinar.text.contains("Starts: Thursday 1 January 2026, 09:00 (UTC)"), webinar.text)
        XCTAssertTrue(webinar.text.contains("Organizer: events@example.com"), webinar.text)
    }

    // MARK: Scheduled-session reminder

    func testReminderArrivesAtStartMinusLeadAndNotBefore() throws {
        let root = try F.makeRoot()
        let stored = try root.ingest("webinars", body: F.schedule, contentType: "application/json",
                                     headers: [("X-Kaltura-Signature", F.scheduleSHA1)], now: F.scheduleNow)
        XCTAssertEqual(stored.status, 0, stored.stderr)
        XCTAssertEqual(stored.stdout, "1\n2\n", "the announcement and the reminder")

        try root.ok("run", now: F.scheduleNow)
        XCTAssertEqual(try root.mails().map(\.subject), ["[Test Site] Webinar \"Quarterly webinar\" scheduled for Thursday 1 January 2026, 09:00 (UTC)"])

        // 09:00 - 16 min: not yet.
        try root.ok("run", now: "2026-01-01T08:44:00Z")
        XCTAssertEqual(try root.mailFiles().count, 1, "no reminder 16 minutes before the start")
        try root.ok("run", now: "2026-01-01T08:44:59Z")
        XCTAssertEqual(try root.mailFiles().count, 1, "no reminder a second before start - lead")

        // 09:00 - 15 min: the reminder, once.
        try root.ok("run", now: "2026-01-01T08:45:00Z")
        let mails = try root.mails()
        XCTAssertEqual(mails.count, 2)
        let reminder = try XCTUnwrap(mails.last)
        XCTAssertEqual(reminder.subject, "[Test Site] Webinar \"Quarterly webinar\" starts at 09:00 (UTC)")
        XCTAssertEqual(reminder.header("Date"), "Thu, 01 Jan 2026 08:45:00 +0000")
        XCTAssertTrue(reminder.text.contains("starts soon, on Thursday 1 January 2026, 09:00 (UTC)"), reminder.text)

        try root.ok("run", now: "2026-01-01T08:50:00Z")
        try root.ok("run", now: "2026-01-01T09:30:00Z")
        XCTAssertEqual(try root.mailFiles().count, 2, "the reminder is sent exactly once")

        // The same notification again (Kaltura re-sends): no second announcement or reminder.
        let again = try root.ingest("webinars", body: F.schedule, contentType: "application/json",
                                    headers: [("X-Kaltura-Signature", F.scheduleSHA1)], now: "2026-01-01T08:55:00Z")
        XCTAssertEqual(again.stdout, "1\n2\n")
        try root.ok("run", now: "2026-01-01T08:56:00Z")
        XCTAssertEqual(try root.mailFiles().count, 2)
    }

    // MARK: One-click unsubscribe

    func testOneClickUnsubscribeThroughCGIIsIdempotentAndScannerSafe() throws {
        let siteINI = TestRoot.defaultSiteINI.replacingOccurrences(
            of: "SiteURL=https://example.com\n", with: "SiteURL=https://example.com\nUnsubscribeURL=https://example.com/hooks/unsubscribe\n")
        let root = try F.makeRoot(siteINI: siteINI)
        let now = F.scheduleNow
        XCTAssertEqual(try root.ingest("panda?token=\(F.pandaToken)", body: F.pandaEncoded, contentType: F.form, now: now).status, 0)
        try root.ok("run", now: now)
        let mail = try XCTUnwrap(try root.mails().first)
        XCTAssertEqual(mail.header("List-Unsubscribe-Post"), "List-Unsubscribe=One-Click")
        let link = try XCTUnwrap(mail.header("List-Unsubscribe"))
        let prefix = "<https://example.com/hooks/unsubscribe/"
        XCTAssertTrue(link.hasPrefix(prefix) && link.hasSuffix(">"), link)
        let token = String(link.dropFirst(prefix.count).dropLast())
        let path = "/unsubscribe/\(token)"
        let rules = "SELECT count(*) FROM subtree_rule WHERE node_id = 'panda'"
        XCTAssertEqual(try root.scalar(rules), 1)

        // A link scanner's GET changes nothing; the page's form POSTs the RFC 8058 body.
        let page = try root.cgi("GET", path, now: now)
        XCTAssertEqual(page.status, 200)
        XCTAssertEqual(page.headers["content-type"], "text/html; charset=utf-8")
        XCTAssertTrue(page.body.contains(#"<form method="post">"#), page.body)
        XCTAssertTrue(page.body.contains(#"name="List-Unsubscribe" value="One-Click""#), page.body)
        XCTAssertEqual(try root.scalar(rules), 1, "GET does not unsubscribe")

        let post = try root.cgi("POST", path, contentType: F.form, body: "List-Unsubscribe=One-Click", now: now)
        XCTAssertEqual(post.status, 200)
        XCTAssertEqual(post.body, "unsubscribed\n")
        XCTAssertNil(post.headers["location"], "no redirect")
        XCTAssertEqual(try root.scalar(rules), 0)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM subtree_rule"), 4, "only that rule goes")

        let boundary = "----ef"
        let multipart = "--\(boundary)\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--\(boundary)--\r\n"
        let again = try root.cgi("POST", path, contentType: "multipart/form-data; boundary=\(boundary)", body: multipart, now: now)
        XCTAssertEqual(again.status, 200)
        XCTAssertEqual(again.body, "unsubscribed\n", "a repeated POST answers the same")
        let unknown = try root.cgi("POST", "/unsubscribe/0123456789abcdef0123456789abcdef", body: "", now: now)
        XCTAssertEqual(unknown.status, 200, "an unknown token tells nothing")
        XCTAssertEqual(try root.cgi("POST", "/unsubscribe/no+token!", body: "", now: now).status, 400)
        let longer = try root.cgi("POST", "/unsubscribe/\(token)/more", body: "", now: now)
        XCTAssertEqual(longer.status, 404)
        let wrongMethod = try root.cgi("DELETE", path, now: now)
        XCTAssertEqual(wrongMethod.status, 405)
        // A refused request is logged, but never with its token.
        XCTAssertEqual(longer.stderr, "eventfilter: cgi: POST /unsubscribe/…: 404 an unsubscribe link is /unsubscribe/TOKEN\n")
        XCTAssertTrue(wrongMethod.stderr.hasPrefix("eventfilter: cgi: DELETE /unsubscribe/…: 405 "), wrongMethod.stderr)
        XCTAssertFalse((longer.stderr + wrongMethod.stderr).contains(token))

        XCTAssertEqual(try root.ingest("panda?token=\(F.pandaToken)", body: "event=video-encoded&video_id=v2",
                                       contentType: F.form, now: now).status, 0)
        try root.ok("run", now: now)
        XCTAssertEqual(try root.mailFiles().count, 1, "no mail after unsubscribing")
    }
}
