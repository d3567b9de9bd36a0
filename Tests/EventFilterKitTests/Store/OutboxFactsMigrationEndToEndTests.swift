import Foundation
import XCTest
@testable import EventFilterKit

/// The migration that moves a message's fixed facts (recipient, sender, Message-ID, subject)
/// out of the queue-state table `outbox` into `outbox_message`, on whichever backend the suite
/// runs on: a store with mail in every state is taken back to the schema before it, migrated,
/// and then reads, bounces, settles, purges and copies as it did.
final class OutboxFactsMigrationEndToEndTests: XCTestCase {
    private let now = "2026-05-04T10:00:00Z"
    private let later = "2026-05-04T10:30:00Z"
    private let time: Int64 = 1_777_888_800  // 2026-05-04T10:00:00Z

    /// The index of the migration under test in the backend's list: the store before it has
    /// this version.
    private func versionBefore(_ root: TestRoot) throws -> Int {
        if root.postgres != nil {
            return try XCTUnwrap(PostgresMigrations.all.firstIndex { $0.contains("ADD CONSTRAINT outbox_message_id_key") })
        }
        return try XCTUnwrap(Migrations.all.firstIndex { $0.contains("ALTER TABLE outbox_message RENAME TO outbox_message_old") })
    }

    private func schemaVersion(_ root: TestRoot) throws -> Int {
        try root.scalar(root.postgres != nil ? "SELECT version FROM eventfilter_schema" : "PRAGMA user_version")
    }

    /// Puts the store's outbox back in the shape the earlier schema had (the facts in `outbox`
    /// with their indexes, `outbox_message` the bodies alone), every row and the id counter kept.
    private func takeBack(_ root: TestRoot, to version: Int) throws {
        if root.postgres != nil {
            try root.execute("""
                BEGIN;
                ALTER TABLE outbox ADD COLUMN recipient text, ADD COLUMN sender text, ADD COLUMN message_id text, ADD COLUMN subject text;
                UPDATE outbox AS o SET recipient = m.recipient, sender = m.sender, message_id = m.message_id, subject = m.subject
                    FROM outbox_message AS m WHERE m.outbox_id = o.id;
                ALTER TABLE outbox ALTER COLUMN recipient SET NOT NULL, ALTER COLUMN sender SET NOT NULL,
                    ALTER COLUMN message_id SET NOT NULL, ALTER COLUMN subject SET NOT NULL;
                ALTER TABLE outbox_message DROP COLUMN recipient, DROP COLUMN sender, DROP COLUMN message_id, DROP COLUMN subject;
                ALTER TABLE outbox ADD CONSTRAINT outbox_message_id_key UNIQUE (message_id);
                CREATE INDEX outbox_recipient ON outbox(recipient COLLATE nocase, id);
                UPDATE eventfilter_schema SET version = \(version);
                COMMIT;
                """)
            return
        }
        try root.execute("""
            BEGIN;
            ALTER TABLE outbox RENAME TO outbox_new;
            ALTER TABLE outbox_message RENAME TO outbox_message_new;
            CREATE TABLE outbox (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                recipient TEXT NOT NULL,
                sender TEXT NOT NULL,
                message_id TEXT NOT NULL UNIQUE,
                subject TEXT NOT NULL,
                state TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state = 'queued' OR state = 'sent' OR state = 'deferred' OR state = 'failed' OR state = 'cancelled'),
                attempts INTEGER NOT NULL DEFAULT 0,
                created_at INTEGER NOT NULL,
                next_attempt_at INTEGER NOT NULL,
                last_attempt_at INTEGER,
                last_error TEXT,
                sent_at INTEGER,
                acknowledged_at INTEGER,
                reported_state TEXT,
                claimed_by INTEGER
            );
            INSERT INTO outbox SELECT o.id, m.recipient, m.sender, m.message_id, m.subject, o.state, o.attempts, o.created_at,
                o.next_attempt_at, o.last_attempt_at, o.last_error, o.sent_at, o.acknowledged_at, o.reported_state, o.claimed_by
                FROM outbox_new AS o JOIN outbox_message_new AS m ON m.outbox_id = o.id;
            CREATE TABLE outbox_message (outbox_id INTEGER PRIMARY KEY, message BLOB NOT NULL);
            INSERT INTO outbox_message SELECT outbox_id, message FROM outbox_message_new;
            DELETE FROM sqlite_sequence WHERE name = 'outbox';
            INSERT INTO sqlite_sequence(name, seq) SELECT 'outbox', seq FROM sqlite_sequence WHERE name = 'outbox_new';
            DROP TABLE outbox_new;
            DROP TABLE outbox_message_new;
            CREATE INDEX outbox_pending ON outbox(id, next_attempt_at) WHERE state IN ('queued', 'deferred');
            CREATE INDEX outbox_attention ON outbox(state, id) WHERE state IN ('deferred', 'failed');
            CREATE INDEX outbox_sent ON outbox(sent_at) WHERE state = 'sent';
            CREATE INDEX outbox_recipient ON outbox(recipient COLLATE NOCASE, id);
            CREATE INDEX outbox_cancelled ON outbox(last_attempt_at) WHERE state = 'cancelled';
            PRAGMA user_version = \(version);
            COMMIT;
            """)
    }

    /// The VERP envelope sender of message `id`, as delivery made it.
    private func verpAddress(_ root: TestRoot, id: Int64) throws -> String {
        let secret = try XCTUnwrap(Crypto.hexDecode(try root.text("SELECT \(root.hexSQL("value")) FROM installation_secret WHERE name = 'verp'")))
        return VERPAddress(bounceAddress: "bounces@example.org", secret: secret).envelopeSender(for: id)
    }

