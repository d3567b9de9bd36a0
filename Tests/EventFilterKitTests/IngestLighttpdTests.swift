import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `eventfilter cgi` behind a real web server (issue 4, "Must show" 2): lighttpd from Debian on
/// 127.0.0.1, started by the test through Tests/Support/lighttpd_webhooks.sh, requests made with
/// curl, and the subscriber's mail checked after `eventfilter run`.
final class IngestLighttpdTests: XCTestCase {
    private typealias F = IngestFixture

    private var server: Process?
    private var scratch: URL!
    private var port: UInt16 = 0
    private var root: TestRoot!

    private static let lighttpd = "/usr/sbin/lighttpd"
    private static let script = TestRoot.repository.appendingPathComponent("Tests/Support/lighttpd_webhooks.sh")

    override func setUpWithError() throws {
        try Self.ensureLighttpd()
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ef-lighttpd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        port = try Self.freePort()
        let siteINI = TestRoot.defaultSiteINI.replacingOccurrences(
            of: "SiteURL=https://example.com\n",
            with: "SiteURL=https://example.com\nUnsubscribeURL=\(baseURL)/unsubscribe\n")
        root = try F.makeRoot(siteINI: siteINI)

        let process = Process()
        process.executableURL = Self.script
        process.arguments = [scratch.path, String(port), TestRoot.executable.path, root.path, F.scheduleNow]
        let log = scratch.appendingPathComponent("lighttpd.out")
        try Data().write(to: log)
        process.standardOutput = try FileHandle(forWritingTo: log)
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        server = process
        try waitForPort(seconds: 10)
    }

    override func tearDownWithError() throws {
        if let server, server.isRunning {
            server.terminate()  // SIGTERM: lighttpd stops at once
            server.waitUntilExit()
        }
        server = nil
        root = nil
        if let scratch { try? FileManager.default.removeItem(at: scratch) }
    }

    private var baseURL: String { "http://127.0.0.1:\(port)/hooks.cgi" }

    // MARK: The test

