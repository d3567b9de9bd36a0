/// The store's schema, as numbered migrations recorded in `PRAGMA user_version`.
///
/// A migration is applied once, inside a transaction with the version bump, so a crash mid-way
/// leaves the previous version intact. Append new migrations; never edit a published one.
///
/// Times are Unix seconds (UTC). Node ids are text, because ingested sources use names
/// (`/kaltura/1234/0_abc/`) as well as eZ's numeric ids.
enum Migrations {
    static let all: [String] = [
        // 1: the kernel.
        """
        -- AUTOINCREMENT: ids are never reused after a purge (custom handlers and mail files see them)
        CREATE TABLE event (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            type TEXT NOT NULL,
            params TEXT NOT NULL,                  -- a JSON object
            created_at INTEGER NOT NULL,
            not_before INTEGER,                    -- NULL: due at once
            dedupe_key TEXT,                       -- shown by `event list`; enforced by dedupe_key below
            handled_at INTEGER,                    -- NULL: unhandled
            node_id TEXT GENERATED ALWAYS AS (CAST(json_extract(params, '$.node_id') AS TEXT)) VIRTUAL
        );
        -- the filter's batch query: unhandled events in id order
        CREATE INDEX event_unhandled ON event(id) WHERE handled_at IS NULL;
        -- collapsing several waiting versions of one node
        CREATE INDEX event_unhandled_node ON event(node_id, id) WHERE handled_at IS NULL AND type = 'ezpublish';
        -- purging handled events after their retention
        CREATE INDEX event_handled ON event(handled_at) WHERE handled_at IS NOT NULL;

        -- dedupe keys outlive their events (a sender may replay a request long after it was handled)
        CREATE TABLE dedupe_key (
            key TEXT PRIMARY KEY,
            event_id INTEGER NOT NULL,
            created_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX dedupe_key_created ON dedupe_key(created_at);

        -- (event, handler) pairs that are done, or failed and waiting for a retry.
        -- An event is handled when every configured handler has a 'done' pair; then the pairs go.
        CREATE TABLE event_progress (
            event_id INTEGER NOT NULL REFERENCES event(id) ON DELETE CASCADE,
            handler TEXT NOT NULL,
            done INTEGER NOT NULL,                 -- 1 done, 0 failed (pending retry)
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (event_id, handler)
        ) WITHOUT ROWID;
        CREATE INDEX event_progress_failed ON event_progress(handler) WHERE done = 0;

        CREATE TABLE user (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL UNIQUE COLLATE NOCASE,
            name TEXT NOT NULL DEFAULT '',
            timezone TEXT NOT NULL DEFAULT 'UTC',
            enabled INTEGER NOT NULL DEFAULT 1,
            token TEXT NOT NULL UNIQUE,            -- one-click unsubscribe from digests: removes all subtree rules
            created_at INTEGER NOT NULL
        );

        -- subtree rules: everything published at or below node_id
        CREATE TABLE subtree_rule (
            node_id TEXT NOT NULL,
            user_id INTEGER NOT NULL REFERENCES user(id) ON DELETE CASCADE,
            token TEXT NOT NULL UNIQUE,            -- opaque one-click unsubscribe token
            created_at INTEGER NOT NULL,
            PRIMARY KEY (node_id, user_id)
        ) WITHOUT ROWID;
        CREATE INDEX subtree_rule_user ON subtree_rule(user_id);

        CREATE TABLE collaboration_rule (
            identifier TEXT NOT NULL,
            user_id INTEGER NOT NULL REFERENCES user(id) ON DELETE CASCADE,
            token TEXT NOT NULL UNIQUE,            -- one-click unsubscribe from this kind of item
            created_at INTEGER NOT NULL,
            PRIMARY KEY (identifier, user_id)
        ) WITHOUT ROWID;
        CREATE INDEX collaboration_rule_user ON collaboration_rule(user_id);

        -- a user without a row gets everything at once
        CREATE TABLE digest_setting (
            user_id INTEGER PRIMARY KEY REFERENCES user(id) ON DELETE CASCADE,
            frequency TEXT NOT NULL CHECK (frequency IN ('daily', 'weekly', 'monthly')),
            day INTEGER,                           -- weekly: 1 = Monday ... 7 = Sunday; monthly: 1...31
            minute_of_day INTEGER NOT NULL         -- local HH:MM as minutes after midnight
        );

        -- what a handler made of one event, rendered once and shared by its recipients
        CREATE TABLE content (
            id INTEGER PRIMARY KEY,
            event_id INTEGER NOT NULL,
            handler TEXT NOT NULL,
            subject TEXT NOT NULL,
            text TEXT NOT NULL,
            html TEXT,
            thread TEXT,                           -- stable thread id (per node), for References
            created_at INTEGER NOT NULL
        );
        CREATE INDEX content_event ON content(event_id);

        -- digest items: one per (content, user), waiting for the user's digest
        CREATE TABLE digest_item (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES user(id) ON DELETE CASCADE,
            content_id INTEGER NOT NULL REFERENCES content(id),
            send_at INTEGER NOT NULL,
            UNIQUE (user_id, content_id)
        );
        CREATE INDEX digest_item_due ON digest_item(send_at);
        CREATE INDEX digest_item_user ON digest_item(user_id, send_at);
        CREATE INDEX digest_item_content ON digest_item(content_id);

        -- composed messages on their way out
        -- AUTOINCREMENT: the file transport names files by id, which must never be reused
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            recipient TEXT NOT NULL,
            sender TEXT NOT NULL,
            message_id TEXT NOT NULL UNIQUE,
            subject TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'deferred', 'failed', 'sent')),
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            next_attempt_at INTEGER NOT NULL,
            last_attempt_at INTEGER,
            last_error TEXT,
            sent_at INTEGER,
            message BLOB NOT NULL                  -- the exact RFC 5322 bytes, CRLF; last, so reading the state never reads it
        );
        -- delivery walks only what is still to send, in id order, never the sent history
        CREATE INDEX outbox_pending ON outbox(id, next_attempt_at) WHERE state IN ('queued', 'deferred');
        -- what operators look at; sent mail stays out of it, so marking a message sent touches one index less
        CREATE INDEX outbox_attention ON outbox(state, id) WHERE state IN ('deferred', 'failed');
        CREATE INDEX outbox_sent ON outbox(sent_at) WHERE state = 'sent';

        -- accepted by the transport, not yet marked sent in outbox: the one small write committed per
        -- message on the hot path; settled into outbox once per batch (or after a crash, at the next run)
        CREATE TABLE outbox_delivered (
            outbox_id INTEGER PRIMARY KEY,
            sent_at INTEGER NOT NULL
        );

        -- one row per run, for `status`
        CREATE TABLE run_log (
            id INTEGER PRIMARY KEY,
            started_at INTEGER NOT NULL,
            finished_at INTEGER,
            events INTEGER NOT NULL DEFAULT 0,
            messages INTEGER NOT NULL DEFAULT 0,
            digests INTEGER NOT NULL DEFAULT 0,
            delivered INTEGER NOT NULL DEFAULT 0,
            error TEXT
        );
        """,
        // Operator views: a user's recent mail and `mail list --to` without walking the whole outbox.
        """
        CREATE INDEX outbox_recipient ON outbox(recipient COLLATE NOCASE, id);
        """,
        // Webhook objects: what intake last told subscribers about an object a sender keeps
        // notifying about, so a re-sent, rescheduled or cancelled session and a media entry that is
        // "ready" again are compared with it instead of announced again.
        """
        CREATE TABLE webhook_object (
            source TEXT NOT NULL,                  -- the [Source-NAME]
            object_type TEXT NOT NULL,             -- schedule_event, entry, video
            object_id TEXT NOT NULL,               -- the sender's id
            start_date INTEGER,                    -- a session: the start last announced (unix seconds)
            end_date INTEGER,
            cancelled INTEGER NOT NULL DEFAULT 0,  -- a session: cancelled or deleted
            reminder_event_id INTEGER,             -- a session: its one reminder event
            notice_event_id INTEGER,               -- a session: its last announcement, move or cancellation
            told_start INTEGER,                    -- a session: the start subscribers knew before that notice (NULL: none)
            ready_at INTEGER,                      -- media: when its readiness was announced
            sequence INTEGER,                      -- the sender's order of the last notification applied
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (source, object_type, object_id)
        ) WITHOUT ROWID;
        CREATE INDEX webhook_object_updated ON webhook_object(updated_at);
        """,
        // Bounces: the key of the per-message envelope senders (VERP), the bounces received for
        // sent messages, and the hard and soft bounces counted per address.
        """
        -- secrets of this installation, made on first use (random bytes from libcrypto)
        CREATE TABLE installation_secret (
            name TEXT PRIMARY KEY,
            value BLOB NOT NULL
        ) WITHOUT ROWID;

        -- one row per message and kind: a report delivered twice counts once
        CREATE TABLE bounce (
            outbox_id INTEGER NOT NULL,            -- no foreign key: sent mail is purged, the row goes with it
            hard INTEGER NOT NULL,                 -- 1: a 5.x.x status, 0: 4.x.x
            recipient TEXT NOT NULL,
            status TEXT NOT NULL,                  -- RFC 3463 x.y.z
            diagnostic TEXT NOT NULL,
            received_at INTEGER NOT NULL,
            PRIMARY KEY (outbox_id, hard)
        ) WITHOUT ROWID;
        CREATE INDEX bounce_received ON bounce(received_at);

        -- hard bounces since the address was last disabled (the count restarts then), soft ones ever
        CREATE TABLE bounce_address (
            address TEXT PRIMARY KEY COLLATE NOCASE,
            hard INTEGER NOT NULL DEFAULT 0,
            soft INTEGER NOT NULL DEFAULT 0,
            last_status TEXT NOT NULL,
            disabled_at INTEGER,                   -- when the hard bounces last reached the limit
            suppressed INTEGER NOT NULL DEFAULT 0, -- 1: an address without a user that gets no mail (custom handlers)
            updated_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        """,
        // Mail people read: digest lines (name, link, time), grouping by source, collapsing by node,
        // and a second user token for "stop these digests" next to the stop-all token.
        """
        ALTER TABLE content ADD COLUMN source TEXT;          -- the event type, e.g. ezpublish, kaltura.entry_add
        ALTER TABLE content ADD COLUMN node_id TEXT;         -- items of one node collapse to the latest in a digest
        ALTER TABLE content ADD COLUMN path TEXT;            -- JSON array of the path's node ids (rule and deletion checks)
        ALTER TABLE content ADD COLUMN item_name TEXT;       -- the digest line's text
        ALTER TABLE content ADD COLUMN item_url TEXT;        -- the digest line's link
        ALTER TABLE content ADD COLUMN happened_at INTEGER;  -- when the event happened (Unix seconds)
        ALTER TABLE user ADD COLUMN digest_token TEXT;       -- one-click: stop everything the digests carry
        UPDATE user SET digest_token = lower(hex(randomblob(16))) WHERE digest_token IS NULL;
        CREATE UNIQUE INDEX user_digest_token ON user(digest_token);
        -- nodes deleted (ezdelete, a source's *_delete): digest items about them, or below them, are dropped
        CREATE TABLE deleted_node (
            node_id TEXT PRIMARY KEY,
            deleted_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX deleted_node_at ON deleted_node(deleted_at);
        """,
        // Monitoring: cancelled and acknowledged mail, problems reported once, custom handler backoff,
        // the pid of a run in progress. SQLite cannot change a CHECK constraint in place, so the
        // outbox is rebuilt (same columns, plus acknowledged_at and reported_state), keeping its
        // AUTOINCREMENT counter and every index it had.
        """
        CREATE TABLE outbox_rebuilt (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            recipient TEXT NOT NULL,
            sender TEXT NOT NULL,
            message_id TEXT NOT NULL UNIQUE,
            subject TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'deferred', 'failed', 'sent', 'cancelled')),
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            next_attempt_at INTEGER NOT NULL,
            last_attempt_at INTEGER,
            last_error TEXT,
            sent_at INTEGER,
            acknowledged_at INTEGER,               -- a failed message the operator has seen (`mail ack`)
            reported_state TEXT,                   -- 'deferred' or 'failed': the trouble `run` has printed
            message BLOB NOT NULL
        );
        INSERT INTO outbox_rebuilt(id, recipient, sender, message_id, subject, state, attempts, created_at, next_attempt_at,
                                   last_attempt_at, last_error, sent_at, message)
            SELECT id, recipient, sender, message_id, subject, state, attempts, created_at, next_attempt_at,
                   last_attempt_at, last_error, sent_at, message FROM outbox;
        DELETE FROM sqlite_sequence WHERE name = 'outbox_rebuilt';
        INSERT INTO sqlite_sequence(name, seq) SELECT 'outbox_rebuilt', seq FROM sqlite_sequence WHERE name = 'outbox';
        DROP TABLE outbox;
        ALTER TABLE outbox_rebuilt RENAME TO outbox;
        CREATE INDEX outbox_pending ON outbox(id, next_attempt_at) WHERE state IN ('queued', 'deferred');
        CREATE INDEX outbox_attention ON outbox(state, id) WHERE state IN ('deferred', 'failed');
        CREATE INDEX outbox_sent ON outbox(sent_at) WHERE state = 'sent';
        CREATE INDEX outbox_recipient ON outbox(recipient COLLATE NOCASE, id);
        -- cancelled mail is purged after KeepDays, as sent mail is
        CREATE INDEX outbox_cancelled ON outbox(last_attempt_at) WHERE state = 'cancelled';

        -- problems `run` has printed other than mail's (handlers, settings); a key leaves when no run
        -- finds its problem any more, so a recurrence is printed again
        CREATE TABLE reported_problem (
            key TEXT PRIMARY KEY,                  -- 'mail-failed:42', 'handler:keyword', ...
            message TEXT NOT NULL,
            reported_at INTEGER NOT NULL,
            seen_run INTEGER NOT NULL              -- the last run (run_log.id) that found it
        ) WITHOUT ROWID;
        CREATE INDEX reported_problem_seen ON reported_problem(seen_run);

        -- a custom handler that is failing: backoff and the tail of its stderr; gone once it succeeds
        CREATE TABLE handler_state (
            handler TEXT PRIMARY KEY,
            failing_since INTEGER NOT NULL,
            failures INTEGER NOT NULL,
            next_attempt_at INTEGER NOT NULL,
            last_error TEXT NOT NULL,
            stderr_tail TEXT NOT NULL DEFAULT ''
        ) WITHOUT ROWID;

        -- events a handler gave up on (HandlerGiveUpAfter): the event went on without that handler's items
        CREATE TABLE handler_gave_up (
            event_id INTEGER NOT NULL,
            handler TEXT NOT NULL,
            error TEXT NOT NULL,
            gave_up_at INTEGER NOT NULL,
            PRIMARY KEY (event_id, handler)
        ) WITHOUT ROWID;
        CREATE INDEX handler_gave_up_time ON handler_gave_up(gave_up_at);

        ALTER TABLE run_log ADD COLUMN pid INTEGER;
        """,
        // Personal settings links. Only a SHA-256 of each token is kept, so a copy of the store
        // opens nobody's settings; a user may hold several (one per run that mailed them).
        """
        CREATE TABLE settings_token (
            id INTEGER PRIMARY KEY,                -- newest last: the oldest of a user's links goes first
            hash TEXT NOT NULL UNIQUE,             -- hex SHA-256 of the base64url token
            user_id INTEGER NOT NULL REFERENCES user(id) ON DELETE CASCADE,
            created_at INTEGER NOT NULL
        );
        CREATE INDEX settings_token_user ON settings_token(user_id, id);
        -- the settings page names a followed node by its latest event's name and path
        CREATE INDEX event_node ON event(node_id, id);
        """,
        // Sent mail keeps the reply that accepted it (SMTP "250 2.0.0 Ok: queued as 4F2A1"): it rides
        // in the one row committed per accepted message and is settled into outbox.last_error, the
        // message's last reply, so `mail show` can name the queue id to look for in the server's log.
        """
        ALTER TABLE outbox_delivered ADD COLUMN reply TEXT;   -- the transport's acceptance, one line
        """,
        // A node deleted and published again within one second: the deletion's event id tells
        // which of the two came first (deleted_at alone cannot), so the new version is kept.
        """
        ALTER TABLE deleted_node ADD COLUMN event_id INTEGER;  -- the latest deletion's event (NULL: recorded before)
        """,
        // "Stop all notifications" stops a custom handler's mail to the user too, until they
        // subscribe to something again.
        """
        ALTER TABLE user ADD COLUMN stopped_all INTEGER NOT NULL DEFAULT 0;
        """,
        // Which run works an event or a message now (ClaimStore.swift). Only PostgreSQL, where many
        // runs share the queues, fills them; SQLite has them so both stores keep the same columns
        // (`db copy` copies by column).
        """
        ALTER TABLE event ADD COLUMN claimed_by INTEGER;
        ALTER TABLE outbox ADD COLUMN claimed_by INTEGER;
        """,
        // The digest removes a user's items by (user, send_at). Index entries on send_at alone
        // sort by row id, which follows the events, so each user's removal rewrote nearly every
        // page of the index; with the user second they lie together, one user's in a few pages.
        """
        DROP INDEX digest_item_due;
        CREATE INDEX digest_item_due ON digest_item(send_at, user_id);
        """,
        // Message bodies apart from the state delivery updates: marking a message sent rewrites a
        // row of a few hundred bytes, not one with the whole message in it. The state check is a
        // chain of comparisons, since SQLite evaluates `state IN (five values)` by building a
        // temporary b-tree at every insert. outbox is rebuilt for both (SQLite cannot drop a
        // CHECK), keeping its AUTOINCREMENT counter, its ids and every index it had.
        // outbox_message has no foreign key (a check per insert): the statements that delete
        // outbox rows delete their bodies with them.
        """
        ALTER TABLE outbox RENAME TO outbox_old;
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
        INSERT INTO outbox(id, recipient, sender, message_id, subject, state, attempts, created_at, next_attempt_at,
                           last_attempt_at, last_error, sent_at, acknowledged_at, reported_state, claimed_by)
            SELECT id, recipient, sender, message_id, subject, state, attempts, created_at, next_attempt_at,
                   last_attempt_at, last_error, sent_at, acknowledged_at, reported_state, claimed_by FROM outbox_old;
        -- the exact RFC 5322 bytes of each message, CRLF
        CREATE TABLE outbox_message (
            outbox_id INTEGER PRIMARY KEY,
            message BLOB NOT NULL
        );
        INSERT INTO outbox_message(outbox_id, message) SELECT id, message FROM outbox_old;
        DELETE FROM sqlite_sequence WHERE name = 'outbox';
        INSERT INTO sqlite_sequence(name, seq) SELECT 'outbox', seq FROM sqlite_sequence WHERE name = 'outbox_old';
        DROP TABLE outbox_old;
        CREATE INDEX outbox_pending ON outbox(id, next_attempt_at) WHERE state IN ('queued', 'deferred');
        CREATE INDEX outbox_attention ON outbox(state, id) WHERE state IN ('deferred', 'failed');
        CREATE INDEX outbox_sent ON outbox(sent_at) WHERE state = 'sent';
        CREATE INDEX outbox_recipient ON outbox(recipient COLLATE NOCASE, id);
        CREATE INDEX outbox_cancelled ON outbox(last_attempt_at) WHERE state = 'cancelled';
        """,
        // Digest items keyed by (reader, content), WITHOUT ROWID: one reader's items lie together
        // in the table however the events interleaved them, so a digest removing a reader's
        // items rewrites that reader's pages, not nearly every page of the table (rows in event
        // order put every reader on every page). The key serves what the (user_id, content_id)
        // and (user_id, send_at) indexes did, so neither is kept.
        """
        CREATE TABLE digest_item_new (
            user_id INTEGER NOT NULL REFERENCES user(id) ON DELETE CASCADE,
            content_id INTEGER NOT NULL REFERENCES content(id),
            send_at INTEGER NOT NULL,
            PRIMARY KEY (user_id, content_id)
        ) WITHOUT ROWID;
        INSERT INTO digest_item_new(user_id, content_id, send_at)
            SELECT user_id, content_id, send_at FROM digest_item ORDER BY user_id, content_id;
        DROP TABLE digest_item;
        ALTER TABLE digest_item_new RENAME TO digest_item;
        CREATE INDEX digest_item_content ON digest_item(content_id);
        CREATE INDEX digest_item_due ON digest_item(send_at, user_id);
        """,
        // A message's fixed facts (recipient, sender, Message-ID, subject) beside its bytes in
        // outbox_message, with their two indexes (recipient without regard to case, the unique
        // Message-ID); outbox keeps only the queue state delivery updates, and the indexes on that
        // state. On PostgreSQL a state change writes a new version of the row and an entry in
        // every index of its table: with the facts apart, marking a message sent no longer adds
        // one to the recipient and Message-ID indexes. Both tables are rebuilt here (SQLite cannot
        // drop a column that an index or UNIQUE uses), keeping outbox's AUTOINCREMENT counter and
        // every id. The facts come before the bytes, so reading them never reads the message.
        """
        ALTER TABLE outbox RENAME TO outbox_old;
        ALTER TABLE outbox_message RENAME TO outbox_message_old;
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
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
        INSERT INTO outbox(id, state, attempts, created_at, next_attempt_at, last_attempt_at, last_error, sent_at,
                           acknowledged_at, reported_state, claimed_by)
            SELECT id, state, attempts, created_at, next_attempt_at, last_attempt_at, last_error, sent_at,
                   acknowledged_at, reported_state, claimed_by FROM outbox_old;
        CREATE TABLE outbox_message (
            outbox_id INTEGER PRIMARY KEY,
            recipient TEXT NOT NULL,
            sender TEXT NOT NULL,
            message_id TEXT NOT NULL UNIQUE,
            subject TEXT NOT NULL,
            message BLOB NOT NULL                  -- the exact RFC 5322 bytes, CRLF
        );
        INSERT INTO outbox_message(outbox_id, recipient, sender, message_id, subject, message)
            SELECT o.id, o.recipient, o.sender, o.message_id, o.subject, m.message
            FROM outbox_old AS o JOIN outbox_message_old AS m ON m.outbox_id = o.id;
        DELETE FROM sqlite_sequence WHERE name = 'outbox';
        INSERT INTO sqlite_sequence(name, seq) SELECT 'outbox', seq FROM sqlite_sequence WHERE name = 'outbox_old';
        DROP TABLE outbox_old;
        DROP TABLE outbox_message_old;
        CREATE INDEX outbox_pending ON outbox(id, next_attempt_at) WHERE state IN ('queued', 'deferred');
        CREATE INDEX outbox_attention ON outbox(state, id) WHERE state IN ('deferred', 'failed');
        CREATE INDEX outbox_sent ON outbox(sent_at) WHERE state = 'sent';
        CREATE INDEX outbox_cancelled ON outbox(last_attempt_at) WHERE state = 'cancelled';
        CREATE INDEX outbox_recipient ON outbox_message(recipient COLLATE NOCASE, outbox_id);
        """,
    ]

    /// Brings `db` to the newest schema version.
    static func migrate(_ db: Database) throws {
        let current = try db.scalarInt("PRAGMA user_version") ?? 0
        guard current < all.count else { return }
        for version in current..<all.count {
            try db.inTransaction {
                // Another process may have applied it while this one waited for the write lock.
                guard try db.scalarInt("PRAGMA user_version") == version else { return }
                try db.execute(all[version])
                try db.execute("PRAGMA user_version = \(version + 1)")
            }
        }
    }
}