    private func bounce(_ root: TestRoot, id: Int64) throws -> TestRoot.Result {
        let address = try verpAddress(root, id: id)
        return try root.run(["bounce", address], now: later, stdin: BounceSamples.fill(BounceSamples.qmailFailureNotice, to: address))
    }

    /// What operators read of the outbox, command by command.
    private func views(_ root: TestRoot, status: Bool = true) throws -> [String] {
        var commands = [["mail", "list"], ["mail", "list", "--sent"], ["mail", "list", "--deferred"], ["mail", "list", "--failed"],
                        ["mail", "list", "--cancelled"], ["mail", "list", "--bounced"], ["mail", "list", "--sent", "--to", "ANN@example.com"],
                        ["mail", "show", "2"], ["user", "show", "ann@example.com"]]
        if status { commands += [["status"], ["status", "--json"]] }
        return try commands.map { command in
            let result = try root.run(command, now: later)
            XCTAssertEqual(result.status, 0, "\(command): \(result.stderr)")
            return "\(command.joined(separator: " ")):\n\(result.stdout)"
        }
    }

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
        let first = try bounce(root, id: Int64(ann))
        XCTAssertEqual(first.stdout, "message \(ann) to ann@example.com: hard bounce 5.1.1 (1 of 3)\n", first.stderr)
        let viewsBefore = try views(root)
        let dumpBefore = try root.dump()

        let before = try versionBefore(root)
        try takeBack(root, to: before)
        XCTAssertEqual(try schemaVersion(root), before)
        XCTAssertEqual(try root.text("SELECT recipient FROM outbox ORDER BY id"),
                       "ann@example.com\nbob@example.com\ncid@example.com\ndan@example.com\neve@example.com",
                       "the earlier schema keeps the recipient in the queue's table")
        let migrated = try root.run(["db", "migrate"], now: later)
        XCTAssertEqual(migrated.status, 0, migrated.stderr)
        XCTAssertTrue(migrated.stdout.hasPrefix("migrated "), migrated.stdout)
        XCTAssertEqual(try schemaVersion(root), root.postgres != nil ? PostgresMigrations.all.count : Migrations.all.count)

        XCTAssertEqual(try root.dump(), dumpBefore, "every row of every table, each message under its own id")
        XCTAssertEqual(try views(root), viewsBefore)
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
        let second = try bounce(root, id: Int64(cid))
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
        try takeBack(root, to: try versionBefore(root))
        XCTAssertEqual(try root.run(["db", "migrate"], now: later).status, 0)

        try root.ok("event", "add", "ezpublish", "node_id=6", "path=/1/2/6/", "name=Summer news", now: later)
        try root.ok("run", now: later)
        // Ids drawn ahead (PostgreSQL's copy draws a reserve) may leave a gap; none is used twice.
        let ids = try root.text("SELECT id FROM outbox ORDER BY id").split(separator: "\n").compactMap { Int($0) }
        XCTAssertEqual(ids.count, 3)
        XCTAssertEqual(ids.first, 1)
        XCTAssertTrue(ids.dropFirst().allSatisfy { $0 > 2 }, "\(ids): the purged message's id 2 is never given again")
        XCTAssertEqual(try root.text("SELECT outbox_id FROM outbox_message ORDER BY outbox_id"), try root.text("SELECT id FROM outbox ORDER BY id"))
    }

    /// `db copy` both ways carries the moved facts: the migrated SQLite store copied to
    /// PostgreSQL and back reads the same.
    func testAMigratedStoreCopiesToPostgreSQLAndBackReadingTheSame() throws {
        try TestRoot.requireSQLite("db copy starts from an SQLite store")
        let root = try TestRoot(siteINI: TestRoot.defaultSiteINI + "[MailSettings]\nBounceAddress=bounces@example.org\n")
        for email in ["ann@example.com", "bob@example.com"] {
            try root.ok("user", "add", email, now: now)
            try root.ok("subscribe", email, "2", now: now)
        }
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=Spring news", now: now)
        try root.ok("run", now: now)
        try root.execute("UPDATE outbox SET state = 'failed', sent_at = NULL, last_error = '550 5.1.1 no such user' WHERE id = 2")
        XCTAssertEqual(try bounce(root, id: 1).status, 0)
        try takeBack(root, to: try versionBefore(root))
        XCTAssertEqual(try root.run(["db", "migrate"], now: later).status, 0)
        // `status` names the store it reads, so it is left out here.
        let viewsBefore = try views(root, status: false)

        let database = try TestPostgres.server().makeDatabase()
        try root.ok("db", "copy", "--to", database.connectionString, now: later)
        let original = root.databasePath
        XCTAssertEqual(rename(original, original + ".before"), 0)
        for suffix in ["-wal", "-shm"] { unlink(original + suffix) }
        let override = "settings/override/site.ini.append.php"
        try root.write(override, "[DatabaseSettings]\nBackend=postgresql\nConnectionString=\(database.connectionString)\n")
        XCTAssertEqual(try views(root, status: false), viewsBefore, "read from PostgreSQL")
        try FileManager.default.removeItem(at: root.url.appendingPathComponent(override))
        try root.ok("db", "copy", "--from", database.connectionString, now: later)
        XCTAssertEqual(try views(root, status: false), viewsBefore, "read from the copy back")
    }
}
