import Foundation
import XCTest

/// `mail list --sent/--to/--since/--limit`, `mail show` and `mail flush`, against a real SMTP
/// server (aiosmtpd, Tests/Support/smtp_server.py) started and stopped by the test.
final class MailCommandsEndToEndTests: XCTestCase {
    private var pool: SMTPServerPool!

    override func setUpWithError() throws {
        pool = try SMTPServerPool("ef-mailcli")
    }

    override func tearDown() {
        pool.stop()
    }

    private func smtpRoot(port: Int) throws -> TestRoot {
        try TestRoot(siteINI: TestRoot.smtpSiteINI(port: port))
    }

    func testFlushDeliversDeferredMailAtOnceAfterTheServerIsBack() throws {
        let port = try SMTPTestServer.unusedPort()
        let root = try smtpRoot(port: port)
        let now = "2026-05-04T10:00:00Z"
        for email in ["a@example.com", "b@example.com"] {
            try root.ok("user", "add", email, now: now)
            try root.ok("subscribe", email, "2", now: now)
        }
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=Outage notice", now: now)
        try root.ok("run", now: now)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox WHERE state = 'deferred'"), 2, "the server is down")

        let show = try root.ok("mail", "show", "1", now: now)
        XCTAssertTrue(show.hasPrefix("message:      1\nstate:        deferred\nfrom:         notify@example.com\nto:           a@example.com\n"), show)
        XCTAssertTrue(show.contains("\nattempts:     1\n"), show)
        XCTAssertTrue(show.contains("\nlast reply:   smtp 127.0.0.1:\(port): connection refused"), show)
        XCTAssertTrue(show.contains("\nSubject: [Test Site] Item \"Outage notice\" was published\n"), show)
        XCTAssertFalse(show.contains("\n--=_"), "headers only: no MIME part of the body")
        XCTAssertTrue(show.hasSuffix("\n") && !show.hasSuffix("\n\n"), "ends with the last header line")

        let server = try pool.start(port: port)
        // One minute later, long before the 5-minute backoff: flush sends both now.
        XCTAssertEqual(try root.ok("mail", "flush", now: "2026-05-04T10:01:00Z"),
                       "flushed 2 deferred messages: delivered 2, deferred 0, failed 0\n")
        XCTAssertEqual(try server.received().map(\.envelope.recipients), [["a@example.com"], ["b@example.com"]])
        XCTAssertEqual(try root.ok("mail", "flush", now: "2026-05-04T10:02:00Z"),
                       "flushed 0 deferred messages: delivered 0, deferred 0, failed 0\n")
        XCTAssertEqual(try server.received().count, 2, "nothing is sent twice")
        let sent = try root.ok("mail", "show", "2", now: now)
        XCTAssertTrue(sent.contains("\nstate:        sent\n") && sent.contains("\nsent:         2026-05-04T10:01:00Z\n"), sent)
    }

    func testShowAndSentListQuoteTheReplyThatAcceptedTheMessage() throws {
        let server = try pool.start()
        let root = try smtpRoot(port: server.port)
        let now = "2026-05-04T10:00:00Z"
        for email in ["ann@example.com", "bob@example.com"] {
            try root.ok("user", "add", email, now: now)
            try root.ok("subscribe", email, "2", now: now)
        }
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=News 5", now: now)
        try root.ok("run", now: now)

        // The queue id the server drew for each message, as its log would name it.
        let received = try server.received()
        XCTAssertEqual(received.map(\.envelope.recipients), [["ann@example.com"], ["bob@example.com"]])
        let queueIDs = received.map(\.envelope.queueID)
        XCTAssertEqual(Set(queueIDs).count, 2)
        let show = try root.ok("mail", "show", "1", now: now)
        XCTAssertTrue(show.hasPrefix("message:      1\nstate:        sent\nfrom:         notify@example.com\nto:           ann@example.com\n"), show)
        XCTAssertTrue(show.contains("\nlast reply:   250 2.0.0 Ok: queued as \(queueIDs[0])\n"), show)
        XCTAssertTrue(try root.ok("mail", "show", "2", now: now).contains("\nlast reply:   250 2.0.0 Ok: queued as \(queueIDs[1])\n"))
        let sent = try root.ok("mail", "list", "--sent", now: now).split(separator: "\n")
        XCTAssertEqual(sent.count, 2)
        XCTAssertTrue(sent[0].hasPrefix("2\tsent\tbob@example.com\t") && sent[0].hasSuffix("\tsent 2026-05-04T10:00:00Z\t250 2.0.0 Ok: queued as \(queueIDs[1])"), "\(sent)")
        XCTAssertTrue(sent[1].hasPrefix("1\tsent\tann@example.com\t") && sent[1].hasSuffix("\t250 2.0.0 Ok: queued as \(queueIDs[0])"), "\(sent)")
    }

    func testShowNamesTheFileAMessageWasWrittenTo() throws {
        let root = try TestRoot()
        let now = "2026-05-04T10:00:00Z"
        try root.ok("user", "add", "ann@example.com", now: now)
        try root.ok("subscribe", "ann@example.com", "2", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=News 5", now: now)
        try root.ok("run", now: now)

        let show = try root.ok("mail", "show", "1", now: now)
        let line = try XCTUnwrap(show.split(separator: "\n").first { $0.hasPrefix("last reply:   ") }, show)
        let path = String(line.dropFirst("last reply:   written to ".count))
        XCTAssertTrue(line.hasPrefix("last reply:   written to /") && path.hasSuffix("/var/log/mail/1.eml"), show)
        XCTAssertTrue(show.contains("\nstate:        sent\n"), show)
        XCTAssertTrue(String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self).contains("To: ann@example.com"))
    }

