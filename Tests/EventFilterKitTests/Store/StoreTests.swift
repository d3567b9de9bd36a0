import XCTest
@testable import EventFilterKit

final class StoreTests: XCTestCase {
    func testMigrationsCreateSchemaInWALMode() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ef-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = try Database(path: dir.appendingPathComponent("t.db").path)
        try Migrations.migrate(db)
        XCTAssertEqual(try db.scalarInt("PRAGMA user_version"), Migrations.all.count)
        XCTAssertEqual(try db.first("PRAGMA journal_mode") { $0.string(0) }, "wal")
        try Migrations.migrate(db)  // idempotent
        XCTAssertEqual(try db.scalarInt("SELECT count(*) FROM event"), 0)
    }

    /// Columns are read by their name or `AS` alias; a name the query does not return is an error
    /// naming it, never another column's value.
    func testRowsAreReadByColumnName() throws {
        let db = try Database(path: ":memory:")
        try db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, email TEXT, note TEXT)")
        try db.execute("INSERT INTO t(email, note) VALUES (?, ?)", ["ann@example.com", nil as String?])
        let read = try db.first("SELECT note, email, id * 10 AS tenfold FROM t") { row in
            (try row.string("email"), try row.optionalString("note"), try row.int64("tenfold"))
        }
        XCTAssertEqual(read?.0, "ann@example.com")
        XCTAssertNil(read?.1)
        XCTAssertEqual(read?.2, 10)
        XCTAssertThrowsError(try db.first("SELECT email FROM t") { try $0.string("name") }) { error in
            XCTAssertTrue("\(error)".contains("no result column named name"), "\(error)")
        }
    }

    /// The outbox is rebuilt to accept `cancelled`: its rows, states and AUTOINCREMENT counter
    /// survive, so a file transport never reuses the id of a purged message.
    func testTheOutboxRebuildKeepsRowsAndNeverReusesIDs() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ef-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = try Database(path: dir.appendingPathComponent("t.db").path)
        let rebuild = try XCTUnwrap(Migrations.all.firstIndex { $0.contains("outbox_rebuilt") })
        try migrate(db, to: rebuild)
        for (index, state) in ["sent", "failed", "deferred", "queued"].enumerated() {
            try db.execute("""
                INSERT INTO outbox(recipient, sender, message_id, subject, state, created_at, next_attempt_at, message)
                VALUES (?, 's@example.com', ?, 'subject', ?, 0, 0, x'41')
                """, ["r\(index)@example.com", "<\(index)@example.com>", state])
        }
        try db.execute("DELETE FROM outbox WHERE id = 4")  // the newest purged
        let indexesBefore = Set(try db.map("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'outbox'") { $0.string(0) })
        XCTAssertThrowsError(try db.execute("UPDATE outbox SET state = 'cancelled' WHERE id = 1"), "the old CHECK refuses it")

        try migrate(db, to: rebuild + 1)
        XCTAssertEqual(try db.map("SELECT id, state, recipient FROM outbox ORDER BY id") { "\($0.int(0)) \($0.string(1)) \($0.string(2))" },
                       ["1 sent r0@example.com", "2 failed r1@example.com", "3 deferred r2@example.com"])
        try db.execute("UPDATE outbox SET state = 'cancelled' WHERE id = 3")
        try db.execute("""
            INSERT INTO outbox(recipient, sender, message_id, subject, created_at, next_attempt_at, message)
            VALUES ('n@example.com', 's@example.com', '<new@example.com>', 'subject', 0, 0, x'41')
            """)
        XCTAssertEqual(db.lastInsertRowID, 5, "id 4 is never reused")
        XCTAssertThrowsError(try db.execute("UPDATE outbox SET state = 'lost' WHERE id = 1"), "the CHECK still guards the states")
        let indexesAfter = Set(try db.map("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'outbox'") { $0.string(0) })
        XCTAssertEqual(indexesAfter, indexesBefore.union(["outbox_cancelled"]), "every index the outbox had is rebuilt")
    }

    /// Digest items move to a table keyed by (reader, content): every waiting item keeps its
    /// reader, content and send time, a reader still has at most one item per content, removing
    /// a user still takes their items, and a reader's due items are read and removed by the key.
    func testDigestItemsMoveToAReaderKeyedTableKeepingEveryItem() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ef-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = try Database(path: dir.appendingPathComponent("t.db").path)
        let rebuild = try XCTUnwrap(Migrations.all.firstIndex { $0.contains("CREATE TABLE digest_item_new") })
        try migrate(db, to: rebuild)
        for user in 1...2 {
            try db.execute("INSERT INTO user(id, email, name, token, created_at) VALUES (?, ?, 'n', ?, 0)", [user, "u\(user)@example.com", "t\(user)"])
        }
        for content in 1...3 {
            try db.execute("INSERT INTO content(id, event_id, handler, subject, text, created_at) VALUES (?, 1, 'ezsubtree', 's', 't', 0)", [content])
        }
        // In event order, the readers interleaved, as the filter writes them.
        for (user, content, sendAt) in [(2, 1, 100), (1, 1, 100), (2, 2, 100), (1, 3, 200), (2, 3, 100)] {
            try db.execute("INSERT INTO digest_item(user_id, content_id, send_at) VALUES (?, ?, ?)", [user, content, sendAt])
        }

        try Migrations.migrate(db)
        XCTAssertEqual(try db.map("SELECT user_id, content_id, send_at FROM digest_item ORDER BY user_id, content_id") {
            "\($0.int(0)) \($0.int(1)) \($0.int(2))"
        }, ["1 1 100", "1 3 200", "2 1 100", "2 2 100", "2 3 100"])
        XCTAssertEqual(try db.scalarInt("SELECT count(*) FROM sqlite_master WHERE name = 'digest_item_new'"), 0)
        XCTAssertThrowsError(try db.execute("INSERT INTO digest_item(user_id, content_id, send_at) VALUES (1, 1, 300)"),
                             "one item per reader and content")
        let plan = try db.map("EXPLAIN QUERY PLAN DELETE FROM digest_item WHERE user_id = 2 AND send_at <= 100") { $0.string(3) }
        XCTAssertEqual(plan, ["SEARCH digest_item USING PRIMARY KEY (user_id=?)"], "a reader's items are found by the key")
        try db.execute("DELETE FROM user WHERE id = 2")
        XCTAssertEqual(try db.map("SELECT content_id FROM digest_item ORDER BY content_id") { $0.int(0) }, [1, 3], "a removed user's items go")
    }

    /// Brings `db` from its schema version to `target` (the number of `Migrations.all` applied),
    /// as `Migrations.migrate` would, so a test of one migration sees the schema it left.
    private func migrate(_ db: Database, to target: Int) throws {
        let current = try db.scalarInt("PRAGMA user_version") ?? 0
        for version in current..<target {
            try db.execute(Migrations.all[version])
            try db.execute("PRAGMA user_version = \(version + 1)")
        }
    }

    /// A node id is one path element: no `/`, no white space or control character, not `.` or
    /// `..`. Every ASCII character and some beyond (Unicode's spaces, NEL, letters) is judged
    /// as Foundation's white space set says.
    func testNodeIdsRefuseSlashesSpacesAndControlsByFoundationsWhiteSpace() {
        let others: [Unicode.Scalar] = ["\u{85}", "\u{A0}", "\u{2028}", "\u{3000}", "\u{1680}", "é", "日", "😀"]
        for scalar in (0..<128).compactMap(Unicode.Scalar.init) + others {
            let expected = !CharacterSet.whitespacesAndNewlines.contains(scalar) && scalar != "/" && scalar.value >= 0x20 && scalar.value != 0x7F
            let node = "n" + String(scalar) + "1"
            XCTAssertEqual((try? Store.validateNode(node)) != nil, expected, "U+\(String(scalar.value, radix: 16))")
        }
        XCTAssertThrowsError(try Store.validateNode(".."))
        XCTAssertThrowsError(try Store.validateNode(""))
        XCTAssertNoThrow(try Store.validateNode("news-2026_a.b"))
    }

    /// Message bodies move to outbox_message: every message keeps its id, state and bytes, the
    /// AUTOINCREMENT counter survives (a file named by a purged id is never overwritten), every
    /// index stays, and the state check still refuses an unknown state without building a
    /// temporary b-tree at each insert.
    func testMessageBodiesMoveApartKeepingIDsCounterAndIndexes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ef-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = try Database(path: dir.appendingPathComponent("t.db").path)
        let split = try XCTUnwrap(Migrations.all.firstIndex { $0.contains("CREATE TABLE outbox_message") })
        try migrate(db, to: split)
        for (index, state) in ["sent", "failed", "deferred", "queued", "queued"].enumerated() {
            try db.execute("""
                INSERT INTO outbox(recipient, sender, message_id, subject, state, created_at, next_attempt_at, message)
                VALUES (?, 's@example.com', ?, 'subject', ?, 0, 0, ?)
                """, ["r\(index)@example.com", "<\(index)@example.com>", state, Array("message \(index)\r\n".utf8)])
        }
        try db.execute("DELETE FROM outbox WHERE id = 5")  // the newest purged
        let indexesBefore = Set(try db.map("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'outbox'") { $0.string(0) })

        try migrate(db, to: split + 1)
        XCTAssertEqual(try db.map("""
            SELECT id, state, recipient, CAST(message AS TEXT) AS body FROM outbox JOIN outbox_message ON outbox_id = id ORDER BY id
            """) { "\($0.int(0)) \($0.string(1)) \($0.string(2)) \($0.string(3))" },
            ["1 sent r0@example.com message 0\r\n", "2 failed r1@example.com message 1\r\n",
             "3 deferred r2@example.com message 2\r\n", "4 queued r3@example.com message 3\r\n"])
        XCTAssertEqual(try db.scalarInt("SELECT count(*) FROM sqlite_master WHERE name = 'outbox_old'"), 0)
        try db.execute("""
            INSERT INTO outbox(recipient, sender, message_id, subject, created_at, next_attempt_at)
            VALUES ('n@example.com', 's@example.com', '<new@example.com>', 'subject', 0, 0)
            """)
        XCTAssertEqual(db.lastInsertRowID, 6, "id 5 is never reused")
        for state in ["cancelled", "sent", "deferred", "failed", "queued"] {
            try db.execute("UPDATE outbox SET state = ? WHERE id = 6", [state])
        }
        XCTAssertThrowsError(try db.execute("UPDATE outbox SET state = 'lost' WHERE id = 1"), "the check still guards the states")
        let indexesAfter = Set(try db.map("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'outbox'") { $0.string(0) })
        XCTAssertEqual(indexesAfter, indexesBefore, "every index the outbox had is rebuilt")
        let insertProgram = try db.map("""
            EXPLAIN INSERT INTO outbox(recipient, sender, message_id, subject, created_at, next_attempt_at) VALUES ('a', 'b', 'c', 'd', 0, 0)
            """) { $0.string(1) }
        XCTAssertFalse(insertProgram.contains("OpenEphemeral"), "an insert builds no temporary b-tree: \(insertProgram)")
    }
}

