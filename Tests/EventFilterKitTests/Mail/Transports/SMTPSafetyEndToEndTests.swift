import Foundation
import XCTest

/// SMTP settings and server failures through `eventfilter run`, against Tests/Support/smtp_server.py:
/// a password never crosses an unencrypted connection unless a setting allows it, and a server
/// that stops answering or closes with 421 costs one attempt per run, not one per message.
final class SMTPSafetyEndToEndTests: XCTestCase {
    private var pool: SMTPServerPool!
    private let now = "2026-05-04T10:00:00Z"

    override func setUpWithError() throws {
        pool = try SMTPServerPool("ef-smtp-safety")
    }

    override func tearDown() {
        pool.stop()
    }

    // MARK: - AUTH only over TLS

    func testPasswordOverAPlainConnectionIsRefusedUntilAllowedAndNothingChanges() throws {
        let server = try pool.start(["--auth", "mailer:s3cret-Pa55"])
        let credentials = "TransportUser=mailer\nTransportPassword=s3cret-Pa55"
        let root = try smtpRoot(port: server.port, extra: credentials)
        try publish(to: ["ann@example.com", "bob@example.com"], in: root)
        let before = try root.dump()

        let refused = try root.run(["run"], now: now)

        XCTAssertEqual(refused.status, 1)
        XCTAssertEqual(refused.stdout, "")
        XCTAssertEqual(refused.stderr, "eventfilter: smtp 127.0.0.1:\(server.port): refusing to send the SMTP password"
                       + " unencrypted: set TransportConnectionType=tls (STARTTLS) or ssl (smtps),"
                       + " or TransportAllowPlaintextAuth=enabled to allow it\n")
        XCTAssertFalse(refused.stderr.contains("s3cret-Pa55"), "never show the password")
        XCTAssertEqual(try root.dump(), before, "a refused run changes nothing: the event waits, unhandled")
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

    // MARK: - A server that stops answering, or closes with 421

    func testAServerThatHangsCostsOneTimeoutPerRunAndTheMailGoesAtTheNextRun() throws {
        let server = try pool.start()
        // MaxConnections=3: the other connections wait until a session has worked, so even a
        // server that hangs on the very first message sees one connection.
        let root = try smtpRoot(port: server.port, timeout: 1, extra: "MaxConnections=3")
        // Runs are two hours apart: mail deferred that long is reported once by run
        // (ProblemReportEndToEndTests); here the point is the timeouts, so the threshold is a day.
        try root.write("settings/override/notification.ini.append.php", "[EventFilterSettings]\nWarnDeferredAfter=86400\n")
        let recipients = (1...6).map { "reader\($0)@example.com" }
        try publish(to: recipients, in: root)
        let label = "smtp 127.0.0.1:\(server.port)"
        var runs = 0
        for (stage, step) in [("ehlo", "waiting for the EHLO reply"), ("mail", "waiting for the MAIL FROM reply"),
                              ("rcpt", "waiting for the RCPT TO reply"), ("data", "waiting for the DATA reply"),
                              ("dot", "waiting for the reply to the message")] {
            try server.misbehave("hang \(stage)")
            let connections = try server.count("connections")
            let mailCommands = try server.count("mail-commands")
            // Every run finds the messages deferred by the one before due again: the backoff
            // doubles from 5 minutes to at most an hour (+ 10 %); runs are two hours apart.
            let runTime = "2026-05-04T\(10 + 2 * runs):00:00Z"
            runs += 1
            let started = Date()

            let result = try root.run(["run"], now: runTime)

            let elapsed = Date().timeIntervalSince(started)
            XCTAssertEqual(result.status, 0, "\(stage): a server problem is not a run failure: \(result.stderr)")
            XCTAssertEqual(result.stdout + result.stderr, "", stage)
            // 3 s of room above the one timeout for a loaded machine to start the run and its
            // threads, and still 2 s below one timeout a message (six: 6 s).
            XCTAssertLessThan(elapsed, 4, "\(stage): one timeout of 1 s, not one a message (6 s)")
            XCTAssertEqual(try server.count("connections") - connections, 1, "\(stage): one connection attempt per run")
            XCTAssertEqual(try server.count("mail-commands") - mailCommands, stage == "ehlo" ? 0 : 1, "\(stage): one message tried")
            let cause = "timed out \(step) (connect timeout 5 s, message timeout 1 s)"
            XCTAssertEqual(try lastErrors(root), [
                "\(label): \(cause)": 1,
                "\(label): not tried (delivery suspended for this run): \(cause)": 5,
            ], stage)
            XCTAssertEqual(try states(root), ["deferred": 6], "\(stage): deferred, never failed")
        }
        XCTAssertEqual(try server.received().count, 0)

        // The server behaves again: the next run sends everything, once.
        try server.misbehave(nil)
        try root.ok("run", now: "2026-05-04T\(10 + 2 * runs):00:00Z")
        XCTAssertEqual(try states(root), ["sent": 6])
        XCTAssertEqual(try server.received().flatMap(\.envelope.recipients).sorted(), recipients)
    }

    func testA421ReplyDefersTheRunsMailAfterOneAttemptAndTheMailGoesAtTheNextRun() throws {
        let server = try pool.start()
        let root = try smtpRoot(port: server.port, timeout: 20)
        let recipients = (1...6).map { "reader\($0)@example.com" }
        try publish(to: recipients, in: root)
        let label = "smtp 127.0.0.1:\(server.port)"
        try server.misbehave("421 rcpt")
        let before = try server.count("mail-commands")

        let result = try root.run(["run"], now: now)

        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout + result.stderr, "")
        XCTAssertEqual(try server.count("connections"), 1, "no reconnection after 421")
        XCTAssertEqual(try server.count("mail-commands") - before, 1)
        let cause = "server closed the session: 421 4.3.2 service shutting down (in reply to RCPT TO)"
        XCTAssertEqual(try lastErrors(root), [
            "\(label): \(cause)": 1,
            "\(label): not tried (delivery suspended for this run): \(cause)": 5,
        ])
        XCTAssertEqual(try states(root), ["deferred": 6])
        let listed = try root.ok("mail", "list", "--deferred", now: now)
        XCTAssertEqual(listed.split(separator: "\n").count, 6)
        XCTAssertTrue(listed.contains("\t\(label): \(cause)\n"), listed)

        try server.misbehave(nil)
        try root.ok("run", now: "2026-05-04T10:06:00Z")
        XCTAssertEqual(try states(root), ["sent": 6])
        XCTAssertEqual(try server.received().flatMap(\.envelope.recipients).sorted(), recipients)
    }

