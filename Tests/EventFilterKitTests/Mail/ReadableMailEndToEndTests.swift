import Foundation
import XCTest

/// Mail that reads like a person wrote it, through `eventfilter run` and the parsed mail: times
/// in each reader's zone, authors by name, one subject pattern, Reply-To, footers that say what
/// their links do, and digests that are compact lists.
final class ReadableMailEndToEndTests: XCTestCase {
    private static let unsubscribeSiteINI = TestRoot.defaultSiteINI.replacingOccurrences(
        of: "SiteURL=https://example.com\n", with: "SiteURL=https://example.com\nUnsubscribeURL=https://example.com/hooks/unsubscribe\n")

    private func mail(to email: String, in mails: [ParsedMail], file: StaticString = #filePath, line: UInt = #line) throws -> ParsedMail {
        try XCTUnwrap(mails.first { $0.to.hasSuffix("<\(email)>") || $0.to == email }, "no mail to \(email)", file: file, line: line)
    }

    /// The decoded text part with LF line ends (it travels with CRLF).
    private func text(_ mail: ParsedMail) -> String {
        mail.text.replacingOccurrences(of: "\r\n", with: "\n")
    }

    // MARK: Times in the reader's zone

    func testTimesAreWrittenInEachReadersOwnZoneInImmediateMailRemindersAndDigests() throws {
        let root = try TestRoot()
        let now = "2026-12-01T08:17:00Z"
        try root.ok("user", "add", "kari@example.no", "--name", "Kari", "--timezone", "Europe/Oslo", now: now)
        try root.ok("user", "add", "bob@example.com", "--name", "Bob", "--timezone", "America/Chicago", now: now)
        for email in ["kari@example.no", "bob@example.com"] {
            try root.ok("subscribe", email, "2", now: now)
            try root.ok("subscribe", email, "webinars", now: now)
        }
        try root.ok("event", "add", "ezpublish", "node_id=77", "path=/1/2/77/", "name=Spring news", now: now)
        try root.ok("event", "add", "kaltura.schedule_reminder", "node_id=s1", "path=/webinars/1/s1/", "name=Quarterly",
                    "start_time=2026-12-01T15:00:00Z", "start_text=Tuesday 1 December 2026, 15:00 UTC", now: now)
        try root.ok("run", now: now)

        let mails = try root.mails()
        XCTAssertEqual(mails.count, 4)
        let kari = mails.filter { $0.to == "Kari <kari@example.no>" }, bob = mails.filter { $0.to == "Bob <bob@example.com>" }
        let kariNews = try XCTUnwrap(kari.first { $0.subject.contains("Spring news") })
        let bobNews = try XCTUnwrap(bob.first { $0.subject.contains("Spring news") })
        XCTAssertTrue(text(kariNews).contains("on Tuesday 1 December 2026, 09:17 (Europe/Oslo)."), text(kariNews))
        XCTAssertTrue(try XCTUnwrap(kariNews.html).contains("on Tuesday 1 December 2026, 09:17 (Europe/Oslo)."))
        XCTAssertTrue(text(bobNews).contains("on Tuesday 1 December 2026, 02:17 (America/Chicago)."), text(bobNews))

        let kariReminder = try XCTUnwrap(kari.first { $0.subject.contains("Quarterly") })
        let bobReminder = try XCTUnwrap(bob.first { $0.subject.contains("Quarterly") })
        XCTAssertEqual(kariReminder.subject, "[Test Site] Webinar \"Quarterly\" starts at 16:00 (Europe/Oslo)")
        XCTAssertEqual(bobReminder.subject, "[Test Site] Webinar \"Quarterly\" starts at 09:00 (America/Chicago)")
        XCTAssertTrue(text(kariReminder).contains("starts soon, on Tuesday 1 December 2026, 16:00 (Europe/Oslo)."), text(kariReminder))
        XCTAssertTrue(text(bobReminder).contains("starts soon, on Tuesday 1 December 2026, 09:00 (America/Chicago)."), text(bobReminder))
        XCTAssertFalse(text(bobReminder).contains("UTC"), "the UTC text stored at intake is not shown: \(text(bobReminder))")

        // Digests: both at 08:00 their time; each line in the reader's zone.
        try root.ok("digest", "kari@example.no", "daily", "08:00", now: now)
        try root.ok("digest", "bob@example.com", "daily", "08:00", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=78", "path=/1/2/78/", "name=Late news", now: "2026-12-01T23:30:00Z")
        try root.ok("run", now: "2026-12-01T23:30:00Z")
        try root.ok("run", now: "2026-12-02T14:00:00Z")
        let digests = try Array(root.mails().dropFirst(4))
        XCTAssertEqual(digests.count, 2)
        let kariDigest = try mail(to: "kari@example.no", in: digests), bobDigest = try mail(to: "bob@example.com", in: digests)
        XCTAssertEqual(kariDigest.subject, "[Test Site] Digest for Wednesday 2 December 2026")
        XCTAssertTrue(text(kariDigest).contains("- Late news \u{2014} Wednesday 2 December 2026, 00:30 (Europe/Oslo) \u{2014} "
            + "https://example.com/content/view/full/78"), text(kariDigest))
        XCTAssertTrue(text(bobDigest).contains("- Late news \u{2014} Tuesday 1 December 2026, 17:30 (America/Chicago)"), text(bobDigest))
        XCTAssertTrue(try XCTUnwrap(bobDigest.html).contains("<small>Tuesday 1 December 2026, 17:30 (America/Chicago)</small>"))
    }

    func testKalturaScheduleMailIsInEachReadersZoneFromAnnouncementToReminder() throws {
        let root = try IngestFixture.makeRoot()
        let now = IngestFixture.scheduleNow
        try root.ok("user", "add", "kari@example.no", "--name", "Kari", "--timezone", "Europe/Oslo", now: now)
        try root.ok("user", "add", "bob@example.com", "--name", "Bob", "--timezone", "America/Chicago", now: now)
        for email in ["kari@example.no", "bob@example.com"] { try root.ok("subscribe", email, "webinars", now: now) }
        func ingest(_ body: String, now: String) throws {
            let signature = try IngestFixture.python(
                "import hashlib, sys; print(hashlib.sha1((sys.argv[1] + sys.argv[2]).encode()).hexdigest(), end='')",
                IngestFixture.kalturaSecret, body)
            let result = try root.ingest("webinars", body: body, contentType: "application/json",
                                         headers: [("X-Kaltura-Signature", signature)], now: now)
            XCTAssertEqual(result.status, 0, result.stderr)
        }
        // The session: 2026-01-01 09:00Z-10:00Z, then moved to 11:00Z-12:00Z by a later job.
        try ingest(IngestFixture.schedule, now: now)
        try root.ok("run", now: now)
        let moved = IngestFixture.schedule.replacingOccurrences(of: "33578094492", with: "33578094500")
            .replacingOccurrences(of: #""eventType":2"#, with: #""eventType":3"#)
            .replacingOccurrences(of: #""startDate":1767258000"#, with: #""startDate":1767265200"#)
            .replacingOccurrences(of: #""endDate":1767261600"#, with: #""endDate":1767268800"#)
        try ingest(moved, now: "2026-01-01T07:30:00Z")
        try root.ok("run", now: "2026-01-01T07:30:00Z")
        try root.ok("run", now: "2026-01-01T10:45:00Z")

        let mails = try root.mails()
        for (to, zone, old, new) in [("Kari <kari@example.no>", "Europe/Oslo", "10:00", "12:00"),
                                     ("Bob <bob@example.com>", "America/Chicago", "03:00", "05:00")] {
            let theirs = mails.filter { $0.to == to }
            XCTAssertEqual(theirs.map(\.subject), [
                "[Test Site] Webinar \"Quarterly webinar\" scheduled for Thursday 1 January 2026, \(old) (\(zone))",
                "[Test Site] Webinar \"Quarterly webinar\" moved to Thursday 1 January 2026, \(new) (\(zone))",
                "[Test Site] Webinar \"Quarterly webinar\" starts at \(new) (\(zone))",
            ], to)
            guard theirs.count == 3 else { continue }
            XCTAssertTrue(text(theirs[1]).contains("Was:    Thursday 1 January 2026, \(old) (\(zone))"), text(theirs[1]))
            XCTAssertTrue(text(theirs[1]).contains("Now:    Thursday 1 January 2026, \(new) (\(zone))"), text(theirs[1]))
            XCTAssertTrue(try XCTUnwrap(theirs[1].html).contains("<s>Thursday 1 January 2026, \(old) (\(zone))</s>"))
            XCTAssertFalse((theirs.map(text) + theirs.compactMap(\.html)).contains { $0.contains("UTC") }, "no UTC wording: \(to)")
        }
        try root.assertStrictMIME()
    }

    // MARK: Author by name

    func testTheAuthorIsNamedByTheNameTheStoreKnows() throws {
        let root = try TestRoot(notificationINI: TestRoot.stockNotificationINI + "\n[SubtreeHandlerSettings]\nNotifyAuthor=enabled\n")
        let now = "2026-05-04T10:00:00Z"
        try root.ok("user", "add", "reader@example.com", now: now)
        try root.ok("user", "add", "ann@example.com", "--name", "Ann Editor", now: now)
        try root.ok("subscribe", "reader@example.com", "2", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=77", "path=/1/2/77/", "name=Known", "author=ANN@example.com", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=78", "path=/1/2/78/", "name=Stranger", "author=guest@example.org", now: now)
        try root.ok("run", now: now)
        let mails = try root.mails()
        let known = try XCTUnwrap(mails.first { $0.subject.contains("Known") })
        XCTAssertTrue(text(known).contains("\"Known\" (Item) was published by Ann Editor on "), text(known))
        XCTAssertTrue(try XCTUnwrap(known.html).contains(" by Ann Editor on "))
        XCTAssertFalse(text(known).contains("ann@example.com") || text(known).contains("ANN@"), text(known))
        let stranger = try XCTUnwrap(mails.first { $0.subject.contains("Stranger") })
        XCTAssertTrue(text(stranger).contains(" by guest@example.org on "), "an address the store does not know stays: \(text(stranger))")
    }

    // MARK: One subject pattern

    func testEverySubjectStartsWithTheSiteNameAndATemplateMayOverrideThePattern() throws {
        let root = try TestRoot(siteINI: TestRoot.defaultSiteINI + "[ExtensionSettings]\nActiveExtensions[]=mysite\n")
        let now = "2026-05-04T10:00:00Z"
        try root.ok("user", "add", "a@example.com", now: now)
        try root.ok("user", "add", "d@example.com", now: now)
        try root.ok("digest", "d@example.com", "daily", "11:00", now: now)
        for email in ["a@example.com", "d@example.com"] {
            for node in ["2", "kaltura", "billing"] { try root.ok("subscribe", email, node, now: now) }
        }
        try root.ok("collaboration", "subscribe", "a@example.com", "ezapprove", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=77", "path=/1/2/77/", "name=News", now: now)
        try root.ok("event", "add", "kaltura.entry_add", "node_id=0_a", "path=/kaltura/1/0_a/", "name=Clip", "ready=true", now: now)
        try root.ok("event", "add", "billing.invoice.paid", "node_id=7", "path=/billing/7/", "name=Invoice 7", now: now)
        try root.ok("event", "add", "ezcollaboration", "identifier=ezapprove", "item_id=5", "name=Draft",
                    #"participants=[{"email":"a@example.com","role":"approver"}]"#, now: now)
        try root.ok("run", now: now)
        try root.ok("run", now: "2026-05-04T11:00:00Z")
        let subjects = try root.mails().map(\.subject).sorted()
        XCTAssertEqual(subjects, [
            "[Test Site] \"Clip\" is ready to watch",
            "[Test Site] Approval of \"Draft\" awaits your attention",
            "[Test Site] Digest for Monday 4 May 2026",
            "[Test Site] Item \"News\" was published",
            "[Test Site] billing.invoice.paid: Invoice 7",
        ])

        try root.write("extension/mysite/templates/subject-line.txt", "{{subject}} ({{site_name}})\n")
        try root.ok("event", "add", "ezpublish", "node_id=79", "path=/1/2/79/", "name=Later", now: "2026-05-04T12:00:00Z")
        try root.ok("run", now: "2026-05-04T12:00:00Z")
        XCTAssertEqual(try root.mails().last?.subject, "Item \"Later\" was published (Test Site)")
    }

    // MARK: Reply-To

    func testReplyToComesFromEmailReplyToAndABadAddressStopsTheRunChangingNothing() throws {
        let root = try TestRoot(siteINI: TestRoot.defaultSiteINI.replacingOccurrences(
            of: "[MailSettings]\n", with: "[MailSettings]\nEmailReplyTo=editors@example.com\n"))
        let now = "2026-05-04T10:00:00Z"
        try root.ok("user", "add", "a@example.com", now: now)
        try root.ok("subscribe", "a@example.com", "2", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=77", "path=/1/2/77/", "name=News", now: now)
        try root.ok("run", now: now)
        XCTAssertEqual(try root.mails().first?.header("Reply-To"), "editors@example.com")

        var sent = 1
        for bad in ["editors@example.com, evil@example.net", "Editors <editors@example.com>", "nobody"] {
            try root.ok("event", "add", "ezpublish", "node_id=78", "path=/1/2/78/", "name=More", now: now)
            try root.write("settings/override/site.ini.append.php", "[MailSettings]\nEmailReplyTo=\(bad)\n")
            let before = try root.dump()
            let run = try root.run(["run"], now: "2026-05-04T10:05:00Z")
            XCTAssertEqual(run.status, 1, bad)
            XCTAssertTrue(run.stderr.hasPrefix("eventfilter: settings/override/site.ini.append.php:2: [MailSettings] EmailReplyTo: address "), run.stderr)
            XCTAssertEqual(run.stderr.filter { $0 == "\n" }.count, 1, "one line: \(run.stderr)")
            XCTAssertEqual(try root.dump(), before, "a bad setting changes nothing")
            XCTAssertEqual(try root.mailFiles().count, sent)
            try root.write("settings/override/site.ini.append.php", "")
            try root.ok("run", now: "2026-05-04T10:05:00Z")
            sent += 1
            XCTAssertEqual(try root.mailFiles().count, sent)
        }
    }

    // MARK: Footer links

    private func links(_ mail: ParsedMail, file: StaticString = #filePath, line: UInt = #line) -> [String: String] {
        var links: [String: String] = [:]
        for textLine in text(mail).components(separatedBy: "\n") where textLine.hasPrefix("Stop ") {
            guard let split = textLine.range(of: ": https://example.com/hooks/unsubscribe/") else { continue }
            links[String(textLine[..<split.lowerBound])] = String(textLine[split.upperBound...])
        }
        return links
    }

    func testFooterLinksSayWhatTheyDoAndStopAllStopsEveryRuleAndTheDigest() throws {
        let root = try TestRoot(siteINI: Self.unsubscribeSiteINI)
        let now = "2026-05-04T10:00:00Z"
        try root.ok("user", "add", "kari@example.com", now: now)
        try root.ok("subscribe", "kari@example.com", "60", now: now)
        try root.ok("subscribe", "kari@example.com", "kaltura", now: now)
        try root.ok("collaboration", "subscribe", "kari@example.com", "ezapprove", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=77", "path=/1/2/60/77/", "name=Spring", "parent_name=News", now: now)
        try root.ok("event", "add", "ezcollaboration", "identifier=ezapprove", "item_id=5", "name=Draft",
                    #"participants=[{"email":"kari@example.com","role":"approver"}]"#, now: now)
        try root.ok("run", now: now)
        let mails = try root.mails()
        XCTAssertEqual(mails.count, 2)
        let news = try XCTUnwrap(mails.first { $0.subject.contains("Spring") })
        let approval = try XCTUnwrap(mails.first { $0.subject.contains("Approval") })
        let newsLinks = links(news), approvalLinks = links(approval)
        XCTAssertEqual(Set(newsLinks.keys), ["Stop notifications about \"News\" and everything below it",
                                             "Stop all notifications from Test Site"], text(news))
        XCTAssertEqual(Set(approvalLinks.keys), ["Stop notifications about approval requests",
                                                 "Stop all notifications from Test Site"], text(approval))
        let ruleToken = try XCTUnwrap(newsLinks["Stop notifications about \"News\" and everything below it"])
        let stopAll = try XCTUnwrap(newsLinks["Stop all notifications from Test Site"])
        XCTAssertNotEqual(ruleToken, stopAll, "each link has its own token")
        XCTAssertEqual(approvalLinks["Stop all notifications from Test Site"], stopAll)
        XCTAssertEqual(news.header("List-Unsubscribe"), "<https://example.com/hooks/unsubscribe/\(ruleToken)>",
                       "the one-click header carries the message's own rule")
        XCTAssertTrue(try XCTUnwrap(news.html).contains(
            "<a href=\"https://example.com/hooks/unsubscribe/\(stopAll)\">Stop all notifications from Test Site</a>"))

        // The rule's link removes that rule only.
        XCTAssertEqual(try root.cgi("POST", "/unsubscribe/\(ruleToken)", contentType: "application/x-www-form-urlencoded",
                                    body: "List-Unsubscribe=One-Click", now: now).status, 200)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM subtree_rule WHERE node_id = 'kaltura'"), 1)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM collaboration_rule"), 1)

        // Stop all: every rule, the collaboration rule and the digest with its waiting items.
        try root.ok("digest", "kari@example.com", "daily", "08:00", now: now)
        try root.ok("event", "add", "kaltura.entry_add", "node_id=0_a", "path=/kaltura/1/0_a/", "name=Clip", now: now)
        try root.ok("run", now: now)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM digest_item"), 1)
        XCTAssertEqual(try root.cgi("POST", "/unsubscribe/\(stopAll)", contentType: "application/x-www-form-urlencoded",
                                    body: "List-Unsubscribe=One-Click", now: now).status, 200)
        for table in ["subtree_rule", "collaboration_rule", "digest_setting", "digest_item"] {
            XCTAssertEqual(try root.scalar("SELECT count(*) FROM \(table)"), 0, table)
        }
        try root.ok("event", "add", "ezcollaboration", "identifier=ezapprove", "item_id=6", "name=Another",
                    #"participants=[{"email":"kari@example.com","role":"approver"}]"#, now: now)
        try root.ok("event", "add", "kaltura.entry_add", "node_id=0_b", "path=/kaltura/1/0_b/", "name=Clip 2", now: now)
        try root.ok("run", now: now)
        try root.ok("run", now: "2026-05-06T10:00:00Z")
        XCTAssertEqual(try root.mailFiles().count, 2, "no approval mail, no digest after stopping all")
    }

    func testStopAllStopsACustomHandlersMailUntilTheReaderSubscribesAgain() throws {
        let root = try TestRoot(siteINI: Self.unsubscribeSiteINI)
        try root.write("settings/override/notification.ini.append.php", """
            [NotificationEventHandlerSettings]
            RepositoryDirectories[]=handlers
            AvailableNotificationEventTypes[]=billing

            """)
        try root.write("handlers/billing/billinghandler", """
            #!/usr/bin/env python3
            import json, sys
            for line in sys.stdin:
                event = json.loads(line)
                if event["type"] == "billing.paid":
                    print(json.dumps({"event_id": event["id"], "to": "kari@example.com",
                                      "subject": "Invoice " + event["params"]["name"] + " paid", "text": "Paid.\\n"}))
            """, executable: true)
        let now = "2026-05-04T10:00:00Z"
        try root.ok("user", "add", "kari@example.com", now: now)
        try root.ok("subscribe", "kari@example.com", "2", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=77", "path=/1/2/77/", "name=News", now: now)
        try root.ok("event", "add", "billing.paid", "name=7", now: now)
        try root.ok("run", now: now)
        XCTAssertEqual(try root.mails().map(\.subject).sorted(), ["[Test Site] Invoice 7 paid", "[Test Site] Item \"News\" was published"])
        let news = try XCTUnwrap(try root.mails().first { $0.subject.contains("News") })
        let stopAll = try XCTUnwrap(links(news)["Stop all notifications from Test Site"])
        XCTAssertEqual(try root.cgi("POST", "/unsubscribe/\(stopAll)", contentType: "application/x-www-form-urlencoded",
                                    body: "List-Unsubscribe=One-Click", now: now).status, 200)

        try root.ok("event", "add", "billing.paid", "name=8", now: "2026-05-04T11:00:00Z")
        try root.ok("run", now: "2026-05-04T11:00:00Z")
        XCTAssertEqual(try root.mailFiles().count, 2, "stop all stops the custom handler's mail too")

        // Subscribing again is asking for mail again, the custom handler's included.
        try root.ok("subscribe", "kari@example.com", "2", now: "2026-05-04T12:00:00Z")
        try root.ok("event", "add", "billing.paid", "name=9", now: "2026-05-04T12:00:00Z")
        try root.ok("run", now: "2026-05-04T12:00:00Z")
        XCTAssertEqual(try root.mails().last?.subject, "[Test Site] Invoice 9 paid")
        XCTAssertEqual(try root.mailFiles().count, 3)

        // In a digest with the handler's items, the digest's own link says what it stops: what
        // the reader follows (the handler's items keep coming in the digests).
        try root.ok("digest", "kari@example.com", "daily", "18:00", now: "2026-05-04T12:00:00Z")
        try root.ok("event", "add", "billing.paid", "name=10", now: "2026-05-04T13:00:00Z")
        try root.ok("event", "add", "ezpublish", "node_id=78", "path=/1/2/78/", "name=More news", now: "2026-05-04T13:00:00Z")
        try root.ok("run", now: "2026-05-04T13:00:00Z")
        try root.ok("run", now: "2026-05-04T18:00:00Z")
        let digest = try XCTUnwrap(try root.mails().last)
        XCTAssertEqual(digest.subject, "[Test Site] Digest for Monday 4 May 2026")
        XCTAssertEqual(Set(links(digest).keys), ["Stop notifications about everything you follow in these digests",
                                                 "Stop all notifications from Test Site"], text(digest))
    }

    func testADigestsOwnLinkStopsWhatTheDigestsCarry() throws {
        let root = try TestRoot(siteINI: Self.unsubscribeSiteINI)
        let now = "2026-05-04T10:00:00Z"
        try root.ok("user", "add", "d@example.com", now: now)
        try root.ok("digest", "d@example.com", "daily", "11:00", now: now)
        try root.ok("subscribe", "d@example.com", "2", now: now)
        try root.ok("collaboration", "subscribe", "d@example.com", "ezapprove", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=77", "path=/1/2/77/", "name=News", now: now)
        try root.ok("run", now: now)
        try root.ok("run", now: "2026-05-04T11:00:00Z")
        let digest = try XCTUnwrap(try root.mails().first)
        let digestLinks = links(digest)
        XCTAssertEqual(Set(digestLinks.keys), ["Stop notifications about everything in these digests",
                                               "Stop all notifications from Test Site"], text(digest))
        let token = try XCTUnwrap(digestLinks["Stop notifications about everything in these digests"])
        XCTAssertEqual(digest.header("List-Unsubscribe"), "<https://example.com/hooks/unsubscribe/\(token)>")
        XCTAssertEqual(try root.cgi("POST", "/unsubscribe/\(token)", body: "", now: now).status, 200)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM subtree_rule"), 0)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM collaboration_rule"), 1, "approval mail is not in the digest and stays")
    }

    // MARK: Digests people read

    func testADigestIsACompactListGroupedByHandlerAndSourceWithOneGreetingAndFooter() throws {
        let root = try TestRoot()
        let now = "2026-05-04T10:00:00Z"
        try root.ok("user", "add", "d@example.com", "--name", "Dana", "--timezone", "Europe/Oslo", now: now)
        try root.ok("digest", "d@example.com", "daily", "13:00", now: now)
        try root.ok("subscribe", "d@example.com", "2", now: now)
        try root.ok("subscribe", "d@example.com", "kaltura", now: now)
        try root.ok("subscribe", "d@example.com", "panda", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=77", "path=/1/2/77/", "name=First news", now: now)
        // Panda names no video: its line is what happened, without the site's prefix.
        try root.ok("event", "add", "panda.video-encoded", "node_id=v1", "path=/panda/v1/", "video_id=v1",
                    "url=https://videos.example.com/v1", now: "2026-05-04T10:05:00Z")
        try root.ok("event", "add", "kaltura.entry_add", "node_id=0_a", "path=/kaltura/1/0_a/", "name=Clip",
                    "url=https://videos.example.com/0_a", now: "2026-05-04T10:10:00Z")
        try root.ok("event", "add", "ezpublish", "node_id=78", "path=/1/2/78/", "name=Second news", now: "2026-05-04T10:20:00Z")
        try root.ok("run", now: "2026-05-04T10:20:00Z")
        try root.ok("run", now: "2026-05-04T11:00:00Z")
        let mails = try root.mails()
        XCTAssertEqual(mails.count, 1)
        let digest = try XCTUnwrap(mails.first)
        XCTAssertEqual(text(digest).components(separatedBy: "\n").first, "Hello Dana,")
        XCTAssertTrue(text(digest).contains("""

            New and updated content
            -----------------------
            - Second news \u{2014} Monday 4 May 2026, 12:20 (Europe/Oslo) \u{2014} https://example.com/content/view/full/78
            - First news \u{2014} Monday 4 May 2026, 12:00 (Europe/Oslo) \u{2014} https://example.com/content/view/full/77

            Kaltura
            -------
            - Clip \u{2014} Monday 4 May 2026, 12:10 (Europe/Oslo) \u{2014} https://videos.example.com/0_a

            Panda
            -----
            - Video v1 is ready \u{2014} Monday 4 May 2026, 12:05 (Europe/Oslo) \u{2014} https://videos.example.com/v1

            """), text(digest))
        XCTAssertEqual(text(digest).components(separatedBy: "Hello").count, 2, "one greeting")
        XCTAssertEqual(text(digest).components(separatedBy: "notification system").count, 2, "one footer")
        XCTAssertFalse(text(digest).contains("This email is to inform you"), text(digest))
        let html = try XCTUnwrap(digest.html)
        XCTAssertEqual(html.components(separatedBy: "<h2>").count, 4, "a heading per group: \(html)")
        XCTAssertTrue(html.contains(#"<li><a href="https://videos.example.com/0_a">Clip</a> <small>Monday 4 May 2026, 12:10 (Europe/Oslo)</small></li>"#), html)
    }

    func testADigestLineForWebhookMediaLinksToItsWatchLinkOrToNothing() throws {
        let root = try IngestFixture.makeRoot()
        try root.write("settings/webhooks.ini", IngestFixture.webhooksINI.replacingOccurrences(
            of: "[Source-kaltura]\nType=kaltura\n",
            with: "[Source-kaltura]\nType=kaltura\nEntryURL=https://videos.example.org/media/{partner_id}/{entry_id}\n"))
        let now = IngestFixture.scheduleNow
        try root.ok("digest", "ann@example.com", "daily", "12:00", now: now)
        let entry = try IngestFixture.kalturaSigned([
            ("notification_id", "7"), ("notification_type", "entry_add"), ("partner_id", "123"), ("entry_id", "0_key"),
            ("name", "Keynote"), ("status", "2"),
        ])
        XCTAssertEqual(try root.ingest("kaltura", body: entry, contentType: IngestFixture.form, now: now).status, 0)
        // Panda has no VideoURL here: the video has no page on the site to link to.
        XCTAssertEqual(try root.ingest("panda?token=\(IngestFixture.pandaToken)", body: IngestFixture.pandaEncoded,
                                       contentType: IngestFixture.form, now: now).status, 0)
        try root.ok("run", now: now)
        try root.ok("run", now: "2026-01-01T12:00:00Z")
        let digest = try XCTUnwrap(try root.mails().first)
        XCTAssertTrue(text(digest).contains("- Keynote \u{2014} Thursday 1 January 2026, 07:00 (UTC) \u{2014} "
            + "https://videos.example.org/media/123/0_key\n"), text(digest))
        XCTAssertTrue(text(digest).contains("- Video v1 is ready \u{2014} Thursday 1 January 2026, 07:00 (UTC)\n"), text(digest))
        XCTAssertFalse(text(digest).contains("/content/view/full/"), "no link to a page the site does not have: \(text(digest))")
        XCTAssertTrue(try XCTUnwrap(digest.html).contains("<li>Video v1 is ready <small>"), digest.html ?? "")
        try root.assertStrictMIME()
    }

    func testADigestShowsMaxItemsPerGroupNewestFirstThenTheExactRestAndCollapsesVersions() throws {
        let root = try TestRoot()
        try root.write("settings/override/notification.ini.append.php", "[GeneralDigestSettings]\nMaxItems=3\n")
        let now = "2026-05-04T10:00:00Z"
        try root.ok("user", "add", "d@example.com", now: now)
        try root.ok("digest", "d@example.com", "daily", "12:00", now: now)
        try root.ok("subscribe", "d@example.com", "2", now: now)
        for (minute, node) in [(1, "71"), (2, "72"), (3, "73"), (4, "74"), (5, "75")] {
            let at = "2026-05-04T10:0\(minute):00Z"
            try root.ok("event", "add", "ezpublish", "node_id=\(node)", "path=/1/2/\(node)/", "name=Node \(node)", now: at)
            try root.ok("run", now: at)  // each version handled on its own, so they do not collapse before the digest
        }
        for version in 2...3 {
            let at = "2026-05-04T10:1\(version):00Z"
            try root.ok("event", "add", "ezpublish", "node_id=72", "path=/1/2/72/", "name=Node 72 v\(version)",
                        "version=\(version)", now: at)
            try root.ok("run", now: at)
        }
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM digest_item"), 7)
        try root.ok("run", now: "2026-05-04T12:00:00Z")
        let digest = try XCTUnwrap(try root.mails().first)
        let lines = text(digest).components(separatedBy: "\n").filter { $0.hasPrefix("- ") || $0.hasPrefix("... ") }
        XCTAssertEqual(lines.map { $0.components(separatedBy: " \u{2014} ").first! }, [
            "- Node 72 v3", "- Node 75", "- Node 74", "... and 2 more: https://example.com",
        ], text(digest))
        XCTAssertTrue(text(digest).contains("(5 items)"), text(digest))
        XCTAssertTrue(try XCTUnwrap(digest.html).contains(#"<p>&hellip; and <a href="https://example.com">2 more</a></p>"#))
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM digest_item"), 0)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM content"), 0)

        try root.write("settings/override/notification.ini.append.php", "[GeneralDigestSettings]\nMaxItems=0\n")
        let bad = try root.run(["run"], now: "2026-05-04T12:05:00Z")
        XCTAssertEqual(bad.status, 1)
        XCTAssertEqual(bad.stderr, "eventfilter: settings/override/notification.ini.append.php:2: [GeneralDigestSettings] MaxItems must be 1 to 10000, got 0\n")
    }

    func testATenThousandItemDigestStaysUnder100KB() throws {
        let root = try TestRoot()
        let now = "2026-05-04T10:00:00Z"
        try root.ok("user", "add", "d@example.com", now: now)
        try root.ok("digest", "d@example.com", "daily", "12:00", now: now)
        try root.ok("subscribe", "d@example.com", "2", now: now)
        let lines = (1...10_000).map { node in
            #"{"type":"ezpublish","params":{"node_id":"\#(node)","path":"/1/2/\#(node)/","name":"Article number \#(node) with a longer title"}}"#
        }
        try root.ok("event", "import", "-", now: now, stdin: lines.joined(separator: "\n") + "\n")
        try root.ok("run", now: now)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM digest_item"), 10_000)
        try root.ok("run", now: "2026-05-04T12:00:00Z")
        let files = try root.mailFiles()
        XCTAssertEqual(files.count, 1)
        let size = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: files[0].path)[.size] as? Int)
        XCTAssertLessThan(size, 100_000, "a 10,000-item digest is \(size) bytes")
        let digest = try XCTUnwrap(try root.mails().first)
        XCTAssertTrue(text(digest).contains("(10000 items)"), text(digest))
        XCTAssertTrue(text(digest).contains("... and 9950 more: https://example.com"), text(digest))
        XCTAssertTrue(text(digest).contains("- Article number 10000 with a longer title"), "newest first")
    }

    func testANodeDeletedAndPublishedAgainInTheSameSecondKeepsItsNewVersion() throws {
        let root = try TestRoot()
        let now = "2026-05-04T10:00:00Z"
        try root.ok("user", "add", "d@example.com", now: now)
        try root.ok("digest", "d@example.com", "daily", "12:00", now: now)
        try root.ok("subscribe", "d@example.com", "2", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=77", "path=/1/2/77/", "name=Old version", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=78", "path=/1/2/78/", "name=Gone", now: now)
        try root.ok("run", now: now)
        // Within one second: 78 is deleted after it was published; 77 is deleted and restored.
        let second = "2026-05-04T10:05:00Z"
        try root.ok("event", "add", "ezpublish", "node_id=78", "path=/1/2/78/", "name=Gone again", "version=2", now: second)
        try root.ok("event", "add", "ezdelete", "node_id=78", now: second)
        try root.ok("event", "add", "ezdelete", "node_id=77", now: second)
        try root.ok("event", "add", "ezpublish", "node_id=77", "path=/1/2/77/", "name=Restored", now: second)
        try root.ok("run", now: second)
        try root.ok("run", now: "2026-05-04T12:00:00Z")
        let mails = try root.mails()
        XCTAssertEqual(mails.count, 1, "the restored node is still news")
        let lines = try text(XCTUnwrap(mails.first)).components(separatedBy: "\n").filter { $0.hasPrefix("- ") }
        XCTAssertEqual(lines.map { $0.components(separatedBy: " \u{2014} ").first! }, ["- Restored"])
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM digest_item"), 0)
    }

    func testADigestOfManyGroupsShowsThreeGroupsWorthOfLinesAndCountsTheRest() throws {
        let root = try TestRoot()
        try root.write("settings/override/notification.ini.append.php", "[GeneralDigestSettings]\nMaxItems=2\n")
        let now = "2026-05-04T10:00:00Z"
        try root.ok("user", "add", "d@example.com", now: now)
        try root.ok("digest", "d@example.com", "daily", "12:00", now: now)
        try root.ok("subscribe", "d@example.com", "2", now: now)
        var lines: [String] = []
        for (source, count) in [("a", 3), ("b", 3), ("c", 1), ("d", 2), ("e", 2)] {
            for index in 1...count {
                // C1's name is as long as intake takes (10,000 bytes); its line is cut to 160 characters.
                let name = source == "c" ? "C1 " + String(repeating: "\u{00E5}", count: 4_998) : "\(source.uppercased())\(index)"
                lines.append(#"{"type":"\#(source).thing","params":{"node_id":"\#(source)\#(index)","path":"/1/2/\#(source)\#(index)/","name":"\#(name)"}}"#)
            }
        }
        try root.ok("event", "import", "-", now: now, stdin: lines.joined(separator: "\n") + "\n")
        try root.ok("run", now: now)
        try root.ok("run", now: "2026-05-04T12:00:00Z")
        let digest = try XCTUnwrap(try root.mails().first)
        let shown = text(digest).components(separatedBy: "\n")
            .filter { $0.hasPrefix("- ") || $0.hasPrefix("... ") }.map { $0.components(separatedBy: " \u{2014} ").first! }
        XCTAssertEqual(shown, ["- A3", "- A2", "... and 1 more: https://example.com", "- B3", "- B2", "... and 1 more: https://example.com",
                               "- C1 " + String(repeating: "\u{00E5}", count: 156) + "\u{2026}", "- D2", "... and 1 more: https://example.com",
                               "... and 2 more in 1 other group: https://example.com"], text(digest))
        XCTAssertTrue(text(digest).contains("(11 items)"), text(digest))
        XCTAssertTrue(try XCTUnwrap(digest.html).contains(#"<p>&hellip; and <a href="https://example.com">2 more in 1 other group</a></p>"#))
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM digest_item"), 0)
    }

    func testATenThousandItemDigestOfTenThousandSourcesStaysUnder100KB() throws {
        let root = try TestRoot()
        let now = "2026-05-04T10:00:00Z"
        try root.ok("user", "add", "d@example.com", now: now)
        try root.ok("digest", "d@example.com", "daily", "12:00", now: now)
        try root.ok("subscribe", "d@example.com", "2", now: now)
        let lines = (1...10_000).map { node in
            #"{"type":"source\#(node).thing","params":{"node_id":"\#(node)","path":"/1/2/\#(node)/","name":"Article number \#(node) with a longer title"}}"#
        }
        try root.ok("event", "import", "-", now: now, stdin: lines.joined(separator: "\n") + "\n")
        try root.ok("run", now: now)
        try root.ok("run", now: "2026-05-04T12:00:00Z")
        let files = try root.mailFiles()
        XCTAssertEqual(files.count, 1)
        let size = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: files[0].path)[.size] as? Int)
        XCTAssertLessThan(size, 100_000, "a digest of 10,000 sources is \(size) bytes")
        let digest = try XCTUnwrap(try root.mails().first)
        XCTAssertTrue(text(digest).contains("... and 9850 more in 9850 other groups: https://example.com"), text(digest))
        try root.assertStrictMIME()
    }

    func testEmptyAndStaleDigestsAreNotSent() throws {
        let root = try TestRoot()
        let now = "2026-05-04T10:00:00Z"
        for email in ["deleted@example.com", "left@example.com", "mixed@example.com"] {
            try root.ok("user", "add", email, now: now)
            try root.ok("digest", email, "daily", "12:00", now: now)
        }
        try root.ok("subscribe", "deleted@example.com", "50", now: now)
        try root.ok("subscribe", "left@example.com", "60", now: now)
        try root.ok("subscribe", "mixed@example.com", "60", now: now)
        try root.ok("subscribe", "mixed@example.com", "61", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=77", "path=/1/2/50/77/", "name=Doomed", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=78", "path=/1/2/60/78/", "name=Left behind", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=79", "path=/1/2/61/79/", "name=Still wanted", now: now)
        try root.ok("run", now: now)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM digest_item"), 4)

        // The node is deleted (its subtree with it) and a rule removed before the digests are due.
        try root.ok("event", "add", "ezdelete", "node_id=50", now: "2026-05-04T11:00:00Z")
        try root.ok("unsubscribe", "left@example.com", "60", now: "2026-05-04T11:00:00Z")
        try root.ok("unsubscribe", "mixed@example.com", "60", now: "2026-05-04T11:00:00Z")
        try root.ok("run", now: "2026-05-04T11:00:00Z")
        XCTAssertEqual(try root.mailFiles().count, 0, "a deletion mails nobody")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM deleted_node"), 1)

        try root.ok("run", now: "2026-05-04T12:00:00Z")
        let mails = try root.mails()
        XCTAssertEqual(mails.map(\.to), ["mixed@example.com"], "only the digest with something left is sent")
        XCTAssertTrue(text(mails[0]).contains("- Still wanted"), text(mails[0]))
        XCTAssertFalse(text(mails[0]).contains("Left behind"), text(mails[0]))
        XCTAssertTrue(text(mails[0]).contains("(1 item)"), text(mails[0]))
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM digest_item"), 0, "left-out items are done too")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM content"), 0)
        try root.ok("run", now: "2026-05-05T12:00:00Z")
        XCTAssertEqual(try root.mailFiles().count, 1, "an empty digest is never sent")
        try root.ok("run", now: "2026-08-03T12:00:00Z")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM deleted_node"), 0, "deletions are forgotten after KeepDedupeDays (90)")
    }
}
