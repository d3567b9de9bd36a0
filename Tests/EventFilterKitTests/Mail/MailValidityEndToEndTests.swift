import Foundation
import XCTest

/// Every kind of message a run produces parses as valid MIME with Python's strict parser and
/// carries the headers every message must have (one recipient, Message-ID, Date, RFC 2047
/// subject, text and HTML parts, Auto-Submitted, threading headers).
final class MailValidityEndToEndTests: XCTestCase {
    func testEveryMessageKindPassesTheStrictParserAndHasTheHeaders() throws {
        let root = try TestRoot(siteINI: TestRoot.defaultSiteINI + """
            [SiteSettings]
            UnsubscribeURL=https://example.com/eventfilter/unsubscribe
            [MailSettings]
            EmailReplyTo=editors@example.com

            """)
        let now = "2026-05-04T10:00:00Z"
        try root.ok("user", "add", "aase@example.com", "--name", "Åse Øvrebø", "--timezone", "Europe/Oslo", now: now)
        try root.ok("user", "add", "plain@example.com", "--name", "Plain \"Quoted\" Name", now: now)
        try root.ok("user", "add", "chicago@example.com", "--name", "Chi", "--timezone", "America/Chicago", now: now)
        try root.ok("user", "add", "digest@example.com", now: now)
        try root.ok("digest", "digest@example.com", "daily", "11:00", now: now)
        for email in ["aase@example.com", "plain@example.com", "chicago@example.com", "digest@example.com"] {
            try root.ok("subscribe", email, "2", now: now)
        }
        try root.ok("collaboration", "subscribe", "plain@example.com", "ezapprove", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=77", "path=/1/2/77/",
                    "name=Blåbærsyltetøy og 日本語のタイトル that is rather long so the subject must fold <b>&</b>",
                    "class=Article", "version=2", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=78", "path=/1/2/78/", "name=Plain news", now: now)
        try root.ok("event", "add", "ezcollaboration", "identifier=ezapprove", "item_id=9", "name=Draft",
                    #"participants=[{"email":"plain@example.com","role":"approver"}]"#, now: now)
        try root.ok("event", "add", "kaltura.schedule_reminder", "node_id=s1", "path=/1/2/s1/", "name=Webinar «Ålesund»",
                    "start_time=2026-05-04T15:00:00Z", now: now)
        try root.ok("run", now: now)
        try root.ok("run", now: "2026-05-04T11:00:00Z")

        let files = try root.mailFiles()
        // åse, plain and chi: 2 subtree mails and a reminder each; plain: 1 collaboration mail; digest user:
        // the reminder at once (never held) and 1 digest.
        XCTAssertEqual(files.count, 12)
        let checker = TestRoot.repository.appendingPathComponent("Tests/Support/check_mime.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", checker.path] + files.map(\.path)
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let complaint = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, complaint)

        var messageIDs = Set<String>()
        for mail in try root.mails() {
            XCTAssertEqual(mail.header("Auto-Submitted"), "auto-generated")
            XCTAssertEqual(mail.header("MIME-Version"), "1.0")
            XCTAssertEqual(mail.header("From"), "Test Site <notify@example.com>")
            XCTAssertNotNil(mail.header("Date"))
            XCTAssertNil(mail.header("Bcc"), "one recipient per message, never a Bcc list")
            let id = try XCTUnwrap(mail.header("Message-ID"))
            XCTAssertTrue(messageIDs.insert(id).inserted, "Message-ID \(id) is unique")
            XCTAssertTrue(mail.header("Content-Type")?.hasPrefix("multipart/alternative") ?? false)
            XCTAssertFalse(mail.text.isEmpty)
            XCTAssertNotNil(mail.html)
            XCTAssertEqual(mail.header("Reply-To"), "editors@example.com")
            XCTAssertTrue(mail.text.contains("Stop all notifications from Test Site: https://example.com/eventfilter/unsubscribe/"),
                          mail.text)
        }
        // Each run draws its own random part once: the two runs' ids differ in it, not only in a counter.
        let randomParts = Set(messageIDs.map { $0.dropFirst().prefix(22) })
        XCTAssertEqual(randomParts.count, 2, "\(messageIDs)")
        let mails = try root.mails()
        let nonASCII = try XCTUnwrap(mails.first { $0.subject.contains("Blåbær") && $0.to.hasSuffix("<aase@example.com>") })
        XCTAssertTrue(nonASCII.header("To")!.hasPrefix("=?UTF-8?"), "an encoded display name: \(nonASCII.to)")
        XCTAssertEqual(TestMIME.decodeEncodedWords(nonASCII.to), "Åse Øvrebø <aase@example.com>")
        XCTAssertEqual(nonASCII.subject, "[Test Site] Article \"Blåbærsyltetøy og 日本語のタイトル that is rather long so the subject must fold <b>&</b>\" was updated")
        XCTAssertTrue(nonASCII.header("Subject")!.hasPrefix("=?UTF-8?"), "RFC 2047 for a non-ASCII subject")
        XCTAssertTrue(nonASCII.html!.contains("&lt;b&gt;&amp;&lt;/b&gt;"), "values are escaped in HTML")
        XCTAssertFalse(nonASCII.html!.contains("<b>&</b>"))

        // Threading: both mails about node 77 point at its thread id; the two nodes differ.
        let node77 = mails.filter { $0.header("In-Reply-To") == "<node.77.eventfilter@example.com>" }
        XCTAssertEqual(node77.count, 3)
        XCTAssertTrue(node77.allSatisfy { $0.header("References") == "<node.77.eventfilter@example.com>" })

        // One-click unsubscribe on every kind: subtree, collaboration and digest mail, each with its own token.
        var tokens = Set<String>()
        for mail in mails {
            let header = try XCTUnwrap(mail.header("List-Unsubscribe"))
            XCTAssertTrue(header.hasPrefix("<https://example.com/eventfilter/unsubscribe/") && header.hasSuffix(">"), header)
            XCTAssertEqual(mail.header("List-Unsubscribe-Post"), "List-Unsubscribe=One-Click")
            tokens.insert(header)
        }
        // Per rule, so a user's subtree mails (one rule, node 2) share one: åse's rule, plain's
        // rule, chi's rule, plain's collaboration rule, the digest user's rule (the reminder) and digest token.
        XCTAssertEqual(tokens.count, 6)
        let reminder = try XCTUnwrap(mails.first { $0.to == "Chi <chicago@example.com>" && $0.subject.contains("starts at") })
        XCTAssertEqual(reminder.subject, "[Test Site] Webinar \"Webinar «Ålesund»\" starts at 10:00 (America/Chicago)")
    }

    func testLineBreakInAParamNeverReachesAHeader() throws {
        let root = try TestRoot()
        let now = "2026-05-04T10:00:00Z"
        try root.ok("user", "add", "r@example.com", now: now)
        try root.ok("subscribe", "r@example.com", "2", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=Evil\r\nBcc: victim@example.com", now: now)
        let run = try root.run(["run"], now: now)
        XCTAssertEqual(run.status, 0, run.stderr)
        let mails = try root.mails()
        XCTAssertEqual(mails.count, 1)
        XCTAssertNil(mails[0].header("Bcc"))
        let raw = String(decoding: mails[0].raw, as: UTF8.self)
        let headerBlock = String(raw[..<raw.range(of: "\r\n\r\n")!.lowerBound])
        XCTAssertFalse(headerBlock.contains("\r\nBcc:"), headerBlock)
        XCTAssertEqual(mails[0].subject, "[Test Site] Item \"Evil Bcc: victim@example.com\" was published",
                       "the subject is one line: the break became a space")
    }
}
