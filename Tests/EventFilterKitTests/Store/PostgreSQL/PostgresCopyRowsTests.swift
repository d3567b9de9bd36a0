import EventFilterKit
import Foundation
import XCTest

/// `PostgresCopyRows` sent with `copyIn` / `sendCopyIn` to a real PostgreSQL server
/// (`TestPostgres`), each test in a database of its own.
final class PostgresCopyRowsTests: XCTestCase {
    private var database: TestPostgresDatabase!
    private var db: PostgresConnection!
    private let copy = "COPY item(id, name, data, note) FROM STDIN (FORMAT binary)"

    override func setUpWithError() throws {
        database = try TestPostgres.server().makeDatabase()
        db = try database.connect()
        try db.executeScript("CREATE TABLE item (id bigint PRIMARY KEY, name text NOT NULL, data bytea NOT NULL, note text)")
    }

    override func tearDown() {
        db = nil
        database = nil
    }

    private func rows(_ values: [(Int64, String, [UInt8], String?)]) -> [UInt8] {
        var rows = PostgresCopyRows(columns: 4)
        for (id, name, data, note) in values {
            rows.append(bigint: id)
            rows.append(text: name)
            rows.append(bytea: data)
            if let note { rows.append(text: note) } else { rows.appendNull() }
        }
        return rows.finished()
    }

    private func stored() throws -> [(Int64, String, [UInt8], String?)] {
        try db.query("SELECT id, name, data, note FROM item ORDER BY id").map {
            (try $0.int64("id"), try $0.string("name"), try $0.bytes("data"), try $0.optionalString("note"))
        }
    }

    /// What COPY's text format would have to escape (tab, newline, carriage return, backslash,
    /// `\N`, `\.`), quotes, non-ASCII text, every byte value and the extreme integers read back
    /// exactly as sent, NULL as NULL and the empty text as empty, not NULL.
    func testHostileValuesReadBackExactly() throws {
        let allBytes = (0...255).map { UInt8($0) }
        let values: [(Int64, String, [UInt8], String?)] = [
            (Int64.min, "tab\there\nnew line\r\nback\\slash \\N \\. end", allBytes, nil),
            (0, "", [], ""),
            (Int64.max, #"O'Brien "quoted"; DROP TABLE item; -- Åse 🙂"#, Array(allBytes.reversed()), "\\N"),
            (7, "\\.", Array(repeating: 0x0A, count: 70_000), "note\twith\ttabs"),
        ]
        try db.copyIn(copy, data: rows(values))
        try db.sendCopyIn(copy, data: rows([(8, "sent", [0x00, 0x5C], "\n")]))
        let back = try stored()
        XCTAssertEqual(back.count, 5)
        for (got, want) in zip(back, (values + [(8, "sent", [0x00, 0x5C], "\n")]).sorted { $0.0 < $1.0 }) {
            XCTAssertEqual(got.0, want.0)
            XCTAssertEqual(got.1, want.1)
            XCTAssertEqual(got.2, want.2)
            XCTAssertEqual(got.3, want.3)
        }
        XCTAssertEqual(try db.first("SELECT count(*) AS n FROM item WHERE note IS NULL")?.int("n"), 1)
        XCTAssertEqual(try db.first("SELECT count(*) AS n FROM item WHERE note = ''")?.int("n"), 1)
    }

    /// A copy the server refuses part way (the third of four rows repeats a key), sent without
    /// waiting inside a transaction after a good one: the transaction throws the server's error,
    /// on one line and naming the COPY, and keeps nothing, the good copy's rows included; the
    /// connection then works as before.
    func testACopyRefusedMidwayKeepsNothingAndSaysWhy() throws {
        XCTAssertThrowsError(try db.inTransaction {
            try db.copyIn(copy, data: rows([(1, "ann", [1], nil)]))
            try db.sendCopyIn(copy, data: rows([(2, "bob", [2], nil), (3, "carol", [3], nil), (2, "again", [4], nil), (4, "dave", [5], nil)]))
        }) { error in
            let error = error as? PostgresError
            XCTAssertEqual(error?.sqlState, "23505")
            XCTAssertEqual(error?.kind, .other, "read by the transaction's end, not a unique violation of its own")
            let text = String(describing: error)
            XCTAssertFalse(text.contains("\n"), text)
            XCTAssertTrue(text.contains("COPY item"), text)
        }
        XCTAssertTrue(try stored().isEmpty)
        try db.copyIn(copy, data: rows([(1, "ann", [1], nil)]))
        XCTAssertEqual(try stored().map(\.1), ["ann"])
    }

    /// Text PostgreSQL cannot store (a NUL) and rows built for another number of columns are
    /// refused by the server with its own message; nothing of the copy is kept.
    func testValuesTheServerCannotTakeAreRefusedAndNothingIsKept() throws {
        XCTAssertThrowsError(try db.copyIn(copy, data: rows([(1, "ok", [], nil), (2, "nul\u{0}inside", [], nil)]))) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "22021", String(describing: error))  // invalid byte sequence
        }
        var short = PostgresCopyRows(columns: 2)
        short.append(bigint: 1)
        short.append(text: "two columns")
        XCTAssertThrowsError(try db.copyIn(copy, data: short.finished())) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "22P04", String(describing: error))  // bad copy file format
        }
        XCTAssertTrue(try stored().isEmpty)
        XCTAssertEqual(short.count, 1)
    }
}
