import EventFilterKit
import Foundation
import XCTest

/// `PostgresConnection` against a real PostgreSQL server (`TestPostgres`), each test in a
/// database of its own.
final class PostgresConnectionTests: XCTestCase {
    private var database: TestPostgresDatabase!
    private var db: PostgresConnection!

    override func setUpWithError() throws {
        database = try TestPostgres.server().makeDatabase()
        db = try database.connect()
    }

    override func tearDown() {
        db = nil
        database = nil
    }

    func testBoundValuesOfEveryKindReadBackByColumnName() throws {
        try db.executeScript("""
            CREATE TABLE item (
                id bigserial PRIMARY KEY, name text NOT NULL, big bigint, data bytea,
                flag boolean, note text, ratio double precision)
            """)
        let name = #"O'Brien "quoted" \ back; DROP TABLE item; -- Åse 🙂"#
        let allBytes = (0...255).map { UInt8($0) }
        let big: Int64 = 9_007_199_254_740_993  // 2^53 + 1: not representable as a double
        let insert = try db.execute(
            "INSERT INTO item(name, big, data, flag, note, ratio) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            [name, big, allBytes, true, String?.none, 0.1])
        XCTAssertEqual(insert.changedRowCount, 1)
        let id = try XCTUnwrap(insert.rows.first).int64("id")

        let row = try XCTUnwrap(db.first("SELECT id, name, big, data, flag, note, ratio, big::text AS big_text FROM item WHERE name = $1", [name]))
        XCTAssertEqual(try row.int64("id"), id)
        XCTAssertEqual(try row.string("name"), name)
        XCTAssertEqual(try row.int64("big"), big)
        XCTAssertEqual(try row.string("big_text"), "9007199254740993", "stored exactly on the server")
        XCTAssertEqual(try row.bytes("data"), allBytes)
        XCTAssertTrue(try row.bool("flag"))
        XCTAssertNil(try row.optionalString("note"))
        XCTAssertTrue(try row.isNull("note"))
        XCTAssertEqual(try row.double("ratio"), 0.1)
        XCTAssertEqual(try row.value("big"), .integer(big))
        XCTAssertEqual(try row.value("data"), .blob(allBytes))
        XCTAssertEqual(try row.value("flag"), .integer(1))
        XCTAssertEqual(try row.value("note"), .null)
        XCTAssertEqual(try row.value("name"), .text(name))
        XCTAssertEqual(row.columnNames, ["id", "name", "big", "data", "flag", "note", "ratio", "big_text"])

        // The comparison is exact too: 2^53 (which a double would round 2^53 + 1 to) finds nothing.
        XCTAssertEqual(try db.query("SELECT id FROM item WHERE big = $1", [big]).count, 1)
        XCTAssertEqual(try db.query("SELECT id FROM item WHERE big = $1", [Int64(9_007_199_254_740_992)]).count, 0)
        // The quotes and the "DROP TABLE" were data, never SQL.
        XCTAssertEqual(try db.first("SELECT count(*) AS n FROM item")?.int("n"), 1)
    }

    func testBinaryResultsReadBackAsTheTextFormatDoes() throws {
        try db.executeScript("""
            CREATE TABLE item (
                id bigserial PRIMARY KEY, name text NOT NULL, big bigint, small integer, tiny smallint, data bytea,
                flag boolean, note text, ratio double precision)
            """)
        let name = "Åse 🙂 \\x41"
        let allBytes = (0...255).map { UInt8($0) }
        let big: Int64 = -9_007_199_254_740_993
        try db.execute("INSERT INTO item(name, big, small, tiny, data, flag, ratio) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                       [name, big, -70_000, 300, allBytes, false, 0.1])
        let sql = "SELECT id, name, big, small, tiny, data, flag, note, ratio FROM item"
        let text = try XCTUnwrap(db.execute(sql).rows.first)
        let binary = try XCTUnwrap(db.execute(sql, binaryResults: true).rows.first)
        for column in text.columnNames {
            XCTAssertEqual(try binary.value(column), try text.value(column), column)
            if column != "data" { XCTAssertEqual(try binary.optionalString(column), try text.optionalString(column), column) }
        }
        XCTAssertEqual(try binary.bytes("data"), allBytes, "the bytes as stored, not their hex spelling")
        XCTAssertEqual(try binary.int64("big"), big)
        XCTAssertEqual(try binary.int("small"), -70_000)
        XCTAssertEqual(try binary.int("tiny"), 300)
        XCTAssertEqual(try binary.string("name"), name)
        XCTAssertEqual(try binary.string("big"), String(big))
        XCTAssertFalse(try binary.bool("flag"))
        XCTAssertEqual(try binary.double("ratio"), 0.1)
        XCTAssertNil(try binary.optionalString("note"))
    }

    func testTextWithANULCharacterIsRefusedAndNothingIsWritten() throws {
        try db.executeScript("CREATE TABLE item (name text)")
        XCTAssertThrowsError(try db.execute("INSERT INTO item(name) VALUES ($1)", ["before\0after"])) { error in
            XCTAssertEqual("\(error)", "PostgreSQL error: parameter $1 contains a NUL character, which PostgreSQL text cannot store (in: INSERT INTO item(name) VALUES ($1))")
        }
        XCTAssertEqual(try db.first("SELECT count(*) AS n FROM item")?.int("n"), 0)
    }

    func testUniqueViolationCarriesSQLStateAndTheServersMessageOnOneLine() throws {
        try db.executeScript("CREATE TABLE account (email text UNIQUE NOT NULL)")
        try db.execute("INSERT INTO account(email) VALUES ($1)", ["token-ann@example.com"])
        XCTAssertThrowsError(try db.execute("INSERT INTO account(email) VALUES ($1)", ["token-ann@example.com"])) { error in
            guard let error = error as? PostgresError else { return XCTFail("not a PostgresError: \(error)") }
            XCTAssertEqual(error.sqlState, "23505")
            XCTAssertEqual(error.kind, .uniqueViolation)
            XCTAssertEqual(error.constraint, "account_email_key")
            XCTAssertEqual(error.description, #"PostgreSQL error 23505: duplicate key value violates unique constraint "account_email_key" (in: INSERT INTO account(email) VALUES ($1))"#)
            // The server's DETAIL repeats the value; it is kept, but out of the printed error.
            XCTAssertEqual(error.detail, "Key (email)=(token-ann@example.com) already exists.")
            XCTAssertFalse(error.description.contains("token-ann"))
        }
        XCTAssertEqual(try db.first("SELECT count(*) AS n FROM account")?.int("n"), 1)
    }

    func testSQLErrorsAndMisuseAreClearOneLineErrors() throws {
        try db.executeScript("CREATE TABLE account (id bigint, email text)")
        XCTAssertThrowsError(try db.execute("INSERT INTO account(id, email) VALUES ($1, $2)", [1])) { error in
            XCTAssertEqual("\(error)", "PostgreSQL error: expected 2 parameters, got 1 (in: INSERT INTO account(id, email) VALUES ($1, $2))")
        }
        XCTAssertThrowsError(try db.execute("SELECT nothing FROM nowhere")) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "42P01")
            XCTAssertEqual((error as? PostgresError)?.kind, .other)
            XCTAssertEqual("\(error)", #"PostgreSQL error 42P01: relation "nowhere" does not exist (in: SELECT nothing FROM nowhere)"#)
        }
        try db.execute("INSERT INTO account(id, email) VALUES ($1, $2)", [1, "ann@example.com"])
        let row = try XCTUnwrap(db.first("SELECT id, email FROM account"))
        XCTAssertThrowsError(try row.string("name")) { error in
            XCTAssertEqual("\(error)", #"PostgreSQL error: no column "name" in the result (columns: id, email)"#)
        }
        XCTAssertThrowsError(try row.int64("email")) { error in
            XCTAssertEqual("\(error)", #"PostgreSQL error: column "email" holds "ann@example.com", not an integer"#)
        }
        // The connection is still good after each of them.
        XCTAssertEqual(try db.first("SELECT count(*) AS n FROM account")?.int("n"), 1)
    }

    func testEachSQLTextRunTwiceIsPreparedOnceAndReused() throws {
        try db.executeScript("CREATE TABLE item (n bigint)")
        let insert = "INSERT INTO item(n) VALUES ($1)"
        let select = "SELECT n FROM item WHERE n >= $1 ORDER BY n"
        let once = "SELECT count(*) AS n FROM item WHERE n < $1"
        for n in 1...20 { try db.execute(insert, [n]) }
        for n in 1...5 { XCTAssertEqual(try db.query(select, [n]).count, 21 - n) }
        XCTAssertEqual(try db.first(once, [4])?.int("n"), 3, "a text run once gives its rows all the same")

        let count = "SELECT count(*) AS n FROM pg_prepared_statements"
        // Two statements, not 26: the texts run more than once. The one run once, and this
        // counting query (its first run), went as unnamed statements, one round trip each.
        XCTAssertEqual(try db.first(count)?.int("n"), 2)
        XCTAssertEqual(try db.first(count + " WHERE statement = $1", [insert])?.int("n"), 1)
        XCTAssertEqual(try db.first(count + " WHERE statement = $1", [once])?.int("n"), 0)
        // The filtered count ran twice just now, so it is prepared too; so is the count, at its second run.
        XCTAssertEqual(db.preparedStatementCount, 3)
        XCTAssertEqual(try db.first(count)?.int("n"), 4)
        // Prepared statements belong to their session: a second connection has none of them.
        let other = try database.connect()
        XCTAssertEqual(try other.first(count + " WHERE statement = $1", [insert])?.int("n"), 0)
    }

    /// A text prepared at its second run takes its number of values from its first run, which
    /// the server accepted: a later call with another number is refused with the same one-line
    /// error, before anything reaches the server, and the connection goes on.
    func testATextPreparedAfterItsFirstRunStillRefusesTheWrongNumberOfValues() throws {
        try db.executeScript("CREATE TABLE item (n bigint)")
        let insert = "INSERT INTO item(n) VALUES ($1)"
        try db.execute(insert, [1])
        try db.execute(insert, [2])
        XCTAssertEqual(db.preparedStatementCount, 1)
        XCTAssertThrowsError(try db.execute(insert, [3, 4])) { error in
            XCTAssertEqual("\(error)", "PostgreSQL error: expected 1 parameters, got 2 (in: \(insert))")
        }
        XCTAssertThrowsError(try db.execute(insert, [])) { error in
            XCTAssertEqual("\(error)", "PostgreSQL error: expected 1 parameters, got 0 (in: \(insert))")
        }
        try db.execute(insert, [5])
        XCTAssertEqual(try db.query("SELECT n FROM item ORDER BY n").map { try $0.int("n") }, [1, 2, 5])
    }

    /// A text whose first run (unnamed) failed is prepared at its next run like any other: a
    /// unique violation inside a savepoint undoes only the savepoint, and the same text runs
    /// again; a first run with the wrong number of values is the same one-line error as a
    /// prepared statement's, and the transaction it aborted is rolled back, keeping nothing.
    func testATextWhoseFirstRunFailedRunsAgainAndAnAbortedTransactionKeepsNothing() throws {
        try db.executeScript("CREATE TABLE item (n bigint PRIMARY KEY)")
        let insert = "INSERT INTO item(n) VALUES ($1)"
        try db.inTransaction {
            try db.execute("INSERT INTO item(n) SELECT $1", [1])
            XCTAssertThrowsError(try db.inSavepoint { try db.execute(insert, [1]) }) { error in
                XCTAssertEqual((error as? PostgresError)?.kind, .uniqueViolation, "\(error)")
            }
            try db.execute(insert, [2])
            try db.execute(insert, [3])
        }
        XCTAssertEqual(try db.query("SELECT n FROM item ORDER BY n").map { try $0.int("n") }, [1, 2, 3])
        XCTAssertEqual(try db.first("SELECT count(*) AS n FROM pg_prepared_statements WHERE statement = $1", [insert])?.int("n"), 1)

        let pair = "INSERT INTO item(n) SELECT $1::bigint + $2::bigint"
        XCTAssertThrowsError(try db.inTransaction {
            try db.execute(insert, [4])
            XCTAssertThrowsError(try db.execute(pair, [5])) { error in
                XCTAssertEqual("\(error)", "PostgreSQL error: expected 2 parameters, got 1 (in: \(pair))")
            }
        }) { error in
            XCTAssertEqual("\(error)", "PostgreSQL error: the transaction was rolled back: a statement in it failed")
        }
        XCTAssertEqual(try db.query("SELECT n FROM item ORDER BY n").map { try $0.int("n") }, [1, 2, 3], "nothing kept")
        try db.execute(pair, [2, 3])
        XCTAssertEqual(try db.query("SELECT n FROM item ORDER BY n").map { try $0.int("n") }, [1, 2, 3, 5])
    }

    func testAStatementPreparedBeforeItsTableChangedShapeIsPreparedAgain() throws {
        try db.executeScript("CREATE TABLE item (a bigint)")
        try db.execute("INSERT INTO item(a) VALUES ($1)", [1])
        let everything = "SELECT * FROM item"
        XCTAssertEqual(try db.first(everything)?.columnNames, ["a"])
        // A migration adds a column: the prepared SELECT * would now return another row shape.
        try db.executeScript("ALTER TABLE item ADD COLUMN b text NOT NULL DEFAULT 'x'")
        XCTAssertEqual(try db.first(everything)?.string("b"), "x")
        try db.executeScript("ALTER TABLE item ADD COLUMN c bigint NOT NULL DEFAULT 7")
        XCTAssertThrowsError(try db.inTransaction { try db.first(everything) }) { error in
            XCTAssertEqual((error as? PostgresError)?.kind, .retryable, "\(error)")
        }
        XCTAssertEqual(try db.inTransaction { try db.first(everything)?.int("c") }, 7)
        // Two preparations (the first run was unnamed, the second prepared it, with column b):
        // the one that failed inside the transaction stays on the server, unused, beside the
        // current one.
        XCTAssertEqual(try db.first("SELECT count(*) AS n FROM pg_prepared_statements WHERE statement = $1", [everything])?.int("n"), 2)
    }

    /// A statement sent without waiting: the next statement sees its rows; its error is thrown
    /// by the next statement (or the transaction's end), as a plain error even for a unique
    /// violation, and the transaction then keeps nothing.
    func testASentStatementsRowsAndErrorsReachTheNextStatementAndAFailedOneKeepsNothing() throws {
        try db.executeScript("CREATE TABLE item (id bigint PRIMARY KEY, name text NOT NULL)")
        try db.send("INSERT INTO item(id, name) VALUES ($1, $2), ($3, $4)", [1, "ann", 2, "bob"])
        XCTAssertEqual(try db.first("SELECT count(*) AS n FROM item")?.int64("n"), 2)

        XCTAssertThrowsError(try db.inTransaction {
            try db.send("INSERT INTO item(id, name) VALUES ($1, $2)", [3, "carol"])
            try db.send("INSERT INTO item(id, name) VALUES ($1, $2)", [1, "again"])
            _ = try db.first("SELECT 1 AS one")
        }) { error in
            let error = error as? PostgresError
            XCTAssertEqual(error?.sqlState, "23505")
            XCTAssertEqual(error?.kind, .other, "not taken for the unique violation of the statement that read it")
            XCTAssertTrue(error?.description.contains("INSERT INTO item") == true, String(describing: error))
        }
        XCTAssertThrowsError(try db.inTransaction {
            try db.send("INSERT INTO item(id, name) VALUES ($1, $2)", [2, "twice"])
        }, "the transaction's end reads the last statement sent") { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "23505")
        }
        XCTAssertEqual(try db.query("SELECT name FROM item ORDER BY id").map { try $0.string("name") }, ["ann", "bob"])
        try db.send("INSERT INTO item(id, name) VALUES ($1, $2)", [4, "dave"])
        try db.finishSent()
        XCTAssertEqual(try db.first("SELECT name FROM item WHERE id = 4")?.string("name"), "dave")
    }

    /// A sent statement that lost a race (deadlock, serialization failure) is not "retryable"
    /// for whoever reads its error: that caller would run its own statement again and go on, and
    /// the sent statement's write would be lost without a word.
    func testASentStatementThatLostARaceIsAPlainErrorForTheStatementThatReadsIt() throws {
        try db.executeScript("""
            CREATE FUNCTION lose_a_race() RETURNS void LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'deadlock detected' USING ERRCODE = 'deadlock_detected'; END $$
            """)
        XCTAssertThrowsError(try db.execute("SELECT lose_a_race()")) { error in
            XCTAssertEqual((error as? PostgresError)?.kind, .retryable, "run by itself, it is retryable")
        }
        try db.send("SELECT lose_a_race()", [])
        XCTAssertThrowsError(try db.first("SELECT 1 AS one")) { error in
            let error = error as? PostgresError
            XCTAssertEqual(error?.sqlState, "40P01")
            XCTAssertEqual(error?.kind, .other, "not taken for the statement that read it losing a race")
        }
    }

    func testABadConnectionStringFailsOnOneLineWithoutThePassword() throws {
        let server = try TestPostgres.server()
        let cases: [(connectionString: String, kind: StorageErrorKind, shows: String)] = [
            // libpq quotes a URI it cannot parse whole, password and all.
            ("postgresql://ann:s3cret-Pw0rd@[::1/eventfilter", .other, "postgresql://ann:***@[::1/eventfilter"),
            ("host=\(server.directory.path) user=ann password=s3cret-Pw0rd nonsense=1", .other, #"invalid connection option "nonsense""#),
            ("host=/nonexistent-directory user=ann password='s3cret-Pw0rd' dbname=eventfilter", .connectionLost,
             "cannot connect to host=/nonexistent-directory user=ann password=*** dbname=eventfilter: connection to server on socket"),
        ]
        for (connectionString, kind, shows) in cases {
            XCTAssertThrowsError(try PostgresConnection(connectionString), connectionString) { error in
                let text = "\(error)"
                XCTAssertEqual((error as? PostgresError)?.kind, kind, text)
                XCTAssertFalse(text.contains("s3cret-Pw0rd"), text)
                XCTAssertFalse(text.contains("\n"), text)
                XCTAssertTrue(text.contains(shows), text)
            }
        }
    }

    func testAWrongPasswordIsRefusedByTheServerWithoutShowingIt() throws {
        let server = try TestPostgres.server()
        let role = TestPostgres.passwordRole
        // Roles belong to the whole server; make this one's password known whatever ran before.
        let admin = try PostgresConnection(server.connectionString(database: "postgres"))
        try admin.executeScript("DROP ROLE IF EXISTS \(role); CREATE ROLE \(role) LOGIN PASSWORD 'right-Pw0rd'")
        defer { try? admin.executeScript("DROP ROLE IF EXISTS \(role)") }

        let target = server.connectionString(database: database.name, user: role)
        XCTAssertThrowsError(try PostgresConnection(target + " password=wrong-Pw0rd-secret")) { error in
            let text = "\(error)"
            XCTAssertEqual(text, "PostgreSQL error: cannot connect to \(target) password=***: connection to server on socket \"\(server.directory.path)/.s.PGSQL.5432\" failed: FATAL: password authentication failed for user \"\(role)\"")
        }
        do {
            let db = try PostgresConnection(target + " password=right-Pw0rd")
            XCTAssertEqual(try db.first("SELECT current_user AS name")?.string("name"), role)
        }
    }

    func testAConnectionTheServerEndedReportsConnectionLost() throws {
        let other = try database.connect()
        XCTAssertEqual(try other.first("SELECT pg_terminate_backend($1) AS done", [Int(db.backendPID)])?.bool("done"), true)
        XCTAssertThrowsError(try db.execute("SELECT 1 AS one")) { error in
            XCTAssertEqual((error as? PostgresError)?.kind, .connectionLost, "\(error)")
            XCTAssertFalse("\(error)".contains("\n"))
        }
        XCTAssertFalse(db.isConnected)
    }
}
