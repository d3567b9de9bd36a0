import Foundation
import XCTest

/// The webhook requests every web-server test sends, and the answers and mail they must give,
/// whichever front end (CGI or FastCGI) and web server sit in between.
///
///     try WebhookBattery(baseURL: "http://127.0.0.1:\(port)/hooks", root: root, scratch: scratch,
///                        front: "cgi", errorLog: { log }).run()
struct WebhookBattery {
    private typealias F = IngestFixture

    let baseURL: String
    let root: TestRoot
    let scratch: URL
    /// `cgi` or `fastcgi`: the name in the refusal lines of the error log.
    let front: String
    /// The log where the program's refusal lines land.
    let errorLog: () -> String

    /// An installation for the battery: the intake fixture, with unsubscribe links under `baseURL`.
    static func makeRoot(baseURL: String) throws -> TestRoot {
        let siteINI = TestRoot.defaultSiteINI.replacingOccurrences(
            of: "SiteURL=https://example.com\n",
            with: "SiteURL=https://example.com\nUnsubscribeURL=\(baseURL)/unsubscribe\n")
        return try F.makeRoot(siteINI: siteINI)
    }

    func run(file: StaticString = #filePath, line: UInt = #line) throws {
        let now = try UnixTime(F.scheduleNow)
        let billingID = "msg_lighttpd_1"
        let billingBody = #"{"type":"invoice.paid","data":{"invoice":"in_7","name":"Invoice 7"}}"#
        let billingSignature = try F.python("""
            import base64, hashlib, hmac, sys
            key = base64.b64decode(sys.argv[1].split("_", 1)[1])
            mac = hmac.new(key, f"{sys.argv[2]}.{sys.argv[3]}.{sys.argv[4]}".encode(), hashlib.sha256).digest()
            print("v1," + base64.b64encode(mac).decode(), end="")
            """, F.standardSecret, billingID, String(now.seconds), billingBody)
        let billingHeaders = [("webhook-id", billingID), ("webhook-timestamp", String(now.seconds)),
                              ("webhook-signature", billingSignature)]
        let json = "application/json"

        // 200 for every source type; the replay of each stores nothing new.
        let accepted: [(path: String, body: String, type: String, headers: [(String, String)], user: String?)] = [
            ("/kaltura", F.kalturaSingle, F.form, [], nil),
            ("/webinars", F.schedule, json, [("X-Kaltura-Signature", F.scheduleSHA1)], nil),
            ("/panda?token=\(F.pandaToken)", F.pandaEncoded, F.form, [], nil),
            ("/enablex", F.enablexRecording, json, [], F.enablexCredentials),
            ("/billing", billingBody, json, billingHeaders, nil),
        ]
        for request in accepted {
            let first = try curl("POST", request.path, body: request.body, contentType: request.type,
                                 headers: request.headers, user: request.user)
            XCTAssertEqual(first.status, 200, "\(request.path): \(first.body) \(errorLog())", file: file, line: line)
            let replay = try curl("POST", request.path, body: request.body, contentType: request.type,
                                  headers: request.headers, user: request.user)
            XCTAssertEqual(replay.status, 200, "\(request.path) replay: \(replay.body)", file: file, line: line)
            XCTAssertTrue(replay.body.contains("duplicate"), replay.body, file: file, line: line)
        }
        // kaltura 1, webinars 2 (announcement, reminder), panda 1, enablex 1, billing 1
        XCTAssertEqual(root.eventCount, 6, file: file, line: line)

        // Every refusal, with nothing stored.
        let tampered = F.kalturaSingle.replacingOccurrences(of: "name=Test", with: "name=Evil")
        let refusals: [(expected: Int, answer: (status: Int, body: String))] = [
            (400, try curl("POST", "/panda?token=\(F.pandaToken)", body: "video_id=v1", contentType: F.form)),
            (401, try curl("POST", "/enablex", body: F.enablexRecording, contentType: json)),
            (403, try curl("POST", "/enablex", body: F.enablexRecording, contentType: json, user: "hooks:guess")),
            (403, try curl("POST", "/kaltura", body: tampered, contentType: F.form)),
            (404, try curl("POST", "/nosuchsource", body: F.pandaEncoded, contentType: F.form)),
            (405, try curl("GET", "/panda?token=\(F.pandaToken)")),
            (413, try curl("POST", "/panda?token=\(F.pandaToken)", body: String(repeating: "x", count: 5000), contentType: F.form)),
        ]
        for (expected, answer) in refusals {
            XCTAssertEqual(answer.status, expected, "\(answer.body) \(errorLog())", file: file, line: line)
            for secret in F.secrets { XCTAssertFalse(answer.body.contains(secret), answer.body, file: file, line: line) }
        }
        try F.breakStore(root)
        let broken = try curl("POST", "/panda?token=\(F.pandaToken)", body: "event=video-created&video_id=v2", contentType: F.form)
        XCTAssertEqual(broken.status, 500, broken.body, file: file, line: line)
        try F.repairStore(root)
        XCTAssertEqual(root.eventCount, 6, "nothing stored for a rejected request", file: file, line: line)
        let log = errorLog()
        XCTAssertTrue(log.contains("eventfilter: \(front): POST /kaltura: 403 "), "refusals reach the server's log: \(log)", file: file, line: line)
        for secret in F.secrets { XCTAssertFalse(log.contains(secret), log, file: file, line: line) }

        // The subscriber of every source hears about it.
        try root.ok("run", now: F.scheduleNow)
        let mails = try root.mails()
        XCTAssertEqual(Set(mails.map(\.subject)), [
            "[Test Site] New media \"Test\" was added",
            "[Test Site] Webinar \"Quarterly webinar\" scheduled for Thursday 1 January 2026, 09:00 (UTC)",
            "[Test Site] Video v1 is ready",
            "[Test Site] Recording of room room-a is ready",
            "[Test Site] billing.invoice.paid: Invoice 7",
        ], file: file, line: line)
        XCTAssertTrue(mails.allSatisfy { $0.to == "Ann <ann@example.com>" }, file: file, line: line)
        let recording = try XCTUnwrap(mails.first { $0.subject.hasPrefix("[Test Site] Recording") })
        XCTAssertTrue(recording.text.contains("https://files.enablex.io/rec/room-a-1.mp4"), recording.text, file: file, line: line)

        // One-click unsubscribe through the same server, with the link from the mail.
        let video = try XCTUnwrap(mails.first { $0.subject == "[Test Site] Video v1 is ready" })
        let link = try XCTUnwrap(video.header("List-Unsubscribe")).trimmingCharacters(in: CharacterSet(charactersIn: "<>"))
        XCTAssertTrue(link.hasPrefix(baseURL + "/unsubscribe/"), link, file: file, line: line)
        let path = String(link.dropFirst(baseURL.count))
        let page = try curl("GET", path)
        XCTAssertEqual(page.status, 200, file: file, line: line)
        XCTAssertTrue(page.body.contains("<form method=\"post\">"), page.body, file: file, line: line)
        for _ in 1...2 {
            let post = try curl("POST", path, body: "List-Unsubscribe=One-Click", contentType: F.form)
            XCTAssertEqual(post.status, 200, file: file, line: line)
            XCTAssertEqual(post.body, "unsubscribed\n", file: file, line: line)
        }
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM subtree_rule WHERE node_id = 'panda'"), 0, file: file, line: line)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM subtree_rule"), 4, file: file, line: line)
    }

    /// One request with curl; the status and the body.
    func curl(
        _ method: String, _ path: String, body: String? = nil, contentType: String? = nil,
        headers: [(String, String)] = [], user: String? = nil
    ) throws -> (status: Int, body: String) {
        let bodyFile = scratch.appendingPathComponent("request-\(UUID().uuidString)")
        let answerFile = scratch.appendingPathComponent("answer-\(UUID().uuidString)")
        defer {
            try? FileManager.default.removeItem(at: bodyFile)
            try? FileManager.default.removeItem(at: answerFile)
        }
        var arguments = ["-s", "--max-time", "10", "-o", answerFile.path, "-w", "%{http_code}", "-X", method]
        if let body {
            try Data(body.utf8).write(to: bodyFile)
            arguments += ["--data-binary", "@" + bodyFile.path]
        }
        // curl adds a form content type to --data-binary unless told otherwise ("Content-Type:" removes it).
        arguments += ["-H", contentType.map { "Content-Type: \($0)" } ?? "Content-Type:"]
        for (name, value) in headers { arguments += ["-H", "\(name): \(value)"] }
        if let user { arguments += ["-u", user] }
        arguments.append(baseURL + path)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["curl"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let answer = (try? String(contentsOf: answerFile, encoding: .utf8)) ?? ""
        return (Int(output) ?? 0, answer)
    }
}

/// A unix time from an ISO 8601 string, parsed here without the code under test.
struct UnixTime {
    let seconds: Int64

    init(_ iso: String) throws {
        let formatter = ISO8601DateFormatter()
        guard let date = formatter.date(from: iso) else { throw CocoaError(.formatting) }
        seconds = Int64(date.timeIntervalSince1970)
    }
}
