import Foundation
import XCTest
@testable import EventFilterKit

/// `event import` in-process: JSON lines in, stored events out, against a temporary store on the
/// suite's backend. The whole input is checked before anything is stored.
final class EventImporterTests: XCTestCase {
    private func importing(_ text: String, into run: RunFixture) throws -> EventImporter.Result {
        let file = run.root.appendingPathComponent("import-\(UUID().uuidString).jsonl")
        try Data(text.utf8).write(to: file)
        let handle = try FileHandle(forReadingFrom: file)
        defer { try? handle.close() }
        return try EventImporter(store: run.store, now: run.now).importLines(from: handle)
    }

    func testLinesBecomeEventsWithTheirParamsNotBeforeAndKeysAndAReplayIsADuplicate() throws {
        let run = try RunFixture()
        let result = try importing("""
            {"type":"ezpublish","params":{"node_id":"60","path":"/1/2/60/","name":"News"},"key":"ez:60:1"}

            {"type":"ezpublish","params":{"node_id":"61","path":"/1/2/61/"},"not_before":"2026-06-02T08:00:00Z"}
            {"type":"ezpublish","params":{"node_id":"60","path":"/1/2/60/","name":"News again"},"key":"ez:60:1"}
            """, into: run)
        XCTAssertEqual(result, EventImporter.Result(added: 2, duplicates: 1))

        let stored = try run.store.listEvents(unhandledOnly: true).sorted { $0.event.id < $1.event.id }
        XCTAssertEqual(stored.map { $0.event.params["node_id"]?.stringValue }, ["60", "61"])
        XCTAssertEqual(stored[0].event.params["name"]?.stringValue, "News", "the replay changed nothing")
        XCTAssertEqual(stored[0].dedupeKey, "ez:60:1")
        XCTAssertNil(stored[0].event.notBefore)
        XCTAssertEqual(stored[1].event.notBefore, try Timestamp.parse("2026-06-02T08:00:00Z"))
        XCTAssertEqual(stored.map(\.event.createdAt), [run.now, run.now])
    }

    func testABadLineAnywhereStoresNothingAndNamesTheLine() throws {
        let run = try RunFixture()
        let good = #"{"type":"ezpublish","params":{"node_id":"60","path":"/1/2/60/"}}"#
        let cases: [(String, String)] = [
            (#"{"type":"ezpublish","params":{"node_id":"61"},"notbefore":"2026-06-02T08:00:00Z"}"#, "line 3: unknown key \"notbefore\""),
            (#"{"params":{"node_id":"61"}}"#, "line 3: needs \"type\""),
            (#"{"type":"ezpublish","not_before":"tomorrow"}"#, "line 3:"),
            ("[1, 2]", "line 3: expected a JSON object"),
        ]
        for (bad, message) in cases {
            XCTAssertThrowsError(try importing([good, good.replacingOccurrences(of: "60", with: "62"), bad].joined(separator: "\n"), into: run), bad) { error in
                XCTAssertTrue("\(error)".hasPrefix(message), "\(error)")
            }
            XCTAssertEqual(try run.store.listEvents(unhandledOnly: false).count, 0, "nothing stored for \(bad)")
        }
    }
}
