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
