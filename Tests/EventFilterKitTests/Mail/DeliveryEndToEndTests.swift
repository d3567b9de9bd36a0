import Foundation
import EventFilterKit
import XCTest

/// The outbox and SMTP delivery through the command line, against a real SMTP server
/// (aiosmtpd, Tests/Support/smtp_server.py) started by the test.
final class DeliveryEndToEndTests: XCTestCase {
    private var pool: SMTPServerPool!
    private var scratch: URL { pool.scratch }

    override func setUpWithError() throws {
        pool = try SMTPServerPool("ef-delivery")
    }

    override func tearDown() {
        pool.stop()
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
    private func publish(to emails: [String], in root: TestRoot, now: String, node: Int = 5) throws {
        for email in emails where try root.run(["user", "add", email], now: now).status == 0 {
            try root.ok("subscribe", email, "2", now: now)
        }
        try root.ok("event", "add", "ezpublish", "node_id=\(node)", "path=/1/2/\(node)/", "name=News \(node)", now: now)
    }

    private func messageBytes(_ root: TestRoot, recipient: String) throws -> [UInt8] {
        let hex = try root.text("SELECT \(root.hexSQL("message")) FROM outbox JOIN outbox_message ON outbox_id = id WHERE recipient = '\(recipient)'")
        return try XCTUnwrap(Crypto.hexDecode(hex), "the message of \(recipient)")
    }

    func testDeliveryOutcomesThroughARealServer() throws {
        let server = try pool.start()
        let root = try smtpRoot(port: server.port)
        let now = "2026-05-04T10:00:00Z"
        try publish(to: ["ok@example.com", "bad@example.com", "busy@example.com"], in: root, now: now)
        let run = try root.run(["run"], now: now)
        XCTAssertEqual(run.status, 0, run.stderr)
        // Delivery problems are not run failures: exit 0, and the new permanent failure printed once.
        XCTAssertEqual(run.stderr, "")
        XCTAssertEqual(run.stdout, "mail 2 to bad@example.com failed: smtp 127.0.0.1:\(server.port): recipient rejected: 550 5.1.1 no such user\n")

        // Delivered with the exact bytes composed.
        let received = try server.received()
        XCTAssertEqual(received.map(\.envelope.recipients), [["ok@example.com"]])
        XCTAssertEqual(received.first?.envelope.mailFrom, "notify@example.com")
        XCTAssertEqual(received.first?.bytes, try messageBytes(root, recipient: "ok@example.com"))

        // 550 -> failed with the server's words; 451 -> deferred.
        let failed = try root.ok("mail", "list", "--failed", now: now)
        XCTAssertTrue(failed.contains("bad@example.com") && failed.contains("550 5.1.1 no such user"), failed)
        XCTAssertTrue(failed.contains("smtp 127.0.0.1:\(server.port)"), failed)
        let deferred = try root.ok("mail", "list", "--deferred", now: now)
        XCTAssertTrue(deferred.contains("busy@example.com") && deferred.contains("451 4.3.0"), deferred)
        let status = try root.ok("status", now: now)
        XCTAssertTrue(status.contains("mail:     0 queued, 1 deferred (oldest 2026-05-04T10:00:00Z), 1 failed (1 not acknowledged), 0 cancelled, 1 sent"), status)

        // The deferred message is retried only after its backoff (about 5 minutes), then again later.
        try root.ok("run", now: "2026-05-04T10:04:00Z")
        XCTAssertEqual(try root.scalar("SELECT attempts FROM outbox JOIN outbox_message ON outbox_id = id WHERE recipient = 'busy@example.com'"), 1)
        try root.ok("run", now: "2026-05-04T10:06:00Z")
        XCTAssertEqual(try root.scalar("SELECT attempts FROM outbox JOIN outbox_message ON outbox_id = id WHERE recipient = 'busy@example.com'"), 2)
        let next = try root.scalar("SELECT next_attempt_at - last_attempt_at FROM outbox JOIN outbox_message ON outbox_id = id WHERE recipient = 'busy@example.com'")
        XCTAssertTrue((540...660).contains(next), "the second delay doubles to about 10 minutes, got \(next) s")

        // Past the queue lifetime (5 days) a temporary failure becomes permanent.
        try root.ok("run", now: "2026-05-09T10:01:00Z")
        let gaveUp = try root.ok("mail", "list", "--failed", now: "2026-05-09T10:01:00Z")
        XCTAssertTrue(gaveUp.contains("busy@example.com") && gaveUp.contains("gave up after 5 days"), gaveUp)

        // An operator requeues a failed message; the server still refuses it, so it fails again, visibly.
        let id = try root.scalar("SELECT id FROM outbox JOIN outbox_message ON outbox_id = id WHERE recipient = 'bad@example.com'")
        try root.ok("mail", "retry", String(id), now: "2026-05-09T10:02:00Z")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox WHERE state = 'queued'"), 1)
        let retryUnknown = try root.run(["mail", "retry", "999"], now: "2026-05-09T10:02:00Z")
        XCTAssertEqual(retryUnknown.status, 1)
        XCTAssertEqual(retryUnknown.stderr, "eventfilter: message 999 is not a failed message\n")
        XCTAssertEqual(try server.received().count, 1, "nothing else was accepted")
    }

    func testServerDownDefersThenDeliversExactlyOnceWhenItIsBack() throws {
        let port = try SMTPTestServer.unusedPort()
        let root = try smtpRoot(port: port)
        let now = "2026-05-04T10:00:00Z"
        try publish(to: ["a@example.com", "b@example.com"], in: root, now: now)
        try root.ok("run", now: now)
        let deferred = try root.ok("mail", "list", "--deferred", now: now)
        XCTAssertEqual(deferred.split(separator: "\n").count, 2)
        XCTAssertTrue(deferred.contains("smtp 127.0.0.1:\(port): connection refused"), deferred)

        let server = try pool.start(port: port)
        try root.ok("run", now: "2026-05-04T10:01:00Z")
        XCTAssertEqual(try server.received().count, 0, "not due yet: backoff")
        try root.ok("run", now: "2026-05-04T10:06:00Z")
        try root.ok("run", now: "2026-05-04T10:30:00Z")
        XCTAssertEqual(try server.received().map(\.envelope.recipients).sorted { $0[0] < $1[0] }, [["a@example.com"], ["b@example.com"]])
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox WHERE state = 'sent'"), 2)
    }

    func testSTARTTLSAndAUTHFromSettings() throws {
        let certificate = scratch.appendingPathComponent("cert.pem").path
        let key = scratch.appendingPathComponent("key.pem").path
        guard try SMTPTestServer.runTool("/usr/bin/env", ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                                                         "-subj", "/CN=localhost", "-keyout", key, "-out", certificate]) == 0 else {
            throw XCTSkip("!!! openssl could not make a test certificate !!!")
        }
        let server = try pool.start(["--tls-cert", certificate, "--tls-key", key, "--auth", "mailer:s3cret"])
        let now = "2026-05-04T10:00:00Z"

        // Verification on (the default): the self-signed certificate is refused, and said so.
        let strict = try smtpRoot(port: server.port, extra: "TransportConnectionType=tls\nTransportUser=mailer\nTransportPassword=s3cret")
        try publish(to: ["tls@example.com"], in: strict, now: now)
        try strict.ok("run", now: now)
        let refused = try strict.ok("mail", "list", "--deferred", now: now)
        XCTAssertTrue(refused.contains("certificate"), refused)
        XCTAssertFalse(refused.contains("s3cret"), "never show the password")

        // With the CA file, or with verification off, it goes through, authenticated.
        // The certificate names localhost, so the server must be called that.
        let trusting = try smtpRoot(port: server.port, extra: """
            TransportServer=localhost
            TransportConnectionType=tls
            TransportCAFile=\(certificate)
            TransportUser=mailer
            TransportPassword=s3cret
            """)
        try publish(to: ["tls@example.com"], in: trusting, now: now)
        try trusting.ok("run", now: now)
        XCTAssertEqual(try trusting.scalar("SELECT count(*) FROM outbox WHERE state = 'sent'"), 1)
        let envelope = try XCTUnwrap(server.received().last?.envelope)
        XCTAssertTrue(envelope.tls && envelope.authenticated)

        // A wrong password defers with a reason an operator understands.
        let wrong = try smtpRoot(port: server.port, extra: """
            TransportConnectionType=tls
            TransportVerifyCertificate=disabled
            TransportUser=mailer
            TransportPassword=Wr0ngPa55
            """)
        try publish(to: ["tls@example.com"], in: wrong, now: now)
        try wrong.ok("run", now: now)
        let denied = try wrong.ok("mail", "list", "--deferred", now: now)
        XCTAssertTrue(denied.contains("authentication failed"), denied)
        XCTAssertFalse(denied.contains("Wr0ngPa55"), "never show the password")
    }

