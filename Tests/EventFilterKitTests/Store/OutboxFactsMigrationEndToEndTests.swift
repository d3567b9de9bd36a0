import Foundation
import XCTest
@testable import EventFilterKit

/// The migration that moves a message's fixed facts (recipient, sender, Message-ID, subject)
/// out of the queue-state table `outbox` into `outbox_message`, on whichever backend the suite
/// runs on: a store with mail in every state is taken back to the schema before it, migrated,
/// and then reads, bounces, settles and purges as it did (`db copy`: OutboxFactsCopyEndToEndTests).
final class OutboxFactsMigrationEndToEndTests: XCTestCase {
    private let now = "2026-05-04T10:00:00Z"
    private let later = "2026-05-04T10:30:00Z"
    private let time: Int64 = 1_777_888_800  // 2026-05-04T10:00:00Z

    /// A store with mail in every state (sent with a bounce, deferred, failed, queued with an
    /// acceptance not yet settled, cancelled) migrated: every row stays, every view reads the
    /// same, and the store goes on: a bounce finds its message by the VERP id, the pending
    /// acceptance is settled, the Message-ID stays unique, sent and cancelled mail are purged.
    func testMailInEveryStateReadsTheSameAfterTheMigrationAndGoesOn() throws {
        let root = try TestRoot(siteINI: TestRoot.defaultSiteINI + "[MailSettings]\nBounceAddress=bounces@example.org\n")
        for email in ["ann@example.com", "bob@example.com", "cid@example.com", "dan@example.com", "eve@example.com"] {
            try root.ok("user", "add", email, now: now)
            try root.ok("subscribe", email, "2", now: now)
        }
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=Spring news", now: now)
        try root.ok("run", now: now)
        XCTAssertEqual(try root.text("SELECT id FROM outbox WHERE state = 'sent' ORDER BY id"), "1\n2\n3\n4\n5")
        let id: (String) throws -> Int = { email in
            try root.scalar("SELECT outbox_id FROM outbox_message WHERE recipient = '\(email)'")
        }
        let (ann, bob, cid, dan, eve) = (try id("ann@example.com"), try id("bob@example.com"), try id("cid@example.com"),
                                         try id("dan@example.com"), try id("eve@example.com"))
        try root.execute("""
            UPDATE outbox SET state = 'deferred', sent_at = NULL, attempts = 1, last_error = '451 4.3.0 try later',
                next_attempt_at = \(time + 86_400) WHERE id = \(bob);
            UPDATE outbox SET state = 'failed', sent_at = NULL, attempts = 1, last_error = '550 5.1.1 no such user' WHERE id = \(cid);
            UPDATE outbox SET state = 'queued', sent_at = NULL, attempts = 0, last_error = NULL, last_attempt_at = NULL WHERE id = \(dan);
            INSERT INTO outbox_delivered(outbox_id, sent_at, reply) VALUES (\(dan), \(time + 60), '250 2.0.0 Ok: queued as 4F2A1');
            UPDATE outbox SET state = 'cancelled', sent_at = NULL, last_error = 'cancelled: the user was removed or disabled' WHERE id = \(eve);
            """)
        let first = try root.bounceByVERP(id: Int64(ann), now: later)
        XCTAssertEqual(first.stdout, "message \(ann) to ann@example.com: hard bounce 5.1.1 (1 of 3)\n", first.stderr)
        let viewsBefore = try root.outboxViews(now: later)
        let dumpBefore = try root.dump()

        let before = try root.outboxFactsVersionBefore()
        try root.takeOutboxBack(to: before)
        XCTAssertEqual(try root.schemaVersion(), before)
        XCTAssertEqual(try root.text("SELECT recipient FROM outbox ORDER BY id"),
                       "ann@example.com\nbob@example.com\ncid@example.com\ndan@example.com\neve@example.com",
                       "the earlier schema keeps the recipient in the queue's table")
        let migrated = try root.run(["db", "migrate"], now: later)
        XCTAssertEqual(migrated.status, 0, migrated.stderr)
        XCTAssertTrue(migrated.stdout.hasPrefix("migrated "), migrated.stdout)
        XCTAssertEqual(try root.schemaVersion(), root.postgres != nil ? PostgresMigrations.all.count : Migrations.all.count)

        XCTAssertEqual(try root.dump(), dumpBefore, "every row of every table, each message under its own id")
        XCTAssertEqual(try root.outboxViews(now: later), viewsBefore)
        let outboxColumns = root.postgres != nil
            ? "SELECT column_name FROM information_schema.columns WHERE table_name = 'outbox' ORDER BY column_name"
            : "SELECT name FROM pragma_table_info('outbox') ORDER BY name"
        XCTAssertFalse(try root.text(outboxColumns).split(separator: "\n").contains("recipient"), "the queue's table holds no facts")

        // A second message with a Message-ID already used is refused, as before.
        XCTAssertThrowsError(try root.execute("""
            INSERT INTO outbox_message(outbox_id, recipient, sender, message_id, subject, message)
            SELECT 99, recipient, sender, message_id, subject, message FROM outbox_message WHERE outbox_id = \(ann)
            """))
        // A bounce finds its message by the VERP id and names its recipient.
        let second = try root.bounceByVERP(id: Int64(cid), now: later)
        XCTAssertEqual(second.stdout, "message \(cid) to cid@example.com: hard bounce 5.1.1 (1 of 3)\n", second.stderr)
        // The next run settles the acceptance recorded before the migration.
        try root.ok("run", now: later)
        XCTAssertEqual(try root.rows("SELECT state, last_error FROM outbox WHERE id = \(dan)"), [["sent", "250 2.0.0 Ok: queued as 4F2A1"]])
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox_delivered"), 0)
        XCTAssertTrue(try root.ok("mail", "list", "--sent", "--to", "dan@example.com", now: later).contains("dan@example.com"))

        // Eight days on, sent and cancelled mail are purged (KeepDays=7), each with its facts and body.
        try root.ok("run", now: "2026-05-12T11:00:00Z")
        XCTAssertEqual(try root.text("SELECT id FROM outbox ORDER BY id"), "\(bob)\n\(cid)")
        XCTAssertEqual(try root.text("SELECT outbox_id FROM outbox_message ORDER BY outbox_id"), "\(bob)\n\(cid)")
        XCTAssertEqual(try root.text("SELECT recipient FROM outbox_message ORDER BY outbox_id"), "bob@example.com\ncid@example.com")
    }

