import Foundation
import XCTest

/// The kernel through the command line, as cron and operators use it.
final class KernelEndToEndTests: XCTestCase {
    // MARK: 1. Subtree rules: one message, no author, no stranger, nothing twice, a quiet run

    func testNestedRulesGiveOneMessageAndTheAuthorNone() throws {
        let root = try TestRoot()
        let now = "2026-05-04T10:00:00Z"
        for email in ["reader@example.com", "author@example.com", "other@example.com"] {
            try root.ok("user", "add", email, "--name", email.split(separator: "@")[0].capitalized, now: now)
        }
        try root.ok("subscribe", "reader@example.com", "2", now: now)
        try root.ok("subscribe", "reader@example.com", "60", now: now)
        try root.ok("subscribe", "author@example.com", "2", now: now)
        try root.ok("subscribe", "other@example.com", "99", now: now)
        let id = try root.ok("event", "add", "ezpublish", "node_id=77", "path=/1/2/60/77/", "name=Spring news",
                             "class=Article", "author=author@example.com", "version=1", now: now)
        XCTAssertEqual(Int(id.trimmingCharacters(in: .whitespacesAndNewlines)), 1)

        let run = try root.run(["run"], now: now)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.stdout, "", "run prints nothing on success")
        XCTAssertEqual(run.stderr, "")

        let mails = try root.mails()
        XCTAssertEqual(mails.count, 1, "one message however many rules match")
        let mail = try XCTUnwrap(mails.first)
        XCTAssertEqual(mail.to, "Reader <reader@example.com>")
        XCTAssertEqual(mail.subject, "[Test Site] Article \"Spring news\" was published")
        XCTAssertTrue(mail.text.contains("https://example.com/content/view/full/77"), mail.text)
        XCTAssertEqual(mail.header("In-Reply-To"), "<node.77.eventfilter@example.com>")
        XCTAssertEqual(mail.header("References"), "<node.77.eventfilter@example.com>")