    func testEverySourceAndEveryAnswerThroughLighttpd() throws {
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
            XCTAssertEqual(first.status, 200, "\(request.path): \(first.body) \(serverLog())")
            let replay = try curl("POST", request.path, body: request.body, contentType: request.type,
                                  headers: request.headers, user: request.user)
            XCTAssertEqual(replay.status, 200, "\(request.path) replay: \(replay.body)")
            XCTAssertTrue(replay.body.contains("duplicate"), replay.body)
        }
        // kaltura 1, webinars 2 (announcement, reminder), panda 1, enablex 1, billing 1
        XCTAssertEqual(root.eventCount, 6)

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
            XCTAssertEqual(answer.status, expected, "\(answer.body) \(serverLog())")
            for secret in F.secrets { XCTAssertFalse(answer.body.contains(secret), answer.body) }
        }
        try F.breakStore(root)
        let broken = try curl("POST", "/panda?token=\(F.pandaToken)", body: "event=video-created&video_id=v2", contentType: F.form)
        XCTAssertEqual(broken.status, 500, broken.body)
        try F.repairStore(root)
        XCTAssertEqual(root.eventCount, 6, "nothing stored for a rejected request")
        let cgiLog = (try? String(contentsOf: scratch.appendingPathComponent("cgi-stderr.log"), encoding: .utf8)) ?? ""
        XCTAssertTrue(cgiLog.contains("eventfilter: cgi: POST /kaltura: 403 "), "refusals reach the server's log: \(cgiLog)")
        for secret in F.secrets { XCTAssertFalse(cgiLog.contains(secret), cgiLog) }

        // The subscriber of every source hears about it.
        try root.ok("run", now: F.scheduleNow)
        let mails = try root.mails()
        XCTAssertEqual(Set(mails.map(\.subject)), [
            "[Test Site] New media \"Test\" was added",
            "[Test Site] Webinar \"Quarterly webinar\" scheduled for Thursday 1 January 2026, 09:00 (UTC)",
            "[Test Site] Video v1 is ready",
            "[Test Site] Recording of room room-a is ready",
            "[Test Site] billing.invoice.paid: Invoice 7",
        ])
        XCTAssertTrue(mails.allSatisfy { $0.to == "Ann <ann@example.com>" })
        let recording = try XCTUnwrap(mails.first { $0.subject.hasPrefix("[Test Site] Recording") })
        XCTAssertTrue(recording.text.contains("https://files.enablex.io/rec/room-a-1.mp4"), recording.text)

        // One-click unsubscribe through the same server, with the link from the mail.
        let video = try XCTUnwrap(mails.first { $0.subject == "[Test Site] Video v1 is ready" })
        let link = try XCTUnwrap(video.header("List-Unsubscribe")).trimmingCharacters(in: CharacterSet(charactersIn: "<>"))
        XCTAssertTrue(link.hasPrefix(baseURL + "/unsubscribe/"), link)
        let path = String(link.dropFirst(baseURL.count))
        let page = try curl("GET", path)
        XCTAssertEqual(page.status, 200)
        XCTAssertTrue(page.body.contains("<form method=\"post\">"), page.body)
        for _ in 1...2 {
            let post = try curl("POST", path, body: "List-Unsubscribe=One-Click", contentType: F.form)
            XCTAssertEqual(post.status, 200)
            XCTAssertEqual(post.body, "unsubscribed\n")
        }
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM subtree_rule WHERE node_id = 'panda'"), 0)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM subtree_rule"), 4)
    }

    // MARK: Helpers

    /// One request with curl; the status and the body.
    private func curl(
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

    private func serverLog() -> String {
        (try? String(contentsOf: scratch.appendingPathComponent("error.log"), encoding: .utf8)) ?? ""
    }

    /// Polls until lighttpd accepts connections, failing after `seconds`.
    private func waitForPort(seconds: Double) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if Self.canConnect(port) { return }
            guard server?.isRunning == true else { break }
            usleep(20_000)
        }
        let out = (try? String(contentsOf: scratch.appendingPathComponent("lighttpd.out"), encoding: .utf8)) ?? ""
        XCTFail("lighttpd did not start on 127.0.0.1:\(port): \(out) \(serverLog())")
        throw CocoaError(.executableLoad)
    }

    private static func canConnect(_ port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// A port the kernel just handed out on 127.0.0.1, closed again for lighttpd to take.
    private static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        defer { close(fd) }
        var address = loopback(0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return UInt16(bigEndian: address.sin_port)
    }

    private static func loopback(_ port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }

    /// lighttpd is a test dependency: install it when missing; skip LOUDLY only if that fails.
    private static func ensureLighttpd() throws {
        if FileManager.default.isExecutableFile(atPath: lighttpd) { return }
        let install = Process()
        install.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        install.arguments = ["apt-get", "install", "-y", "-q", "lighttpd"]
        install.environment = ProcessInfo.processInfo.environment.merging(["DEBIAN_FRONTEND": "noninteractive"]) { _, new in new }
        do {
            try install.run()
            install.waitUntilExit()
        } catch {
            // Reported below, with the skip.
        }
        guard FileManager.default.isExecutableFile(atPath: lighttpd) else {
            let message = "SKIPPING THE WEB SERVER TEST: lighttpd is not installed and 'apt-get install -y lighttpd' failed"
            FileHandle.standardError.write(Data(("\n*** " + message + " ***\n\n").utf8))
            throw XCTSkip(message)
        }
    }
}

/// A unix time from an ISO 8601 string, parsed here without the code under test.
private struct UnixTime {
    let seconds: Int64

    init(_ iso: String) throws {
        let formatter = ISO8601DateFormatter()
        guard let date = formatter.date(from: iso) else { throw CocoaError(.formatting) }
        seconds = Int64(date.timeIntervalSince1970)
    }
}