    /// RFC 5321 section 4.1.1.10: the client waits for the reply to QUIT before it closes. With
    /// several connections open, every QUIT goes out first and the replies are awaited together,
    /// so a server that never answers QUIT holds the run one timeout, not one per connection.
    func testAServerThatNeverAnswersQuitHoldsTheRunOneTimeoutNotOnePerConnection() throws {
        let server = try pool.start()
        let root = try smtpRoot(port: server.port, timeout: 2, extra: "MaxConnections=4")
        let recipients = (1...16).map { "reader\($0)@example.com" }
        try publish(to: recipients, in: root)
        try server.misbehave("hang quit")
        let started = Date()

        let result = try root.run(["run"], now: now)

        let elapsed = Date().timeIntervalSince(started)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout + result.stderr, "", "an unanswered QUIT is no failure: the mail was taken")
        XCTAssertEqual(try server.count("connections"), 4, "the four connections were open at the end")
        // 3 s of room above the one timeout for a loaded machine to deliver the 16 messages, and
        // still 3 s below one timeout a connection (8 s).
        XCTAssertLessThan(elapsed, 5, "one timeout of 2 s for the four QUITs, not four (8 s)")
        XCTAssertGreaterThan(elapsed, 1.5, "the run did wait for the replies, up to the timeout")
        XCTAssertEqual(try states(root), ["sent": 16])
        XCTAssertEqual(try server.received().flatMap(\.envelope.recipients).sorted(), recipients.sorted())
    }

    // MARK: - Helpers


    private func smtpRoot(port: Int, timeout: Int = 20, extra: String = "") throws -> TestRoot {
        try TestRoot(siteINI: TestRoot.defaultSiteINI + """
            [MailSettings]
            Transport=SMTP
            TransportServer=127.0.0.1
            TransportPort=\(port)
            TransportConnectTimeout=5
            TransportTimeout=\(timeout)
            \(extra)

            """)
    }

    /// How many outbox rows are in each state.
    private func states(_ root: TestRoot) throws -> [String: Int] {
        try counts(root, "SELECT state, count(*) FROM outbox GROUP BY state")
    }

    /// How many outbox rows carry each last error.
    private func lastErrors(_ root: TestRoot) throws -> [String: Int] {
        try counts(root, "SELECT last_error, count(*) FROM outbox GROUP BY last_error")
    }

    private func counts(_ root: TestRoot, _ sql: String) throws -> [String: Int] {
        var result: [String: Int] = [:]
        for row in try root.rows(sql) where row.count == 2 {
            result[row[0]] = Int(row[1])
        }
        return result
    }

    /// Users subscribed to node 2 and one event under it: each user gets one message.
    private func publish(to emails: [String], in root: TestRoot) throws {
        for email in emails {
            try root.ok("user", "add", email, now: now)
            try root.ok("subscribe", email, "2", now: now)
        }
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=News 5", now: now)
    }
}