        let again = try root.run(["run"], now: "2026-05-04T10:05:00Z")
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(again.stdout, "")
        XCTAssertEqual(try root.mailFiles().count, 1, "a second run sends nothing new")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event WHERE handled_at IS NULL"), 0)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox WHERE state = 'sent'"), 1)
    }

    func testWaitingVersionsOfOneNodeCollapseIntoTheLatest() throws {
        let root = try TestRoot()
        let now = "2026-05-04T10:00:00Z"
        try root.ok("user", "add", "reader@example.com", now: now)
        try root.ok("subscribe", "reader@example.com", "2", now: now)
        for version in 1...3 {
            try root.ok("event", "add", "ezpublish", "node_id=77", "path=/1/2/77/", "name=Draft \(version)", "version=\(version)", now: now)
        }
        try root.ok("run", now: now)
        let mails = try root.mails()
        XCTAssertEqual(mails.count, 1)
        XCTAssertEqual(mails.first?.subject, "[Test Site] Item \"Draft 3\" was updated")
    }

    func testDisabledAndRemovedUsersGetNothingAndErrorsAreOneLine() throws {
        let root = try TestRoot()
        let now = "2026-05-04T10:00:00Z"
        let unknown = try root.run(["subscribe", "nobody@example.com", "2"], now: now)
        XCTAssertEqual(unknown.status, 1)
        XCTAssertEqual(unknown.stderr, "eventfilter: unknown user nobody@example.com\n")
        let usage = try root.run(["subscribe", "nobody@example.com"], now: now)
        XCTAssertEqual(usage.status, 2)
        XCTAssertEqual(usage.stderr, "eventfilter: missing NODE_ID\n")
        let badZone = try root.run(["user", "add", "a@example.com", "--timezone", "Mars/Olympus"], now: now)
        XCTAssertNotEqual(badZone.status, 0)
        XCTAssertTrue(badZone.stderr.contains("Mars/Olympus"), badZone.stderr)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM \"user\""), 0, "a refused command changes nothing")
        let badPath = try root.run(["event", "add", "ezpublish", "node_id=7", "path=1/2/7"], now: now)
        XCTAssertEqual(badPath.status, 2)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event"), 0)
    }

    func testRepeatedKeyAddsNoSecondEvent() throws {
        let root = try TestRoot()
        let first = try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/5/", "--key", "publish-5-1", now: "2026-05-04T10:00:00Z")
        let second = try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/5/", "--key", "publish-5-1", now: "2026-05-04T10:01:00Z")
        XCTAssertEqual(first, second)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event"), 1)
    }

    // MARK: 2. Digests at the user's local time, across DST and short months

    func testDailyOsloDigestAcrossSpringForwardArrivesAt0600ZOnceWithEveryItem() throws {
        let root = try TestRoot()
        try root.ok("user", "add", "kari@example.com", "--name", "Kari", "--timezone", "Europe/Oslo", now: "2026-03-27T12:00:00Z")
        try root.ok("digest", "kari@example.com", "daily", "08:00", now: "2026-03-27T12:00:00Z")
        try root.ok("subscribe", "kari@example.com", "2", now: "2026-03-27T12:00:00Z")
        // Saturday 28 March, after that day's 08:00 CET: the items wait for Sunday 08:00 CEST = 06:00Z.
        try root.ok("event", "add", "ezpublish", "node_id=10", "path=/1/2/10/", "name=First", now: "2026-03-28T12:00:00Z")
        try root.ok("run", now: "2026-03-28T12:00:00Z")
        try root.ok("event", "add", "ezpublish", "node_id=11", "path=/1/2/11/", "name=Second", now: "2026-03-29T03:30:00Z")
        try root.ok("run", now: "2026-03-29T03:30:00Z")
        try root.ok("run", now: "2026-03-29T05:59:00Z")
        XCTAssertEqual(try root.mailFiles().count, 0, "nothing before 08:00 local")

        try root.ok("run", now: "2026-03-29T06:00:00Z")
        let mails = try root.mails()
        XCTAssertEqual(mails.count, 1, "one digest")
        let digest = try XCTUnwrap(mails.first)
        XCTAssertEqual(digest.header("Date"), "Sun, 29 Mar 2026 06:00:00 +0000")
        // Newest first, each at its own local time: CET on Saturday, CEST after the change.
        XCTAssertTrue(digest.text.replacingOccurrences(of: "\r\n", with: "\n").contains("- Second \u{2014} Sunday 29 March 2026, 05:30 (Europe/Oslo) \u{2014} "
            + "https://example.com/content/view/full/11\n- First \u{2014} Saturday 28 March 2026, 13:00 (Europe/Oslo)"), digest.text)

        try root.ok("run", now: "2026-03-29T06:30:00Z")
        try root.ok("run", now: "2026-03-30T06:00:00Z")
        XCTAssertEqual(try root.mailFiles().count, 1, "sent once")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM digest_item"), 0)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM content"), 0, "digest contents go with their last item")
    }

    func testMonthlyDay31FromJanuary31ArrivesOnFebruary28() throws {
        let root = try TestRoot()
        try root.ok("user", "add", "m@example.com", now: "2026-01-01T00:00:00Z")
        try root.ok("digest", "m@example.com", "monthly", "31", "08:00", now: "2026-01-01T00:00:00Z")
        try root.ok("subscribe", "m@example.com", "2", now: "2026-01-01T00:00:00Z")
        try root.ok("event", "add", "ezpublish", "node_id=3", "path=/1/2/3/", now: "2026-01-31T10:00:00Z")
        try root.ok("run", now: "2026-01-31T10:00:00Z")
        try root.ok("run", now: "2026-02-28T07:59:00Z")
        XCTAssertEqual(try root.mailFiles().count, 0)
        try root.ok("run", now: "2026-02-28T08:00:00Z")
        XCTAssertEqual(try root.mailFiles().count, 1, "Feb 28 is the last day of February")
    }

    func testWeeklyDigestAcrossDSTEndArrivesAtLocalTime() throws {
        let root = try TestRoot()
        try root.ok("user", "add", "w@example.com", "--timezone", "Europe/Oslo", now: "2026-10-20T00:00:00Z")
        try root.ok("digest", "w@example.com", "weekly", "sunday", "09:00", now: "2026-10-20T00:00:00Z")
        try root.ok("subscribe", "w@example.com", "2", now: "2026-10-20T00:00:00Z")
        try root.ok("event", "add", "ezpublish", "node_id=4", "path=/1/2/4/", now: "2026-10-21T12:00:00Z")
        try root.ok("run", now: "2026-10-21T12:00:00Z")
        // Summer time ends at 03:00 on Sunday 25 October: 09:00 CET is 08:00Z, not 07:00Z.
        try root.ok("run", now: "2026-10-25T07:00:00Z")
        XCTAssertEqual(try root.mailFiles().count, 0)
        try root.ok("run", now: "2026-10-25T08:00:00Z")
        XCTAssertEqual(try root.mailFiles().count, 1)
    }

    func testADigestThatCannotBeComposedStaysDueAndIsSentOnceWhenFixed() throws {
        let root = try TestRoot()
        try root.ok("user", "add", "d@example.com", now: "2026-06-01T00:00:00Z")
        try root.ok("digest", "d@example.com", "daily", "07:00", now: "2026-06-01T00:00:00Z")
        try root.ok("subscribe", "d@example.com", "2", now: "2026-06-01T00:00:00Z")
        try root.ok("event", "add", "ezpublish", "node_id=8", "path=/1/2/8/", now: "2026-06-01T09:00:00Z")
        try root.ok("run", now: "2026-06-01T09:00:00Z")
        // A time zone that no longer exists (a store copied to a machine with older zone data):
        // the digest's date cannot be computed. (A broken template would stop the run instead:
        // `eventfilter check` calls it a settings error.)
        try root.execute("UPDATE \"user\" SET timezone = 'Mars/Olympus_Mons' WHERE email = 'd@example.com'")
        let broken = try root.run(["run"], now: "2026-06-02T07:00:00Z")
        XCTAssertEqual(broken.status, 0, "a failing handler does not fail the run: \(broken.stderr)")
        XCTAssertTrue(broken.stdout.hasPrefix("a digest could not be composed: digest for d@example.com:"), broken.stdout)
        let again = try root.run(["run"], now: "2026-06-02T07:01:00Z")
        XCTAssertEqual(again.stdout + again.stderr, "", "reported once")
        XCTAssertEqual(try root.mailFiles().count, 0)
        // Still one failing time event, not one per run: the newer one supersedes the older.
        let status = try root.ok("status", now: "2026-06-02T07:01:00Z")
        XCTAssertTrue(status.contains("handler:  ezgeneraldigest failing for 1 events: digest for d@example.com:"), status)
        XCTAssertTrue(status.contains("digests:  1 items for 1 users"), status)

        try root.execute("UPDATE \"user\" SET timezone = 'UTC' WHERE email = 'd@example.com'")
        try root.ok("run", now: "2026-06-02T07:05:00Z")
        try root.ok("run", now: "2026-06-02T07:10:00Z")
        XCTAssertEqual(try root.mails().map(\.subject), ["[Test Site] Digest for Tuesday 2 June 2026"], "sent once, when fixed")
    }

    func testMissedRunsAreCaughtUp() throws {
        let root = try TestRoot()
        try root.ok("user", "add", "d@example.com", now: "2026-06-01T00:00:00Z")
        try root.ok("digest", "d@example.com", "daily", "07:00", now: "2026-06-01T00:00:00Z")
        try root.ok("subscribe", "d@example.com", "2", now: "2026-06-01T00:00:00Z")
        try root.ok("event", "add", "ezpublish", "node_id=8", "path=/1/2/8/", now: "2026-06-01T09:00:00Z")
        try root.ok("run", now: "2026-06-01T09:00:00Z")
        // cron was down for two days
        try root.ok("run", now: "2026-06-03T15:00:00Z")
        XCTAssertEqual(try root.mailFiles().count, 1)
    }

    // MARK: 3. Collaboration: participants with a rule, at once, even digest users

    func testCollaborationReachesOnlyParticipantsWithARuleAtOnce() throws {
        let root = try TestRoot()
        let now = "2026-05-04T10:00:00Z"
        for email in ["boss@example.com", "writer@example.com", "bystander@example.com", "norule@example.com"] {
            try root.ok("user", "add", email, now: now)
        }
        try root.ok("digest", "boss@example.com", "weekly", "monday", "08:00", now: now)
        for email in ["boss@example.com", "writer@example.com", "bystander@example.com"] {
            try root.ok("collaboration", "subscribe", email, "ezapprove", now: now)
        }
        let participants = #"[{"email":"boss@example.com","role":"approver"},{"email":"writer@example.com","role":"author"},{"email":"norule@example.com","role":"approver"}]"#
        try root.ok("event", "add", "ezcollaboration", "identifier=ezapprove", "item_id=42", "name=Budget 2027",
                    "participants=\(participants)", now: now)
        try root.ok("run", now: now)
        let mails = try root.mails()
        XCTAssertEqual(mails.map(\.to).sorted(), ["boss@example.com", "writer@example.com"],
                       "not the participant without a rule, not the subscriber who is no participant")
        let byRecipient = Dictionary(uniqueKeysWithValues: mails.map { ($0.header("To") ?? "", $0) })
        XCTAssertEqual(mails.count, 2)
        XCTAssertEqual(byRecipient["boss@example.com"]?.subject, "[Test Site] Approval of \"Budget 2027\" awaits your attention")
        XCTAssertEqual(byRecipient["writer@example.com"]?.subject, "[Test Site] \"Budget 2027\" awaits approval")
        XCTAssertTrue(byRecipient["boss@example.com"]?.text.contains("https://example.com/collaboration/item/full/42") ?? false)
    }

    // MARK: 4. notification.ini as eZ has it, with overrides and extensions

    func testHandlersListStockSettingsWithAnExtensionHandlerInOrder() throws {
        let root = try TestRoot()
        try root.write("settings/override/site.ini.append.php", """
            <?php /* #?ini charset="utf-8"?

            [ExtensionSettings]
            ActiveExtensions[]=myext
            */ ?>
            """)
        try root.write("extension/myext/settings/notification.ini.append.php", """
            <?php /* #?ini charset="utf-8"?

            [NotificationEventHandlerSettings]
            ExtensionDirectories[]=myext
            AvailableNotificationEventTypes[]=audit
            */ ?>
            """)
        try root.write("extension/myext/notification/handler/audit/audithandler", "#!/bin/sh\nexit 0\n", executable: true)
        let lines = try root.ok("handlers").split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 4, lines.joined(separator: "\n"))
        XCTAssertTrue(lines[0].hasPrefix("1. ezgeneraldigest "), lines[0])
        XCTAssertTrue(lines[0].contains("built-in") && lines[0].contains("settings/notification.ini:37"), lines[0])
        XCTAssertTrue(lines[1].hasPrefix("2. ezcollaborationnotification "), lines[1])
        XCTAssertTrue(lines[2].hasPrefix("3. ezsubtree "), lines[2])
        XCTAssertTrue(lines[3].hasPrefix("4. audit "), lines[3])
        XCTAssertTrue(lines[3].contains("extension/myext/notification/handler/audit/audithandler"), lines[3])
        XCTAssertTrue(lines[3].contains("extension/myext/settings/notification.ini.append.php:5"), lines[3])
    }

    func testMalformedSettingsLineFailsWithFileAndLine() throws {
        let root = try TestRoot()
        try root.write("settings/override/notification.ini.append.php", """
            <?php /* #?ini charset="utf-8"?
            [NotificationEventHandlerSettings]
            AvailableNotificationEventTypes[] = broken
            */ ?>
            """)
        for command in [["handlers"], ["run"]] {
            let result = try root.run(command, now: "2026-05-04T10:00:00Z")
            XCTAssertEqual(result.status, 1)
            XCTAssertTrue(result.stderr.hasPrefix("eventfilter: settings/override/notification.ini.append.php:3:"), result.stderr)
            XCTAssertEqual(result.stderr.filter { $0 == "\n" }.count, 1, "one line")
        }
        XCTAssertEqual(try root.mailFiles().count, 0)
    }

    func testUnknownHandlerNameFailsClearly() throws {
        let root = try TestRoot()
        try root.write("settings/override/notification.ini.append.php", """
            [NotificationEventHandlerSettings]
            AvailableNotificationEventTypes[]=nosuchhandler
            """)
        let result = try root.run(["run"], now: "2026-05-04T10:00:00Z")
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("settings/override/notification.ini.append.php:2: unknown handler 'nosuchhandler'"), result.stderr)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event"), 0, "a settings error changes nothing")
    }

    // MARK: Indexes

    /// With EVENTFILTER_AUDIT_QUERY_PLANS=1 the store reports every statement that reads a whole
    /// table; a run through every handler, digest, delivery and purge must report none.
    func testEveryQueryOfARunUsesAnIndex() throws {
        let root = try TestRoot()
        try root.write("settings/override/notification.ini.append.php", """
            [NotificationEventHandlerSettings]
            RepositoryDirectories[]=handlers
            AvailableNotificationEventTypes[]=failing
            """)
        try root.write("handlers/failing/failinghandler", "#!/bin/sh\ncat >/dev/null\nexit 1\n", executable: true)
        let audit = ["EVENTFILTER_AUDIT_QUERY_PLANS": "1"]
        func run(_ arguments: String..., now: String) throws {
            let result = try root.run(arguments, now: now, environment: audit)
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertEqual(result.stderr, "", "eventfilter \(arguments.joined(separator: " ")) read a whole table")
        }
        let now = "2026-05-04T10:00:00Z"
        try run("user", "add", "a@example.com", now: now)
        try run("user", "add", "b@example.com", now: now)
        try run("digest", "b@example.com", "daily", "08:00", now: now)
        try run("subscribe", "a@example.com", "2", now: now)
        try run("subscribe", "b@example.com", "60", now: now)
        try run("collaboration", "subscribe", "a@example.com", "ezapprove", now: now)
        try run("event", "add", "ezpublish", "node_id=77", "path=/1/2/60/77/", "version=1", now: now)
        try run("event", "add", "ezpublish", "node_id=77", "path=/1/2/60/77/", "version=2", now: now)
        try run("event", "add", "ezcollaboration", "identifier=ezapprove", #"participants=[{"email":"a@example.com"}]"#, now: now)
        try run("event", "add", "ezdelete", "node_id=99", now: now)
        try run("run", now: now)
        try run("run", now: "2026-05-05T08:00:00Z")
        try run("run", now: "2026-05-20T08:00:00Z")
        XCTAssertEqual(try root.mailFiles().count, 3)
    }
}