final class JSONValueTests: XCTestCase {
    func testParsesBooleansNumbersAndStringsDistinctly() throws {
        let value = try JSONValue.parse(#"{"a": true, "b": 1, "c": "x", "d": [null, 2.5], "e": false, "f": 0}"#)
        XCTAssertEqual(value["a"], .bool(true))
        XCTAssertEqual(value["b"], .number(1))
        XCTAssertEqual(value["e"], .bool(false))
        XCTAssertEqual(value["f"], .number(0))
        XCTAssertEqual(value["c"]?.stringValue, "x")
        XCTAssertEqual(value.serialized, #"{"a":true,"b":1,"c":"x","d":[null,2.5],"e":false,"f":0}"#)
    }
}

final class UnsubscribeTokenTests: XCTestCase {
    private func store() throws -> Store {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ef-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return try Store(root: dir)
    }

    func testEachTokenRemovesWhatItNamesOnceAndIsIdempotent() throws {
        let store = try store()
        try store.addUser(email: "a@example.com", name: "", timezone: "UTC", now: 0)
        try store.subscribe(email: "a@example.com", node: "2", now: 0)
        try store.subscribe(email: "a@example.com", node: "60", now: 0)
        try store.collaborationSubscribe(email: "a@example.com", identifier: "ezapprove", now: 0)
        let ruleToken = try XCTUnwrap(store.db.first("SELECT token FROM subtree_rule WHERE node_id = '60'") { $0.string(0) })
        let collaborationToken = try XCTUnwrap(store.db.first("SELECT token FROM collaboration_rule") { $0.string(0) })
        let userToken = try XCTUnwrap(store.db.first("SELECT token FROM user") { $0.string(0) })
        XCTAssertEqual(Set([ruleToken, collaborationToken, userToken]).count, 3)
        XCTAssertEqual(ruleToken.count, 32)

        XCTAssertTrue(try store.unsubscribe(token: ruleToken))
        XCTAssertEqual(try store.subscriptions(email: "a@example.com"), ["2"])
        XCTAssertFalse(try store.unsubscribe(token: ruleToken), "a second POST changes nothing")

        XCTAssertTrue(try store.unsubscribe(token: collaborationToken))
        XCTAssertEqual(try store.db.scalarInt("SELECT count(*) FROM collaboration_rule"), 0)

        XCTAssertTrue(try store.unsubscribe(token: userToken), "a digest's token removes every subtree rule")
        XCTAssertEqual(try store.subscriptions(email: "a@example.com"), [])
        XCTAssertFalse(try store.unsubscribe(token: "not-a-token"))
        XCTAssertNotNil(try store.user(email: "a@example.com"), "the user stays")
    }
}
