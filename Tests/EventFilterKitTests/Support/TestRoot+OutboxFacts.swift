import Foundation
import XCTest
@testable import EventFilterKit

/// For the tests of the migration that moves a message's fixed facts (recipient, sender,
/// Message-ID, subject) from `outbox` into `outbox_message`: the store taken back to the schema
/// before it, and what operators read of the outbox.
///
///     try root.takeOutboxBack(to: try root.outboxFactsVersionBefore())
///     let views = try root.outboxViews(now: "2026-05-04T10:30:00Z")
extension TestRoot {
    /// The index of the migration under test in the backend's list: the store before it has
    /// this version.
    func outboxFactsVersionBefore() throws -> Int {
        if postgres != nil {
            return try XCTUnwrap(PostgresMigrations.all.firstIndex { $0.contains("ADD CONSTRAINT outbox_message_id_key") })
        }
        return try XCTUnwrap(Migrations.all.firstIndex { $0.contains("ALTER TABLE outbox_message RENAME TO outbox_message_old") })
    }

    func schemaVersion() throws -> Int {
        try scalar(postgres != nil ? "SELECT version FROM eventfilter_schema" : "PRAGMA user_version")
    }

    /// Puts the store's outbox back in the shape the earlier schema had (the facts in `outbox`
    /// with their indexes, `outbox_message` the bodies alone), every row and the id counter kept.
    func takeOutboxBack(to version: Int) throws {
        if postgres != nil {
            try execute("""
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
        try execute("""
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
    func verpAddress(id: Int64) throws -> String {
        let secret = try XCTUnwrap(Crypto.hexDecode(try text("SELECT \(hexSQL("value")) FROM installation_secret WHERE name = 'verp'")))
        return VERPAddress(bounceAddress: "bounces@example.org", secret: secret).envelopeSender(for: id)
    }

    func bounceByVERP(id: Int64, now: String) throws -> TestRoot.Result {
        let address = try verpAddress(id: id)
        return try run(["bounce", address], now: now, stdin: BounceSamples.fill(BounceSamples.qmailFailureNotice, to: address))
    }

    /// What operators read of the outbox, command by command.
    func outboxViews(now: String, status: Bool = true) throws -> [String] {
        var commands = [["mail", "list"], ["mail", "list", "--sent"], ["mail", "list", "--deferred"], ["mail", "list", "--failed"],
                        ["mail", "list", "--cancelled"], ["mail", "list", "--bounced"], ["mail", "list", "--sent", "--to", "ANN@example.com"],
                        ["mail", "show", "2"], ["user", "show", "ann@example.com"]]
        if status { commands += [["status"], ["status", "--json"]] }
        return try commands.map { command in
            let result = try run(command, now: now)
            XCTAssertEqual(result.status, 0, "\(command): \(result.stderr)")
            return "\(command.joined(separator: " ")):\n\(result.stdout)"
        }
    }
}