    func testFlushLeavesTheQueueToARunThatIsWorking() throws {
        let root = try smtpRoot(port: try SMTPTestServer.unusedPort())
        let now = "2026-05-04T10:00:00Z"
        try root.ok("user", "add", "a@example.com", now: now)
        try root.ok("subscribe", "a@example.com", "2", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", now: now)
        try root.ok("run", now: now)
        // A run holds the lock (on SQLite a process holding flock on the lock file, on PostgreSQL a
        // session holding the run's advisory lock).
        let holder = try RunLockHolder(root)
        defer { holder.release() }

        let before = try root.dump()
        let flush = try root.run(["mail", "flush"], now: "2026-05-04T10:01:00Z")
        XCTAssertEqual(flush.status, 1)
        XCTAssertEqual(flush.stderr, "eventfilter: a run is working now; it delivers the queue, or try again when it has finished\n")
        XCTAssertEqual(flush.stdout, "")
        XCTAssertEqual(try root.dump(), before, "the deferred message keeps its next attempt")
    }

    func testListSentFiltersByRecipientTimeAndLimit() throws {
        let root = try TestRoot()
        try root.ok("user", "add", "a@example.com", now: "2026-05-04T09:00:00Z")
        try root.ok("user", "add", "b@example.com", now: "2026-05-04T09:00:00Z")
        try root.ok("subscribe", "a@example.com", "2", now: "2026-05-04T09:00:00Z")
        try root.ok("subscribe", "b@example.com", "2", now: "2026-05-04T09:00:00Z")
        for (hour, node) in [(10, 5), (11, 6), (12, 7)] {
            let time = "2026-05-04T\(hour):00:00Z"
            try root.ok("event", "add", "ezpublish", "node_id=\(node)", "path=/1/2/\(node)/", "name=N\(node)", now: time)
            try root.ok("run", now: time)
        }
        let lines = { (output: String) in output.split(separator: "\n").map { $0.split(separator: "\t").prefix(3).joined(separator: " ") } }
        XCTAssertEqual(lines(try root.ok("mail", "list", "--sent", "--to", "A@example.com")),
                       ["5 sent a@example.com", "3 sent a@example.com", "1 sent a@example.com"], "newest first, address case-blind")
        XCTAssertEqual(lines(try root.ok("mail", "list", "--sent", "--since", "2026-05-04T11:00:00Z")),
                       ["6 sent b@example.com", "5 sent a@example.com", "4 sent b@example.com", "3 sent a@example.com"])
        XCTAssertEqual(lines(try root.ok("mail", "list", "--sent", "--limit", "1")), ["6 sent b@example.com"])
        let newest = try root.ok("mail", "list", "--sent", "--limit", "1")
        XCTAssertTrue(newest.contains("\tsent 2026-05-04T12:00:00Z\twritten to /") && newest.hasSuffix("/var/log/mail/6.eml\n"), newest)
        XCTAssertEqual(try root.ok("mail", "list"), "", "nothing pending")

        let before = try root.dump()
        for (arguments, message) in [
            (["mail", "list", "--sent", "--failed"], "--sent and --failed cannot be used together"),
            (["mail", "list", "--sent", "--limit", "0"], "--limit: expected a whole number from 1 to 1000000, got '0'"),
            (["mail", "list", "--since", "last week"],
             "--since: invalid time 'last week': expected ISO 8601 like 2026-03-29T06:00:00Z or 2026-03-29T08:00:00+02:00"),
            (["mail", "list", "--to", "a@"], "--to: address 'a@' has no domain after the '@'"),
            (["mail", "show", "x"], "ID: expected a positive whole number, got 'x'"),
        ] {
            let result = try root.run(arguments)
            XCTAssertEqual(result.status, 2, arguments.joined(separator: " "))
            XCTAssertEqual(result.stderr, "eventfilter: \(message)\n")
        }
        let missing = try root.run(["mail", "show", "99"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertEqual(missing.stderr, "eventfilter: no message 99 in the outbox (sent mail is kept for KeepDays)\n")
        XCTAssertEqual(try root.dump(), before)
    }

    func testEventListIsNewestFirstWithLimitTypeAndName() throws {
        let root = try TestRoot()
        let now = "2026-05-04T10:00:00Z"
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=First", now: now)
        try root.ok("event", "add", "ezcollaboration", "identifier=ezapprove", "item_id=1", "name=Draft",
                    #"participants=[{"email":"a@example.com","role":"approver"}]"#, now: now)
        try root.ok("event", "add", "ezpublish", "node_id=6", "path=/1/2/6/", now: now)
        let rows = { (output: String) in output.split(separator: "\n").map { $0.split(separator: "\t").prefix(3).joined(separator: " ") } }
        XCTAssertEqual(rows(try root.ok("event", "list")), ["3 ezpublish -", "2 ezcollaboration Draft", "1 ezpublish First"])
        XCTAssertEqual(rows(try root.ok("event", "list", "--limit", "2")), ["3 ezpublish -", "2 ezcollaboration Draft"])
        XCTAssertEqual(rows(try root.ok("event", "list", "--type", "ezpublish")), ["3 ezpublish -", "1 ezpublish First"])
        XCTAssertEqual(rows(try root.ok("event", "list", "--type", "ezpublish", "--limit", "1")), ["3 ezpublish -"])
        XCTAssertEqual(try root.ok("event", "list", "--type", "nothing"), "")
        let bad = try root.run(["event", "list", "--limit", "many"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertEqual(bad.stderr, "eventfilter: --limit: expected a whole number from 1 to 1000000, got 'many'\n")
    }
}
