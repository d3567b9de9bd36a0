import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// A subscriber uses their settings page in a real headless Chromium (Debian's `chromium` and
/// `chromium-driver`, driven by Selenium from Tests/Support/settings_browser.py), served by
/// `eventfilter fastcgi` behind nginx with the README's configuration, on 127.0.0.1. Then the
/// next runs deliver what the page now says.
final class SettingsBrowserEndToEndTests: XCTestCase {
    private var scratch: URL!
    private var nginx: Process?

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ef-settings-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let nginx, nginx.isRunning {
            nginx.terminate()
            nginx.waitUntilExit()
        }
        if let scratch { try? FileManager.default.removeItem(at: scratch) }
    }

    /// Wednesday 7 January 2026, 15:00 UTC: the run that mails the link and the page's clock.
    static let start = "2026-01-07T15:00:00Z"
    /// Monday 12 January 2026, 07:30 in New York (EST, UTC-5).
    static let mondayMorningNewYork = "2026-01-12T12:30:00Z"

    func testASubscriberChangesTheirSettingsInChromiumAndTheNextRunsFollowThem() throws {
        let port = try Loopback.freePort()
        let root = try TestRoot(siteINI: TestRoot.defaultSiteINI.replacingOccurrences(
            of: "SiteURL=https://example.com", with: "SiteURL=http://127.0.0.1:\(port)"))
        try root.ok("user", "add", "bob@example.com", "--name", "Bob Reader")
        try root.ok("user", "add", "carol@example.com", "--name", "Carol Private")
        try root.ok("subscribe", "bob@example.com", "60")
        try root.ok("subscribe", "bob@example.com", "61")
        try root.ok("subscribe", "carol@example.com", "62")
        try root.ok("collaboration", "subscribe", "bob@example.com", "ezapprove")
        for (node, name) in [("60", "News"), ("61", "Concerts"), ("62", "Carol's private folder")] {
            try root.ok("event", "add", "ezpublish", "node_id=\(node)", "path=/1/2/\(node)/", "name=\(name)", "class=Folder",
                        "author=ann@example.com", "version=1", "url=/\(node)")
        }
        try root.ok("run", now: Self.start)
        let bobsMail = try XCTUnwrap(root.mails().first { $0.to.contains("bob@example.com") })

        // The responder and nginx, with the README's location for the settings pages.
        let responder = try ResponderProcess(root: root, now: Self.start)
        let location = try Self.readmeBlock("nginx", "# nginx: the settings pages at /notification/settings; the responder listens on 127.0.0.1:9000")
        try startNginx(port: port, location.replacingOccurrences(of: "127.0.0.1:9000", with: "127.0.0.1:\(responder.port)"))

        let shots = TestRoot.repository.appendingPathComponent(".build/screenshots")
        try FileManager.default.createDirectory(at: shots, withIntermediateDirectories: true)
        let seen = try browse(mail: try XCTUnwrap(bobsMail.file), dumpCommand: root.dumpCommand, screenshots: shots)

        // What the page showed: Bob's subjects by name and path, his collaboration, nobody else's data.
        XCTAssertEqual(seen["title"] as? String, "Notification settings · Test Site")
        XCTAssertEqual(seen["follows"] as? [String], ["News | /1/2/60/ | Stop", "Concerts | /1/2/61/ | Stop"])
        XCTAssertEqual(seen["collaborations"] as? [String], ["Approval requests | Stop"])
        XCTAssertEqual(seen["delivery_before"] as? String, "Now: at once, one mail per change")
        XCTAssertFalse("\(seen)".contains("Carol"), "another user's data on Bob's page")
        XCTAssertLessThanOrEqual(seen["scroll_width_390"] as? Int ?? .max, 390, "the page fits a phone-width screen")
        for file in ["settings-1280.png", "settings-390.png"] {
            let size = (try? FileManager.default.attributesOfItem(atPath: shots.appendingPathComponent(file).path)[.size] as? Int) ?? 0
            XCTAssertGreaterThan(size ?? 0, 1000, "screenshot \(file)")
        }
        XCTAssertEqual(seen["get_status"] as? Int, 200)
        XCTAssertEqual(seen["headers"] as? [String: String], [
            "Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ])
        // A wrong token: the 404 of a path that does not exist; nothing changed.
        XCTAssertEqual(seen["wrong_token_text"] as? String, "not found")
        XCTAssertEqual(seen["wrong_token_get"] as? Int, 404)
        XCTAssertEqual(seen["wrong_token_post"] as? Int, 404)
        XCTAssertEqual(seen["unknown_path"] as? Int, 404)
        XCTAssertEqual(seen["unknown_path_body_same"] as? Bool, true)
        XCTAssertEqual(seen["wrong_token_unchanged"] as? Bool, true, "the store's dump before and after a wrong token")
        // /notification/settingsx is nginx's own 404, not a webhook name; a line break in the path
        // still reaches the pages' 404 with their headers.
        XCTAssertEqual(seen["outside_location"] as? String, "404 from nginx")
        XCTAssertEqual(seen["line_break_path"] as? String,
                       "404, CSP default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
        // A forged CSRF token: refused with the reason; nothing changed.
        XCTAssertEqual(seen["forged_text"] as? String, "This form has expired. Please try again.")
        XCTAssertEqual(seen["forged_unchanged"] as? Bool, true, "the store's dump before and after a forged CSRF token")
        // The changes, as the page reports them.
        XCTAssertEqual(seen["time_typed"] as? String, "07:30")
        XCTAssertEqual(seen["saved_notice"] as? String,
                       "Saved. Mail now comes in a weekly digest on Monday at 07:30 America/New_York time.")
        XCTAssertEqual(seen["delivery_after"] as? String, "Now: in a weekly digest on Monday at 07:30 America/New_York time")
        XCTAssertEqual(seen["stopped_notice"] as? String, "You no longer get mail about node 61.")
        XCTAssertEqual(seen["follows_after"] as? [String], ["News | /1/2/60/ | Stop"])

        // The program's refusals go to the responder's own stderr: nginx would write the request
        // line, token and all, next to any FCGI_STDERR line. Neither log holds the token.
        let logged = responder.stderr
        XCTAssertEqual(responder.stop(), 0)
        let nginxLog = (try? String(contentsOfFile: scratch.path + "/error.log", encoding: .utf8)) ?? ""
        XCTAssertTrue(logged.contains("eventfilter: fastcgi: GET /settings/…: 404 not found\n"), logged)
        XCTAssertTrue(logged.contains("eventfilter: fastcgi: POST /settings/…: 403 Forbidden (the form's CSRF token does not match the page)\n"), logged)
        XCTAssertFalse(nginxLog.contains("FastCGI sent in stderr"), nginxLog)
        let token = try XCTUnwrap(bobsMail.text.range(of: #"settings/[A-Za-z0-9_-]{43}"#, options: .regularExpression))
        for log in [logged, nginxLog] {
            XCTAssertFalse(log.contains(String(bobsMail.text[token].dropFirst("settings/".count))), log)
            XCTAssertFalse(log.contains("AAAAAAAAAAAAAAAAAAAA"), log)
        }

        // The store says the same.
        XCTAssertEqual(try root.rows("""
            SELECT u.timezone, d.frequency, d.day, d.minute_of_day FROM "user" u JOIN digest_setting d ON d.user_id = u.id
            WHERE u.email = 'bob@example.com'
            """), [["America/New_York", "weekly", "1", "450"]])
        XCTAssertEqual(try root.rows("""
            SELECT r.node_id FROM subtree_rule r JOIN "user" u ON u.id = r.user_id WHERE u.email = 'bob@example.com'
            """), [["60"]])

        // The next runs: news below 60 waits for Monday 07:30 New York time; 61 sends nothing.
        let mailsBefore = try root.mailFiles().count
        try root.ok("event", "add", "ezpublish", "node_id=77", "path=/1/2/60/77/", "name=Spring release notes", "class=Article",
                    "author=ann@example.com", "version=1", "url=/news/spring")
        try root.ok("event", "add", "ezpublish", "node_id=88", "path=/1/2/61/88/", "name=Winter concert", "class=Article",
                    "author=ann@example.com", "version=1", "url=/concerts/winter")
        try root.ok("run", now: "2026-01-08T10:00:00Z")
        try root.ok("run", now: "2026-01-12T12:29:00Z")
        XCTAssertEqual(try root.mailFiles().count, mailsBefore, "nothing for Bob before Monday 07:30 in New York")
        try root.ok("run", now: Self.mondayMorningNewYork)
        let digests = try root.mails().dropFirst(mailsBefore)
        XCTAssertEqual(digests.count, 1)
        let digest = try XCTUnwrap(digests.first)
        XCTAssertTrue(digest.to.contains("bob@example.com"))
        XCTAssertTrue(digest.text.contains("Spring release notes"), digest.text)
        XCTAssertFalse(digest.text.contains("Winter concert"), "the stopped subscription sent something")
        XCTAssertNotNil(digest.text.range(of: #"http://127\.0\.0\.1:\d+/notification/settings/[A-Za-z0-9_-]{43}"#,
                                          options: .regularExpression), "the digest's footer has Bob's settings link")
    }

    // MARK: Helpers

    /// Runs the Selenium script (bounded: 3 minutes) and returns what it saw; its stderr is the failure reason.
    private func browse(mail: URL, dumpCommand: [String], screenshots: URL) throws -> [String: Any] {
        let script = TestRoot.repository.appendingPathComponent("Tests/Support/settings_browser.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let command = String(decoding: try JSONSerialization.data(withJSONObject: dumpCommand), as: UTF8.self)
        process.arguments = ["python3", script.path, mail.path, command, screenshots.path]
        let out = scratch.appendingPathComponent("browser.out"), err = scratch.appendingPathComponent("browser.err")
        try Data().write(to: out)
        try Data().write(to: err)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        let deadline = Date().addingTimeInterval(180)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            XCTFail("the browser script ran over 180 s")
        }
        let errors = (try? String(contentsOf: err, encoding: .utf8)) ?? ""
        XCTAssertEqual(process.terminationStatus, 0, "settings_browser.py: \(errors)")
        let data = try Data(contentsOf: out)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any], String(decoding: data, as: UTF8.self))
    }

    private func startNginx(port: UInt16, _ location: String) throws {
        let dir = scratch.path
        try FileManager.default.copyItem(atPath: "/etc/nginx/fastcgi_params", toPath: dir + "/fastcgi_params")
        let conf = """
            daemon off; master_process off; worker_processes 1;
            pid \(dir)/nginx.pid; error_log \(dir)/error.log info;
            events { worker_connections 64; }
            http {
                access_log off;
                client_body_temp_path \(dir)/body; fastcgi_temp_path \(dir)/fastcgi; proxy_temp_path \(dir)/proxy;
                uwsgi_temp_path \(dir)/uwsgi; scgi_temp_path \(dir)/scgi;
                server {
                    listen 127.0.0.1:\(port);
            \(location)
                }
            }
            """
        try Data(conf.utf8).write(to: scratch.appendingPathComponent("nginx.conf"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/nginx")
        process.arguments = ["-p", dir, "-c", dir + "/nginx.conf"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        nginx = process
        guard Loopback.waitForListener(port, seconds: 10, alive: { process.isRunning }) else {
            XCTFail("nginx did not start on 127.0.0.1:\(port): \((try? String(contentsOfFile: dir + "/error.log", encoding: .utf8)) ?? "")")
            throw CocoaError(.executableLoad)
        }
    }

    /// The fenced block of `language` in README.md whose first line is `firstLine`.
    static func readmeBlock(_ language: String, _ firstLine: String) throws -> String {
        let text = try String(contentsOf: TestRoot.repository.appendingPathComponent("README.md"), encoding: .utf8)
        let blocks = text.components(separatedBy: "```\(language)\n").dropFirst().compactMap { $0.components(separatedBy: "\n```").first }
        return try XCTUnwrap(blocks.first { $0.hasPrefix(firstLine + "\n") }, "README.md has the block '\(firstLine)'")
    }
}
