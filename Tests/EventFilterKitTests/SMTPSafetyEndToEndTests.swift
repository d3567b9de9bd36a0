import Foundation
import XCTest

/// SMTP settings and server failures through `eventfilter run`, against Tests/Support/smtp_server.py:
/// a password never crosses an unencrypted connection unless a setting allows it, and a server
/// that stops answering or closes with 421 costs one attempt per run, not one per message.
final class SMTPSafetyEndToEndTests: XCTestCase {
    private var servers: [SMTPTestServer] = []
    private var scratch: URL!
    private let now = "2026-05-04T10:00:00Z"

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ef-smtp-safety-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDown() {
        servers.forEach { $0.stop() }
        servers = []
        try? FileManager.default.removeItem(at: scratch)
    }

    // MARK: - AUTH only over TLS

    func testPasswordOverAPlainConnectionIsRefusedUntilAllowedAndNothingChanges() throws {
        let server = try startServer(["--auth", "mailer:s3cret-Pa55"])
        let credentials = "TransportUser=mailer\nTransportPassword=s3cret-Pa55"
        let root = try smtpRoot(port: server.port, extra: credentials)
        try publish(to: ["ann@example.com", "bob@example.com"], in: root)
        let before = try dump(root)

        let refused = try root.run(["run"], now: now)

        XCTAssertEqual(refused.status, 1)
        XCTAssertEqual(refused.stdout, "")
        XCTAssertEqual(refused.stderr, "eventfilter: smtp 127.0.0.1:\(server.port): refusing to send the SMTP password"
                       + " unencrypted: set TransportConnectionType=tls (STARTTLS) or ssl (smtps),"
                       + " or TransportAllowPlaintextAuth=enabled to allow it\n")
        XCTAssertFalse(refused.stderr.contains("s3cret-Pa55"), "never show the password")
        XCTAssertEqual(try dump(root), before, "a refused run changes nothing: the event waits, unhandled")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox"), 0)
        XCTAssertEqual(try server.count("connections"), 0, "the server is not even contacted")
        XCTAssertEqual(try server.count("auth-attempts"), 0)

        // The operator says plain text is fine (a server on the same host): the next run delivers,
        // logged in.
        try root.write("settings/override/site.ini.append.php", "[MailSettings]\nTransportAllowPlaintextAuth=enabled\n")
        let allowed = try root.run(["run"], now: "2026-05-04T10:05:00Z")
        XCTAssertEqual(allowed.status, 0, allowed.stderr)
        XCTAssertEqual(allowed.stdout + allowed.stderr, "")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox WHERE state = 'sent'"), 2)
        let received = try server.received()
        XCTAssertEqual(Set(received.flatMap(\.envelope.recipients)), ["ann@example.com", "bob@example.com"])
        XCTAssertTrue(received.allSatisfy { $0.envelope.authenticated && !$0.envelope.tls })
        XCTAssertEqual(try server.count("auth-attempts"), 1, "one login for the connection that carried both")
    }

    func testPlaintextAuthSettingMustBeABoolean() throws {
        let root = try smtpRoot(port: 2525, extra: "TransportAllowPlaintextAuth=perhaps")
        let result = try root.run(["run"], now: now)
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.hasPrefix("eventfilter: "), result.stderr)
        XCTAssertTrue(result.stderr.hasSuffix("[MailSettings] TransportAllowPlaintextAuth must be enabled or disabled, not \"perhaps\"\n"),
                      result.stderr)
        XCTAssertEqual(result.stderr.filter { $0 == "\n" }.count, 1)
    }

    // MARK: - Helpers

    private func startServer(port: Int = 0, _ arguments: [String] = []) throws -> SMTPTestServer {
        let server = try SMTPTestServer.start(port: port, directory: scratch.appendingPathComponent("server\(servers.count)"),
                                              arguments: arguments)
        servers.append(server)
        return server
    }

    private func smtpRoot(port: Int, extra: String = "") throws -> TestRoot {
        try TestRoot(siteINI: TestRoot.defaultSiteINI + """
            [MailSettings]
            Transport=SMTP
            TransportServer=127.0.0.1
            TransportPort=\(port)
            TransportConnectTimeout=5
            TransportTimeout=20
            \(extra)

            """)
    }

    /// Users subscribed to node 2 and one event under it: each user gets one message.
    private func publish(to emails: [String], in root: TestRoot) throws {
        for email in emails {
            try root.ok("user", "add", email, now: now)
            try root.ok("subscribe", email, "2", now: now)
        }
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=News 5", now: now)
    }

    /// `sqlite3 DB .dump`: every row of the store, for "nothing changed".
    private func dump(_ root: TestRoot) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sqlite3", root.url.appendingPathComponent("var/eventfilter.db").path, ".dump"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "sqlite3 .dump failed")
        return String(decoding: data, as: UTF8.self)
    }
}
