import Foundation
import XCTest

/// Scheduled sessions follow the sender's schedule, through `eventfilter ingest` and
/// `eventfilter run` with Kaltura HTTP notification bodies (a KalturaLiveStreamScheduleEvent as
/// Kaltura's events guide creates it: summary, templateEntryId, startDate, endDate, status).
/// Signatures are sha1(secret + body) computed with Python's hashlib.
final class ObjectLifecycleEndToEndTests: XCTestCase {
    private typealias F = IngestFixture

    /// 2026-01-01 09:00Z and 10:00Z, as in the fixture; the move goes to 11:00Z-12:00Z.
    private let oldStart = "1767258000", oldEnd = "1767261600"
    private let newStart = "1767265200", newEnd = "1767268800"

    /// The fixture's notification as a later job of the same session, with replacements.
    private func notification(job: String, eventType: Int = 3, start: String? = nil, end: String? = nil,
                              status: Int = 2, system: String = "SCHEDULE_EVENT_UPDATED") -> String {
        var body = F.schedule
            .replacingOccurrences(of: "33578094492", with: job)
            .replacingOccurrences(of: #""eventType":2"#, with: #""eventType":\#(eventType)"#)
            .replacingOccurrences(of: #""status":2"#, with: #""status":\#(status)"#)
            .replacingOccurrences(of: "SCHEDULE_EVENT_ADDED", with: system)
        if let start { body = body.replacingOccurrences(of: #""startDate":\#(oldStart)"#, with: #""startDate":\#(start)"#) }
        if let end { body = body.replacingOccurrences(of: #""endDate":\#(oldEnd)"#, with: #""endDate":\#(end)"#) }
        return body
    }

    private func ingest(_ root: TestRoot, _ body: String, now: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let signature = try F.python(
            "import hashlib, sys; print(hashlib.sha1((sys.argv[1] + sys.argv[2]).encode()).hexdigest(), end='')",
            F.kalturaSecret, body)
        let result = try root.ingest("webinars", body: body, contentType: "application/json",
                                     headers: [("X-Kaltura-Signature", signature)], now: now)
        XCTAssertEqual(result.status, 0, result.stderr, file: file, line: line)
        return result.stdout
    }

    private func announced(_ root: TestRoot) throws {
        _ = try ingest(root, F.schedule, now: F.scheduleNow)
        try root.ok("run", now: F.scheduleNow)
        XCTAssertEqual(try root.mails().map(\.subject), ["[Test Site] Webinar \"Quarterly webinar\" scheduled for Thursday 1 January 2026, 09:00 (UTC)"])
    }

    private let waitingReminders =
        "SELECT count(*) FROM event WHERE type = 'kaltura.schedule_reminder' AND handled_at IS NULL"

    func testARescheduleMovesTheOneReminderAndMailsOnce() throws {
        let root = try F.makeRoot()
        try announced(root)

        let moved = try ingest(root, notification(job: "33578094500", start: newStart, end: newEnd), now: "2026-01-01T07:30:00Z")
        XCTAssertEqual(moved, "4\n", "one rescheduled event; the reminder moved in place")
        XCTAssertEqual(try root.scalar(waitingReminders), 1, "exactly one reminder, never two")
        XCTAssertEqual(try root.scalar("SELECT not_before FROM event WHERE type = 'kaltura.schedule_reminder'"), 1_767_265_200 - 900)

        try root.ok("run", now: "2026-01-01T07:30:00Z")
        let mails = try root.mails()
        XCTAssertEqual(mails.count, 2)
        let change = try XCTUnwrap(mails.last)
        XCTAssertEqual(change.subject, "[Test Site] Webinar \"Quarterly webinar\" moved to Thursday 1 January 2026, 11:00 (UTC)")
        XCTAssertTrue(change.text.contains("Was:    Thursday 1 January 2026, 09:00 (UTC)"), change.text)
        XCTAssertTrue(change.text.contains("Now:    Thursday 1 January 2026, 11:00 (UTC)"), change.text)
        XCTAssertTrue(change.html?.contains("<s>Thursday 1 January 2026, 09:00 (UTC)</s>") ?? false, change.html ?? "")

        // The old reminder time: nothing. New start - lead - 1 min: nothing. New start - lead: one.
        try root.ok("run", now: "2026-01-01T08:45:00Z")
        XCTAssertEqual(try root.mailFiles().count, 2, "nothing at the old reminder time")
        try root.ok("run", now: "2026-01-01T10:44:00Z")
        XCTAssertEqual(try root.mailFiles().count, 2, "nothing a minute before new start - lead")
        try root.ok("run", now: "2026-01-01T10:45:00Z")
        let reminders = try root.mails().filter { $0.subject.contains("starts at") }
        XCTAssertEqual(reminders.map(\.subject), ["[Test Site] Webinar \"Quarterly webinar\" starts at 11:00 (UTC)"])
        XCTAssertTrue(reminders[0].text.contains("on Thursday 1 January 2026, 11:00 (UTC)"), reminders[0].text)
        try root.ok("run", now: "2026-01-01T11:30:00Z")
        XCTAssertEqual(try root.mailFiles().count, 3, "one reminder in all")
        try root.assertStrictMIME()
    }

    func testARescheduleAfterTheReminderWentOutGetsANewReminder() throws {
        let root = try F.makeRoot()
        try announced(root)
        try root.ok("run", now: "2026-01-01T08:45:00Z")
        XCTAssertEqual(try root.mailFiles().count, 2, "the first reminder")

        // Postponed at the last minute by a day.
        _ = try ingest(root, notification(job: "33578094501", start: "1767344400", end: "1767348000"), now: "2026-01-01T08:50:00Z")
        XCTAssertEqual(try root.scalar(waitingReminders), 1)
        try root.ok("run", now: "2026-01-01T08:50:00Z")
        XCTAssertEqual(try root.mails().last?.subject, "[Test Site] Webinar \"Quarterly webinar\" moved to Friday 2 January 2026, 09:00 (UTC)")
        try root.ok("run", now: "2026-01-02T08:44:00Z")
        XCTAssertEqual(try root.mailFiles().count, 3)
        try root.ok("run", now: "2026-01-02T08:45:00Z")
        XCTAssertEqual(try root.mails().last?.subject, "[Test Site] Webinar \"Quarterly webinar\" starts at 09:00 (UTC)")
        XCTAssertEqual(try root.mailFiles().count, 4)
    }

    func testACancellationWithdrawsTheReminderAndMailsOnce() throws {
        for (status, eventType) in [(1, 3), (3, 7)] {  // cancelled; deleted
            let root = try F.makeRoot()
            try announced(root)
            let stored = try ingest(root, notification(job: "33578094600", eventType: eventType, status: status), now: "2026-01-01T08:00:00Z")
            XCTAssertEqual(stored, "4\n", "after the run's tick (3)")
            XCTAssertEqual(try root.scalar(waitingReminders), 0, "status \(status): the reminder is withdrawn")
            XCTAssertEqual(try root.jsonObjects("SELECT params FROM event WHERE type = 'kaltura.schedule_reminder'")
                .filter { $0["withdrawn"] as? Bool == true }.count, 1)

            try root.ok("run", now: "2026-01-01T08:00:00Z")
            let cancelled = try XCTUnwrap(try root.mails().last)
            XCTAssertEqual(cancelled.subject, "[Test Site] Webinar \"Quarterly webinar\" cancelled")
            XCTAssertTrue(cancelled.text.contains("scheduled for Thursday 1 January 2026, 09:00 (UTC), has been cancelled"), cancelled.text)

            // The same cancellation again, as a new job: nobody hears twice.
            _ = try ingest(root, notification(job: "33578094601", eventType: eventType, status: status), now: "2026-01-01T08:10:00Z")
            for time in ["2026-01-01T08:10:00Z", "2026-01-01T08:45:00Z", "2026-01-01T09:00:00Z", "2026-01-01T10:00:00Z"] {
                try root.ok("run", now: time)
            }
            XCTAssertEqual(try root.mailFiles().count, 2, "status \(status): announcement and cancellation, never a reminder")
            XCTAssertFalse(try root.mails().contains { $0.subject.contains("starts at") })
            try root.assertStrictMIME()
        }
    }

    func testAResendWithNothingChangedMailsNobody() throws {
        let root = try F.makeRoot()
        try announced(root)
        let outboxBefore = try root.rows("SELECT id, recipient, subject FROM outbox JOIN outbox_message ON outbox_id = id ORDER BY id")

        // A new job about the same session, nothing a reader sees changed (the tags did).
        let resend = notification(job: "33578094700").replacingOccurrences(of: #""tags":"webinar""#, with: #""tags":"webinar,q1""#)
        XCTAssertEqual(try ingest(root, resend, now: "2026-01-01T07:10:00Z"), "4\n", "kept, as every accepted notification")
        XCTAssertEqual(try root.jsonObjects("SELECT params FROM event WHERE id = 4").first?["quiet"] as? Bool, true)
        // The very same request again (Kaltura's retry): a duplicate, nothing stored.
        XCTAssertEqual(try ingest(root, F.schedule, now: "2026-01-01T07:11:00Z"), "1\n2\n")
        XCTAssertEqual(root.eventCount, 4, "announcement, reminder, the first run's tick, the quiet re-send")

        try root.ok("run", now: "2026-01-01T07:10:00Z")
        let outboxAfter = try root.rows("SELECT id, recipient, subject FROM outbox JOIN outbox_message ON outbox_id = id ORDER BY id")
        XCTAssertEqual(outboxAfter, outboxBefore, "no message for a re-send")
        XCTAssertEqual(try root.scalar(waitingReminders), 1)
        try root.ok("run", now: "2026-01-01T08:45:00Z")
        XCTAssertEqual(try root.mails().map(\.subject).filter { $0.contains("starts at") }.count, 1)
    }

    func testACancellationOfASessionNobodyWasToldOfIsQuietAndItMayComeBack() throws {
        let root = try F.makeRoot()
        _ = try ingest(root, notification(job: "33578094800", status: 1), now: F.scheduleNow)
        try root.ok("run", now: F.scheduleNow)
        XCTAssertEqual(try root.mailFiles().count, 0, "no 'cancelled' mail for a session never announced")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event WHERE type = 'kaltura.schedule_cancelled'"), 1, "but it is kept")

        // Reinstated: announced, with its reminder.
        _ = try ingest(root, notification(job: "33578094801"), now: "2026-01-01T07:05:00Z")
        try root.ok("run", now: "2026-01-01T07:05:00Z")
        XCTAssertEqual(try root.mails().map(\.subject), ["[Test Site] Webinar \"Quarterly webinar\" scheduled for Thursday 1 January 2026, 09:00 (UTC)"])
        try root.ok("run", now: "2026-01-01T08:45:00Z")
        XCTAssertEqual(try root.mails().last?.subject, "[Test Site] Webinar \"Quarterly webinar\" starts at 09:00 (UTC)")
    }

    /// A cancellation that arrives while a run holds the due reminder in its batch (here: while a
    /// custom handler of that run is working) still stops the reminder.
    func testACancellationDuringARunStopsTheReminderThatRunHolds() throws {
        let root = try F.makeRoot()
        try announced(root)
        let cancel = notification(job: "33578094900", status: 1)
        try root.write("cancel-body.json", cancel)
        try root.write("settings/override/notification.ini.append.php", """
            <?php /* #?ini charset="utf-8"?
            [NotificationEventHandlerSettings]
            RepositoryDirectories[]=handlers
            AvailableNotificationEventTypes[]=canceller
            */ ?>
            """)
        // Runs before the batch's transaction: it ingests the cancellation through the real binary.
        try root.write("handlers/canceller/cancellerhandler", """
            #!/usr/bin/env python3
            import hashlib, json, os, subprocess, sys
            events = [json.loads(line) for line in sys.stdin if line.strip()]
            if any(e["type"] == "kaltura.schedule_reminder" for e in events):
                body = open("cancel-body.json", "rb").read()
                signature = hashlib.sha1(b"\(F.kalturaSecret)" + body).hexdigest()
                subprocess.run(["\(TestRoot.executable.path)", "--root", ".",
                                "--now", os.environ["EVENTFILTER_NOW"], "ingest", "webinars",
                                "--content-type", "application/json", "--header", "X-Kaltura-Signature: " + signature],
                               input=body, check=True, stdout=subprocess.DEVNULL)
            """, executable: true)

        try root.ok("run", now: "2026-01-01T08:45:00Z")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event WHERE type = 'kaltura.schedule_cancelled'"), 1, "the handler ingested it")
        XCTAssertEqual(try root.mails().map(\.subject), [
            "[Test Site] Webinar \"Quarterly webinar\" scheduled for Thursday 1 January 2026, 09:00 (UTC)",
            "[Test Site] Webinar \"Quarterly webinar\" cancelled",
        ], "no reminder for the session cancelled mid-run")
        try root.ok("run", now: "2026-01-01T09:00:00Z")
        XCTAssertEqual(try root.mailFiles().count, 2)
    }

    /// A move that arrives while a run holds the session's announcement in its batch (here: while
    /// a custom handler of that run is working) withdraws it: the run leaves it, and subscribers are
    /// told once, of the new time.
    func testAMoveDuringARunStopsTheAnnouncementThatRunHolds() throws {
        let root = try F.makeRoot()
        _ = try ingest(root, F.schedule, now: F.scheduleNow)
        try root.write("move-body.json", notification(job: "33578094910", start: newStart, end: newEnd))
        try root.write("settings/override/notification.ini.append.php", """
            <?php /* #?ini charset="utf-8"?
            [NotificationEventHandlerSettings]
            RepositoryDirectories[]=handlers
            AvailableNotificationEventTypes[]=mover
            */ ?>
            """)
        // Runs before the batch's transaction: it ingests the move through the real binary, once.
        try root.write("handlers/mover/moverhandler", """
            #!/usr/bin/env python3
            import hashlib, json, os, subprocess, sys
            events = [json.loads(line) for line in sys.stdin if line.strip()]
            if any(e["type"] == "kaltura.schedule_event" for e in events) and not os.path.exists("moved"):
                open("moved", "w").close()
                body = open("move-body.json", "rb").read()
                signature = hashlib.sha1(b"\(F.kalturaSecret)" + body).hexdigest()
                subprocess.run(["\(TestRoot.executable.path)", "--root", ".",
                                "--now", os.environ["EVENTFILTER_NOW"], "ingest", "webinars",
                                "--content-type", "application/json", "--header", "X-Kaltura-Signature: " + signature],
                               input=body, check=True, stdout=subprocess.DEVNULL)
            """, executable: true)

        try root.ok("run", now: F.scheduleNow)
        XCTAssertEqual(try root.jsonObjects("SELECT params FROM event WHERE id = 1").first?["withdrawn"] as? Bool, true, "the handler's move withdrew it")
        try root.ok("run", now: "2026-01-01T07:01:00Z")
        XCTAssertEqual(try root.mails().map(\.subject), ["[Test Site] Webinar \"Quarterly webinar\" scheduled for Thursday 1 January 2026, 11:00 (UTC)"],
                       "announced once, at the new time")
        XCTAssertEqual(try root.scalar(waitingReminders), 1)
    }

    /// A store written before sessions were followed holds the reminder under a key naming the
    /// session and its start; a later move still moves that one reminder.
    func testAReminderStoredByTheEarlierVersionIsMovedNotDoubled() throws {
        let root = try F.makeRoot()
        try root.ok("event", "add", "kaltura.schedule_reminder", "path=/webinars/123/1_live01/", "node_id=1_live01",
                    "name=Quarterly webinar", "start_date=1767258000", "end_date=1767261600", "start_clock=09:00 (UTC)",
                    "start_text=Thursday 1 January 2026, 09:00 (UTC)", "reminder=true",
                    "--not-before", "2026-01-01T08:45:00Z", "--key", "kaltura-http:webinars:schedule:4711:1767258000:reminder",
                    now: F.scheduleNow)
        XCTAssertEqual(try ingest(root, notification(job: "33578094950", start: newStart, end: newEnd), now: "2026-01-01T07:30:00Z"), "2\n")
        XCTAssertEqual(try root.scalar(waitingReminders), 1)
        XCTAssertEqual(try root.scalar("SELECT not_before FROM event WHERE id = 1"), 1_767_265_200 - 900)

        for time in ["2026-01-01T07:30:00Z", "2026-01-01T08:45:00Z", "2026-01-01T10:45:00Z", "2026-01-01T11:30:00Z"] {
            try root.ok("run", now: time)
        }
        XCTAssertEqual(try root.mails().map(\.subject), [
            "[Test Site] Webinar \"Quarterly webinar\" moved to Thursday 1 January 2026, 11:00 (UTC)",
            "[Test Site] Webinar \"Quarterly webinar\" starts at 11:00 (UTC)",
        ])
    }

    /// A move is all or nothing: refused or failing, it leaves the store as it was, and the
    /// sender's retry then moves the reminder once.
    func testARefusedOrFailedMoveChangesNothing() throws {
        let root = try F.makeRoot()
        try announced(root)
        let move = notification(job: "33578095000", start: newStart, end: newEnd)
        let before = try root.dump()

        let forged = try root.ingest("webinars", body: move, contentType: "application/json",
                                     headers: [("X-Kaltura-Signature", F.scheduleSHA1)], now: "2026-01-01T07:30:00Z")
        XCTAssertEqual(forged.status, 1)
        XCTAssertTrue(forged.stderr.hasPrefix("eventfilter: rejected (403 "), forged.stderr)
        XCTAssertEqual(try root.dump(), before, "a forged move changes nothing")

        // The session's state is written last: failing there must undo the event and the moved reminder.
        try root.breakWrites("UPDATE", on: "webhook_object")
        let brokenBefore = try root.dump()
        let eventsBefore = try root.scalar("SELECT count(*) FROM event")
        let signature = try F.python(
            "import hashlib, sys; print(hashlib.sha1((sys.argv[1] + sys.argv[2]).encode()).hexdigest(), end='')", F.kalturaSecret, move)
        let failed = try root.ingest("webinars", body: move, contentType: "application/json",
                                     headers: [("X-Kaltura-Signature", signature)], now: "2026-01-01T07:30:00Z")
        XCTAssertEqual(failed.status, 1)
        XCTAssertTrue(failed.stderr.hasPrefix("eventfilter: rejected (500 "), failed.stderr)
        XCTAssertEqual(try root.dump(), brokenBefore, "nothing of the failed move is kept")
        try root.repairWrites(on: "webhook_object")

        // The next id on SQLite; on PostgreSQL the failed attempt used one up (a sequence never goes back).
        let retry = try ingest(root, move, now: "2026-01-01T07:31:00Z")
        XCTAssertEqual(retry, "\(try root.scalar("SELECT id FROM event WHERE dedupe_key = 'kaltura-http:webinars:job:33578095000'"))\n",
                       "the retry is stored")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event"), eventsBefore + 1, "as one new event")
        if TestBackend.current == .sqlite { XCTAssertEqual(retry, "4\n") }
        XCTAssertEqual(try root.scalar(waitingReminders), 1)
        XCTAssertEqual(try root.scalar("SELECT not_before FROM event WHERE type = 'kaltura.schedule_reminder'"), 1_767_265_200 - 900)
    }

    /// Kaltura numbers its notification jobs in order: a move that arrives after a later
    /// cancellation (a retry of an older job) is kept, mails nobody and brings no reminder back.
    func testAnOlderNotificationArrivingLateChangesNothing() throws {
        let root = try F.makeRoot()
        try announced(root)
        _ = try ingest(root, notification(job: "33578096002", status: 1), now: "2026-01-01T07:20:00Z")
        _ = try ingest(root, notification(job: "33578096001", start: newStart, end: newEnd), now: "2026-01-01T07:21:00Z")
        XCTAssertEqual(try root.scalar(waitingReminders), 0, "still cancelled")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event WHERE type = 'kaltura.schedule_rescheduled'"), 0)
        XCTAssertEqual(try root.jsonObjects("SELECT params FROM event ORDER BY id")
            .filter { $0["event_notification_job_id"] as? String == "33578096001" && $0["quiet"] as? Bool == true }.count, 1, "kept, quietly")
        for time in ["2026-01-01T07:21:00Z", "2026-01-01T10:45:00Z"] { try root.ok("run", now: time) }
        XCTAssertEqual(try root.mails().map(\.subject).dropFirst(), ["[Test Site] Webinar \"Quarterly webinar\" cancelled"])
    }

    /// Changes that come faster than the runs: subscribers hear of the net change once, measured
    /// against what they were told.
    func testChangesBetweenTwoRunsMailTheNetChangeOnce() throws {
        // Announced and cancelled before any run: nobody hears of it at all.
        let quick = try F.makeRoot()
        _ = try ingest(quick, F.schedule, now: F.scheduleNow)
        _ = try ingest(quick, notification(job: "33578097001", status: 1), now: "2026-01-01T07:01:00Z")
        for time in ["2026-01-01T07:02:00Z", "2026-01-01T08:45:00Z", "2026-01-01T09:00:00Z"] { try quick.ok("run", now: time) }
        XCTAssertEqual(try quick.mailFiles().count, 0)

        // Moved twice between runs: one mail from the time subscribers know to the last one, one reminder.
        let twice = try F.makeRoot()
        try announced(twice)
        _ = try ingest(twice, notification(job: "33578097002", start: newStart, end: newEnd), now: "2026-01-01T07:10:00Z")
        _ = try ingest(twice, notification(job: "33578097003", start: "1767272400", end: "1767276000"), now: "2026-01-01T07:11:00Z")
        XCTAssertEqual(try twice.scalar(waitingReminders), 1)
        try twice.ok("run", now: "2026-01-01T07:12:00Z")
        let moved = try twice.mails().dropFirst()
        XCTAssertEqual(moved.map(\.subject), ["[Test Site] Webinar \"Quarterly webinar\" moved to Thursday 1 January 2026, 13:00 (UTC)"])
        XCTAssertTrue(moved.first?.text.contains("Was:    Thursday 1 January 2026, 09:00 (UTC)") ?? false, moved.first?.text ?? "")
        for time in ["2026-01-01T08:45:00Z", "2026-01-01T10:45:00Z", "2026-01-01T12:44:00Z"] { try twice.ok("run", now: time) }
        XCTAssertEqual(try twice.mailFiles().count, 2)
        try twice.ok("run", now: "2026-01-01T12:45:00Z")
        XCTAssertEqual(try twice.mails().last?.subject, "[Test Site] Webinar \"Quarterly webinar\" starts at 13:00 (UTC)")

        // Moved and moved back between runs: nothing to tell; the reminder is at the original time.
        let back = try F.makeRoot()
        try announced(back)
        _ = try ingest(back, notification(job: "33578097004", start: newStart, end: newEnd), now: "2026-01-01T07:10:00Z")
        _ = try ingest(back, notification(job: "33578097005"), now: "2026-01-01T07:11:00Z")
        try back.ok("run", now: "2026-01-01T07:12:00Z")
        XCTAssertEqual(try back.mailFiles().count, 1, "no mail for a move undone before anyone heard")
        try back.ok("run", now: "2026-01-01T08:45:00Z")
        XCTAssertEqual(try back.mails().last?.subject, "[Test Site] Webinar \"Quarterly webinar\" starts at 09:00 (UTC)")
        try back.ok("run", now: "2026-01-01T10:45:00Z")
        XCTAssertEqual(try back.mailFiles().count, 2)
    }

    /// A digest reader gets the announcement in the digest, but a move and the reminder at once:
    /// read in the evening's digest they would come after the session.
    func testMovesAndRemindersAreNotHeldForADigest() throws {
        let root = try F.makeRoot()
        try root.ok("user", "add", "dora@example.com", "--name", "Dora", now: F.scheduleNow)
        try root.ok("digest", "dora@example.com", "daily", "18:00", now: F.scheduleNow)
        try root.ok("subscribe", "dora@example.com", "webinars", now: F.scheduleNow)
        func doras() throws -> [String] { try root.mails().filter { $0.to.contains("dora@") }.map(\.subject) }

        _ = try ingest(root, F.schedule, now: F.scheduleNow)
        try root.ok("run", now: F.scheduleNow)
        XCTAssertEqual(try doras(), [], "the announcement waits for the digest")
        _ = try ingest(root, notification(job: "33578098001", start: newStart, end: newEnd), now: "2026-01-01T07:30:00Z")
        try root.ok("run", now: "2026-01-01T07:30:00Z")
        XCTAssertEqual(try doras(), ["[Test Site] Webinar \"Quarterly webinar\" moved to Thursday 1 January 2026, 11:00 (UTC)"])
        try root.ok("run", now: "2026-01-01T10:45:00Z")
        XCTAssertEqual(try doras().last, "[Test Site] Webinar \"Quarterly webinar\" starts at 11:00 (UTC)")
        try root.ok("run", now: "2026-01-01T18:00:00Z")
        XCTAssertEqual(try doras().count, 2, "no digest: its announcement named the old time, and the move told her the new one")
    }

    /// An announcement waiting in a digest names a time that a later move or cancellation made
    /// untrue: that mail, sent at once, takes it out of the digest. A change undone before anyone
    /// heard of it leaves the digest as it was.
    func testAnAnnouncementWaitingInADigestGoesWhenTheSessionMovesOrIsCancelled() throws {
        func digestRoot() throws -> TestRoot {
            let root = try F.makeRoot()
            try root.ok("user", "add", "dora@example.com", "--name", "Dora", now: F.scheduleNow)
            try root.ok("digest", "dora@example.com", "daily", "18:00", now: F.scheduleNow)
            try root.ok("subscribe", "dora@example.com", "webinars", now: F.scheduleNow)
            _ = try ingest(root, F.schedule, now: F.scheduleNow)
            try root.ok("run", now: F.scheduleNow)
            XCTAssertEqual(try root.scalar("SELECT count(*) FROM digest_item"), 1, "the announcement waits in Dora's digest")
            return root
        }
        func doras(_ root: TestRoot) throws -> [String] { try root.mails().filter { $0.to.contains("dora@") }.map(\.subject) }

        let cancelled = try digestRoot()
        _ = try ingest(cancelled, notification(job: "33578099001", status: 1), now: "2026-01-01T07:10:00Z")
        try cancelled.ok("run", now: "2026-01-01T07:10:00Z")
        try cancelled.ok("run", now: "2026-01-01T18:00:00Z")
        XCTAssertEqual(try doras(cancelled), ["[Test Site] Webinar \"Quarterly webinar\" cancelled"], "no digest announcing it afterwards")
        XCTAssertEqual(try cancelled.scalar("SELECT count(*) FROM content"), 0)

        // Moved twice between two runs: the one mail that goes takes the announcement out.
        let twice = try digestRoot()
        _ = try ingest(twice, notification(job: "33578099002", start: newStart, end: newEnd), now: "2026-01-01T07:10:00Z")
        _ = try ingest(twice, notification(job: "33578099003", start: "1767272400", end: "1767276000"), now: "2026-01-01T07:11:00Z")
        try twice.ok("run", now: "2026-01-01T07:12:00Z")
        try twice.ok("run", now: "2026-01-01T18:00:00Z")
        XCTAssertEqual(try doras(twice), [
            "[Test Site] Webinar \"Quarterly webinar\" moved to Thursday 1 January 2026, 13:00 (UTC)",
            "[Test Site] Webinar \"Quarterly webinar\" starts at 13:00 (UTC)",
        ])

        // Moved and moved back before a run: nothing changed for her, the digest stays.
        let back = try digestRoot()
        _ = try ingest(back, notification(job: "33578099004", start: newStart, end: newEnd), now: "2026-01-01T07:10:00Z")
        _ = try ingest(back, notification(job: "33578099005"), now: "2026-01-01T07:11:00Z")
        try back.ok("run", now: "2026-01-01T07:12:00Z")
        XCTAssertEqual(try doras(back), [])
        try back.ok("run", now: "2026-01-01T18:00:00Z")
        let digest = try XCTUnwrap(try back.mails().last { $0.to.contains("dora@") })
        XCTAssertTrue(digest.text.contains("- Quarterly webinar"), digest.text)
        try back.assertStrictMIME()

        // Moved and back, then moved for good: the announcement still goes.
        let again = try digestRoot()
        _ = try ingest(again, notification(job: "33578099006", start: newStart, end: newEnd), now: "2026-01-01T07:10:00Z")
        _ = try ingest(again, notification(job: "33578099007"), now: "2026-01-01T07:11:00Z")
        try again.ok("run", now: "2026-01-01T07:12:00Z")
        _ = try ingest(again, notification(job: "33578099008", start: newStart, end: newEnd), now: "2026-01-01T07:20:00Z")
        try again.ok("run", now: "2026-01-01T07:20:00Z")
        XCTAssertEqual(try doras(again), ["[Test Site] Webinar \"Quarterly webinar\" moved to Thursday 1 January 2026, 11:00 (UTC)"])
        XCTAssertEqual(try again.scalar("SELECT count(*) FROM digest_item"), 0)
    }
}