    /// The id counter survives the migration: with the newest message purged before it, the
    /// next message queued after it takes an id never used, not the purged one's again (a bounce
    /// naming that id by its VERP address would otherwise find the wrong message).
    func testTheNextMessageAfterTheMigrationNeverTakesAPurgedMessagesId() throws {
        let root = try TestRoot()
        for email in ["ann@example.com", "bob@example.com"] {
            try root.ok("user", "add", email, now: now)
            try root.ok("subscribe", email, "2", now: now)
        }
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=Spring news", now: now)
        try root.ok("run", now: now)
        XCTAssertEqual(try root.text("SELECT id FROM outbox ORDER BY id"), "1\n2")
        try root.execute("DELETE FROM outbox_message WHERE outbox_id = 2; DELETE FROM outbox WHERE id = 2")
        try root.takeOutboxBack(to: try root.outboxFactsVersionBefore())
        XCTAssertEqual(try root.run(["db", "migrate"], now: later).status, 0)

        try root.ok("event", "add", "ezpublish", "node_id=6", "path=/1/2/6/", "name=Summer news", now: later)
        try root.ok("run", now: later)
        XCTAssertEqual(try root.text("SELECT id FROM outbox ORDER BY id"), "1\n3\n4",
                       "the purged message's id 2 is never given again, and the next ones follow on")
        XCTAssertEqual(try root.text("SELECT outbox_id FROM outbox_message ORDER BY outbox_id"), try root.text("SELECT id FROM outbox ORDER BY id"))
    }
}