    func testBadTransportSettingFailsTheRunWithOneLine() throws {
        let root = try TestRoot(siteINI: TestRoot.defaultSiteINI + "[MailSettings]\nTransport=pigeon\n")
        let result = try root.run(["run"], now: "2026-05-04T10:00:00Z")
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stderr, "eventfilter: settings/site.ini:10: [MailSettings] Transport=pigeon is not file, SMTP or sendmail\n")
    }

    func testSendmailTransportAndDebugSendingRedirect() throws {
        let log = scratch.appendingPathComponent("sendmail.log").path
        let fake = scratch.appendingPathComponent("sendmail")
        try Data("#!/bin/sh\necho \"ARGS $*\" >> \(log)\ncat >> \(log)\n".utf8).write(to: fake)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: fake.path)
        let now = "2026-05-04T10:00:00Z"

        let plain = try TestRoot(siteINI: TestRoot.defaultSiteINI + "[MailSettings]\nTransport=sendmail\nSendmailPath=\(fake.path)\n")
        try publish(to: ["reader@example.com"], in: plain, now: now)
        try plain.ok("run", now: now)
        var written = try String(contentsOfFile: log, encoding: .utf8)
        XCTAssertTrue(written.hasPrefix("ARGS -t -i -f notify@example.com"), written)
        XCTAssertTrue(written.contains("\r\nTo: reader@example.com\r\n"), "the message itself follows")
        XCTAssertEqual(try plain.scalar("SELECT count(*) FROM outbox WHERE state = 'sent'"), 1)

        try FileManager.default.removeItem(atPath: log)
        let staging = try TestRoot(siteINI: TestRoot.defaultSiteINI + """
            [MailSettings]
            Transport=sendmail
            SendmailPath=\(fake.path)
            DebugSending=enabled
            DebugReceiverEmail=qa@example.com

            """)
        try publish(to: ["reader@example.com"], in: staging, now: now)
        try staging.ok("run", now: now)
        written = try String(contentsOfFile: log, encoding: .utf8)
        XCTAssertTrue(written.hasPrefix("ARGS -i -f notify@example.com -- qa@example.com"), written)
        XCTAssertFalse(written.contains(" -t"), "with a redirect sendmail must not read recipients from the headers")
    }
}
