import Foundation
import XCTest

/// The test suite's own store helpers (`rows`, `dump`, `execute`, `breakWrites`) on the backend
/// of this run: every end-to-end test's "nothing changed" rests on them.
final class TestRootStoreTests: XCTestCase {
    private func rootWithATable() throws -> TestRoot {
        let root = try TestRoot()
        if root.postgres == nil {
            try FileManager.default.createDirectory(at: root.url.appendingPathComponent("var"), withIntermediateDirectories: true)
        }
        try root.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, note TEXT)")
        return root
    }

    func testRowsGiveEveryValueAsTextWithNullAndSeparatorsInValues() throws {
        let root = try rootWithATable()
        try root.execute("INSERT INTO item (id, name, note) VALUES (2, 'b | c', NULL), (1, 'line one\nline two', '')")
        XCTAssertEqual(try root.rows("SELECT id, name, note FROM item ORDER BY id"),
                       [["1", "line one\nline two", ""], ["2", "b | c", TestRoot.null]])
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM item"), 2)
        XCTAssertEqual(try root.scalar("SELECT id FROM item WHERE id = 3"), -1, "no row")
        XCTAssertEqual(try root.text("SELECT name FROM item WHERE id = 2"), "b | c")
        XCTAssertThrowsError(try root.rows("SELECT nothing FROM item"), "a bad query is an error, not an empty answer")
    }

    func testTheDumpIsCanonicalAndSeesEveryChange() throws {
        let root = try TestRoot()
        XCTAssertEqual(try root.dump(), "no store")
        let table = try rootWithATable()
        try table.execute("INSERT INTO item (id, name) VALUES (2, 'b'), (1, 'a')")
        let before = try table.dump()
        XCTAssertEqual(before, "item(id, name, note)\n  1 | a | NULL\n  2 | b | NULL\n")
        try table.execute("UPDATE item SET note = 'x' WHERE id = 2")
        XCTAssertNotEqual(try table.dump(), before)
        try table.execute("UPDATE item SET note = NULL WHERE id = 2")
        XCTAssertEqual(try table.dump(), before, "the same rows, the same dump")
        XCTAssertEqual(try table.dump(except: ["item"]), "no store")
    }

    func testBrokenWritesFailUntilRepaired() throws {
        let root = try rootWithATable()
        try root.breakWrites("INSERT", on: "item", when: "NEW.name = 'bad'")
        try root.execute("INSERT INTO item (id, name) VALUES (1, 'good')")
        XCTAssertThrowsError(try root.execute("INSERT INTO item (id, name) VALUES (2, 'bad')")) { error in
            XCTAssertTrue("\(error)".contains("disk full (test)"), "\(error)")
        }
        try root.repairWrites(on: "item")
        try root.execute("INSERT INTO item (id, name) VALUES (2, 'bad')")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM item"), 2)
    }

    func testEveryCommandIsPointedAtTheTestsOwnStore() throws {
        let root = try TestRoot()
        if let postgres = root.postgres {
            XCTAssertEqual(root.environment, ["EVENTFILTER_DATABASE": postgres.connectionString])
            let settings = try String(contentsOf: root.url.appendingPathComponent("settings/override/site.ini.append"), encoding: .utf8)
            XCTAssertTrue(settings.contains("Backend=postgresql\nConnectionString=\(postgres.connectionString)\n"), settings)
        } else {
            XCTAssertEqual(root.environment, [:])
            XCTAssertFalse(FileManager.default.fileExists(atPath: root.url.appendingPathComponent("settings/override/site.ini.append").path))
        }
    }
}
