import EventFilterKit
import Foundation
import XCTest

/// An installation moved from SQLite to PostgreSQL with `db copy --to` in the middle of its
/// work: digests waiting in three time zones, a message deferred by a greylisting server, an event
/// waiting for its `--not-before`, one not handled yet, dedupe keys, a recorded bounce and a
/// reader's settings link. After the switch, `run` on PostgreSQL goes on where SQLite stopped,
/// each thing at its time and not before, and what was refused before is still refused.
final class StoreCopyContinuityEndToEndTests: XCTestCase {
    private var pool: SMTPServerPool!
    private var database: TestPostgresDatabase!

    /// Monday 4 May 2026, 10:00 UTC: the SQLite part of the day.
    private let t0 = "2026-05-04T10:00:00Z"
    private let t0Seconds = 1_777_888_800

    override func setUpWithError() throws {
        try TestRoot.requireSQLite("the test moves an SQLite store into a PostgreSQL database of its own")
        pool = try SMTPServerPool("ef-continuity")
        database = try TestPostgres.server().makeDatabase()
    }

    override func tearDown() {
        pool?.stop()
        database = nil
    }

    private static func iso(_ seconds: Int) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }

    /// A Standard Webhooks message signed at `t0` under the billing source's key (Python's hmac).
    private func signedWebhook() throws -> (body: String, headers: [(String, String)]) {
        let body = #"{"type":"invoice.paid","data":{"invoice":"in_7","name":"Invoice 7"}}"#
        let id = "msg_continuity_1"
        let signature = try IngestFixture.python("""
            import base64, hashlib, hmac, sys
            key = base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            print("v1," + base64.b64encode(hmac.new(key, sys.argv[1].encode(), hashlib.sha256).digest()).decode(), end="")
            """, "\(id).\(t0Seconds).\(body)")
        return (body, [("webhook-id", id), ("webhook-timestamp", String(t0Seconds)), ("webhook-signature", signature)])
    }

    /// The messages the server accepted so far, parsed, with their envelope recipient.
    private func received(_ server: SMTPTestServer) throws -> [(to: String, mail: ParsedMail)] {
        try server.received().map { (to: $0.envelope.recipients.joined(separator: ","), mail: try ParsedMail(bytes: $0.bytes)) }
    }

    private func bounce(_ root: TestRoot, _ text: String, recipient: String) throws -> TestRoot.Result {
        try root.run(["bounce", recipient], now: t0, stdin: text)
    }

    func testRunGoesOnOnPostgreSQLWhereSQLiteStopped() throws {
        let server = try pool.start()
        let root = try TestRoot(siteINI: TestRoot.smtpSiteINI(port: server.port, extra: ["BounceAddress=bounces@example.org"]))
        try root.write("settings/webhooks.ini", IngestFixture.webhooksINI)

        // --- On SQLite: readers in three time zones on daily digests, two immediate readers.
        try root.ok("user", "add", "ann@example.com", "--name", "Ann Editor", "--timezone", "Europe/Oslo", now: t0)
        try root.ok("user", "add", "bob@example.com", "--name", "Bob Reader", "--timezone", "America/New_York", now: t0)
        try root.ok("user", "add", "kari@example.com", "--name", "Kari", "--timezone", "Asia/Tokyo", now: t0)
        try root.ok("user", "add", "cy@example.com", "--name", "Cy", now: t0)
        try root.ok("user", "add", "bad@example.com", now: t0)
        for (email, node) in [("ann@example.com", "2"), ("bob@example.com", "2"), ("kari@example.com", "60"), ("cy@example.com", "2"), ("bad@example.com", "3")] {
            try root.ok("subscribe", email, node, now: t0)
        }
        try root.ok("collaboration", "subscribe", "cy@example.com", "ezapprove", now: t0)
        for email in ["ann@example.com", "bob@example.com", "kari@example.com"] {
            try root.ok("digest", email, "daily", "08:00", now: t0)
        }

        let spring = try root.ok("event", "add", "ezpublish", "node_id=77", "path=/1/2/3/77/", "name=Spring news", "--key", "cms:77:1", now: t0)
        try root.ok("event", "add", "ezcollaboration", "identifier=ezapprove", "item_id=12", "name=Budget 2027",
                    #"participants=[{"email":"cy@example.com","role":"approver"}]"#, now: t0)
        let webhook = try signedWebhook()
        let ingested = try root.ingest("billing", body: webhook.body, contentType: "application/json", headers: webhook.headers, now: t0)
        XCTAssertEqual(ingested.status, 0, ingested.stderr)
        // Cy gets the news and the approval request at once; bad@ is refused for good (550).
        let first = try root.run(["run"], now: t0)
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.contains("to bad@example.com failed: smtp 127.0.0.1:\(server.port): recipient rejected: 550 5.1.1"), first.stdout)
        XCTAssertEqual(try received(server).map(\.to), ["cy@example.com", "cy@example.com"])

        // A greylisting server: the next message is answered 451 once, and deferred.
        try Data("451once rcpt".utf8).write(to: server.directory.appendingPathComponent("misbehave"))
        try root.ok("event", "add", "ezpublish", "node_id=78", "path=/1/2/60/78/", "name=Autumn plans", now: "2026-05-04T10:01:00Z")
        try root.ok("run", now: "2026-05-04T10:01:00Z")
        XCTAssertFalse(FileManager.default.fileExists(atPath: server.directory.appendingPathComponent("misbehave").path), "the server answered 451")
        XCTAssertEqual(try server.received().count, 2)
        let deferred = try root.rows("SELECT id, attempts, next_attempt_at, last_error FROM outbox WHERE state = 'deferred'")
        XCTAssertEqual(deferred.count, 1)
        let deferredID = try XCTUnwrap(Int(deferred.first?[0] ?? ""))
        XCTAssertEqual(deferred.first?[1], "1")
        let retryAt = try XCTUnwrap(Int(deferred.first?[2] ?? ""))
        XCTAssertTrue((t0Seconds + 60 + 240...t0Seconds + 60 + 360).contains(retryAt), "a backoff of about 5 minutes, got \(retryAt)")
        XCTAssertTrue(deferred.first?[3].contains("451 4.3.0 try again later") ?? false, "\(deferred)")

        // A bounce of Cy's first message, to its VERP address.
        let verp = try XCTUnwrap(try server.received().first?.envelope.mailFrom)
        let dsn = BounceSamples.fill(BounceSamples.rfc3464SimpleDSN, to: verp)
        let bounced = try bounce(root, dsn, recipient: verp)
        XCTAssertEqual(bounced.status, 0, bounced.stderr)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM bounce"), 1)

        // Cy's settings link from the mail, and the CSRF token of the page it opens.
        let cyText = try XCTUnwrap(try received(server).first?.mail.text)
        let link = try XCTUnwrap(cyText.range(of: #"https://example.com/notification/settings/[A-Za-z0-9_-]{43}"#, options: .regularExpression))
        let settingsPath = String(cyText[link].dropFirst("https://example.com/notification".count))
        let page = try root.cgi("GET", settingsPath, now: t0)
        XCTAssertEqual(page.status, 200)
        let csrfRange = try XCTUnwrap(page.body.range(of: #"name="csrf" value="[A-Za-z0-9_-]+""#, options: .regularExpression))
        let csrf = String(page.body[csrfRange].dropFirst(#"name="csrf" value=""#.count).dropLast())

        // An event waiting for 11:00, a run that leaves it waiting, and one event no run has seen.
        try root.ok("event", "add", "ezpublish", "node_id=79", "path=/1/2/60/79/", "name=Summer fair", "--not-before", "2026-05-04T11:00:00Z",
                    now: "2026-05-04T10:02:00Z")
        try root.ok("run", now: "2026-05-04T10:02:00Z")
        try root.ok("event", "add", "ezpublish", "node_id=80", "path=/1/2/80/", "name=Late news", now: "2026-05-04T10:02:00Z")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event WHERE handled_at IS NULL AND type = 'ezpublish'"), 2)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM digest_item"), 5, "ann and bob: spring, autumn; kari: autumn")
        XCTAssertEqual(try server.received().count, 2)

        // --- The move: copy, switch the installation to PostgreSQL, put the SQLite file away.
        let copied = try root.run(["db", "copy", "--to", database.connectionString], now: "2026-05-04T10:02:30Z")
        XCTAssertEqual(copied.status, 0, copied.stderr)
        try root.write("settings/override/site.ini.append.php", """
            [DatabaseSettings]
            Backend=postgresql
            ConnectionString=\(database.connectionString)

            """)
        let sqlite = root.databasePath
        XCTAssertEqual(rename(sqlite, sqlite + ".moved"), 0)
        for suffix in ["-wal", "-shm"] { unlink(sqlite + suffix) }
        let pg = try database.connect()
        func count(_ sql: String) throws -> Int64 { try XCTUnwrap(try pg.first(sql)?.int64("n"), sql) }
        let events = try count("SELECT count(*) AS n FROM event")

        // Replays are still refused: the same key names the first event, the same webhook too.
        let now = "2026-05-04T10:03:00Z"
        XCTAssertEqual(try root.ok("event", "add", "ezpublish", "node_id=77", "path=/1/2/3/77/", "name=Spring news", "--key", "cms:77:1", now: now),
                       spring)
        let replay = try root.ingest("billing", body: webhook.body, contentType: "application/json", headers: webhook.headers, now: now)
        XCTAssertEqual(replay.status, 0, replay.stderr)
        XCTAssertEqual(replay.stdout, ingested.stdout, "the webhook-id dedupes a retry")
        XCTAssertEqual(try count("SELECT count(*) AS n FROM event"), events)
        let bouncedAgain = try bounce(root, dsn, recipient: verp)
        XCTAssertEqual(bouncedAgain.status, 0)
        XCTAssertTrue(bouncedAgain.stderr.hasSuffix("this bounce was already recorded; nothing changed\n"), bouncedAgain.stderr)
        XCTAssertEqual(try count("SELECT count(*) AS n FROM bounce"), 1)
        // The link mailed from SQLite still opens Cy's page.
        let pageOnPostgres = try root.cgi("GET", settingsPath, now: now)
        XCTAssertEqual(pageOnPostgres.status, 200)
        XCTAssertTrue(pageOnPostgres.body.contains("cy@example.com"))

        // The event no run had seen goes out now; the deferred message waits for its time.
        try root.ok("run", now: now)
        let late = try received(server).dropFirst(2)
        XCTAssertEqual(late.map(\.to), ["cy@example.com"])
        XCTAssertTrue(late.first?.mail.subject.contains("Late news") ?? false, "\(late.map(\.mail.subject))")
        try root.ok("run", now: Self.iso(retryAt - 1))
        XCTAssertEqual(try received(server).count, 3, "not before its backoff")
        XCTAssertEqual(try count("SELECT attempts AS n FROM outbox WHERE id = \(deferredID)"), 1)
        try root.ok("run", now: Self.iso(retryAt))
        let retried = try received(server).dropFirst(3)
        XCTAssertEqual(retried.map(\.to), ["cy@example.com"])
        XCTAssertTrue(retried.first?.mail.subject.contains("Autumn plans") ?? false, "\(retried.map(\.mail.subject))")
        XCTAssertEqual(try pg.first("SELECT state, attempts FROM outbox WHERE id = $1", [deferredID]).map { "\(try $0.string("state")) \(try $0.int64("attempts"))" },
                       "sent 2")

        // The --not-before event: not at 10:59:59, at 11:00.
        try root.ok("run", now: "2026-05-04T10:59:59Z")
        XCTAssertEqual(try received(server).count, 4)
        try root.ok("run", now: "2026-05-04T11:00:00Z")
        let fair = try received(server).dropFirst(4)
        XCTAssertEqual(fair.map(\.to), ["cy@example.com"])
        XCTAssertTrue(fair.first?.mail.subject.contains("Summer fair") ?? false, "\(fair.map(\.mail.subject))")

        // The digests: each at 08:00 in its reader's zone, none a second early, with the items
        // held on SQLite and those added on PostgreSQL, times in the reader's own clock.
        func digest(at due: String, for email: String, file: StaticString = #filePath, line: UInt = #line) throws -> ParsedMail {
            let before = try received(server).count
            let early = try XCTUnwrap(Self.isoSeconds(due)) - 1
            try root.ok("run", now: Self.iso(early))
            XCTAssertEqual(try received(server).count, before, "no digest before \(due)", file: file, line: line)
            try root.ok("run", now: due)
            let new = try received(server).dropFirst(before)
            XCTAssertEqual(new.map(\.to), [email], file: file, line: line)
            return try XCTUnwrap(new.first?.mail, file: file, line: line)
        }
        // 08:00 in New York is 12:00 UTC: Bob's digest is due the same day.
        let bob = try digest(at: "2026-05-04T12:00:00Z", for: "bob@example.com")
        XCTAssertEqual(bob.subject, "[Test Site] Digest for Monday 4 May 2026")
        XCTAssertTrue(bob.text.contains("since your last digest (4 items)"), bob.text)
        for line in ["- Spring news — Monday 4 May 2026, 06:00 (America/New_York)", "- Autumn plans — Monday 4 May 2026, 06:01 (America/New_York)",
                     "- Late news — Monday 4 May 2026, 06:02 (America/New_York)", "- Summer fair — Monday 4 May 2026, 06:02 (America/New_York)"] {
            XCTAssertTrue(bob.text.contains(line), "\(line) in \(bob.text)")
        }
        let kari = try digest(at: "2026-05-04T23:00:00Z", for: "kari@example.com")
        XCTAssertEqual(kari.subject, "[Test Site] Digest for Tuesday 5 May 2026")
        XCTAssertTrue(kari.text.contains("- Summer fair — Monday 4 May 2026, 19:02 (Asia/Tokyo)"), kari.text)
        XCTAssertTrue(kari.text.contains("- Autumn plans — Monday 4 May 2026, 19:01 (Asia/Tokyo)"), kari.text)
        XCTAssertTrue(kari.text.contains("since your last digest (2 items)"), "kari follows node 60 only: \(kari.text)")

        let ann = try digest(at: "2026-05-05T06:00:00Z", for: "ann@example.com")
        XCTAssertEqual(ann.subject, "[Test Site] Digest for Tuesday 5 May 2026")
        XCTAssertTrue(ann.text.contains("since your last digest (4 items)"), ann.text)
        for line in ["- Late news — Monday 4 May 2026, 12:02 (Europe/Oslo)", "- Summer fair — Monday 4 May 2026, 12:02 (Europe/Oslo)",
                     "- Autumn plans — Monday 4 May 2026, 12:01 (Europe/Oslo)", "- Spring news — Monday 4 May 2026, 12:00 (Europe/Oslo)"] {
            XCTAssertTrue(ann.text.contains(line), "\(line) in \(ann.text)")
        }
        XCTAssertEqual(try count("SELECT count(*) AS n FROM digest_item"), 0, "every waiting item went out once")

        // The page's CSRF token, made on SQLite, is still accepted: the installation's key moved too.
        let stopped = try root.cgi("POST", settingsPath, contentType: IngestFixture.form,
                                   body: SettingsPagesEndToEndTests.encode([("csrf", csrf), ("action", "stop-all")]), now: "2026-05-05T12:00:00Z")
        XCTAssertEqual(stopped.status, 200)
        XCTAssertTrue(stopped.body.contains("You get no more mail from Test Site."), stopped.body)
        XCTAssertEqual(try count("SELECT count(*) AS n FROM subtree_rule r JOIN \"user\" u ON u.id = r.user_id WHERE u.email = 'cy@example.com'"), 0)
        XCTAssertEqual(try count("SELECT count(*) AS n FROM subtree_rule"), 4, "the other readers keep theirs")
    }

    private static func isoSeconds(_ text: String) -> Int? {
        ISO8601DateFormatter().date(from: text).map { Int($0.timeIntervalSince1970) }
    }
}
