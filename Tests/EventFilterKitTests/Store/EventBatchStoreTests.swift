import XCTest
@testable import EventFilterKit

/// `Store.insertEvents` (what `event import` stores with) leaves the store exactly as `addEvent`
/// called for each row in turn would, on the suite's backend: the same events in the same id
/// order, the same keys pointing at the same events, the same duplicates refused.
final class EventBatchStoreTests: XCTestCase {
    /// 1,203 rows, so that statements of 500 rows meet keys repeated across their boundaries;
    /// some keys stored before the batch, some repeated within it, some rows without a key.
    /// Without keys (PostgreSQL copies those in with COPY), the params carry what COPY's text
    /// format escapes: backslashes, and a tab, a newline and a carriage return (as JSON's space).
    private func rows(keyed: Bool = true) -> [EventBatchStore.Row] {
        (0..<1203).map { index in
            guard keyed else {
                return EventBatchStore.Row(type: "ezpublish", serializedParams: #"{"name":"a\"b\\c\u00e9 é|\\N",\#t"x":1,\#n"y":2,\#r"node_id":"\#(index)"}"#,
                                           notBefore: index % 5 == 0 ? 1_780_400_000 : nil, dedupeKey: nil)
            }
            let key: String? = switch index % 4 {
            case 0: nil
            case 1: "fresh:\(index)"
            case 2: "stored:\(index % 40)"       // stored before the batch for index % 40 < 10
            default: "repeat:\(index % 300)"     // each seen several times, far apart
            }
            return EventBatchStore.Row(type: "ezpublish", serializedParams: #"{"node_id":"\#(index)","path":"/1/2/\#(index)/"}"#,
                                       notBefore: index % 7 == 0 ? 1_780_400_000 + Int64(index) : nil, dedupeKey: key)
        }
    }

    /// Events in id order, and what each key points at, by the params of its event.
    private func contents(of store: Store) throws -> (events: [String], keys: [String]) {
        let events = try store.db.map("SELECT type, params, created_at, not_before, dedupe_key FROM event ORDER BY id") {
            "\(try $0.string("type")) \(try $0.string("params")) \(try $0.int64("created_at")) \(try $0.optionalInt64("not_before") ?? -1) \(try $0.optionalString("dedupe_key") ?? "-")"
        }
        let keys = try store.db.map("""
            SELECT dedupe_key.key AS key, event.params AS params FROM dedupe_key LEFT JOIN event ON event.id = dedupe_key.event_id ORDER BY dedupe_key.key
            """) { "\(try $0.string("key")) -> \(try $0.optionalString("params") ?? "no event")" }
        return (events, keys)
    }

    private func storeBefore(_ store: Store, now: Int64) throws {
        for index in 0..<10 {
            try store.addEvent(type: "ezpublish", params: ["node_id": .string("old\(index)"), "path": "/1/2/"],
                               dedupeKey: "stored:\(index)", now: now - 3600)
        }
    }

    func testABatchLeavesTheStoreAsOneAddEventPerRowWould() throws {
        let batch = try RunFixture(), oneByOne = try RunFixture()
        try storeBefore(batch.store, now: batch.now)
        try storeBefore(oneByOne.store, now: oneByOne.now)

        let counts = try batch.store.insertEvents(rows(), now: batch.now)
        var expected = EventBatchStore.Counts()
        try oneByOne.store.inTransaction {
            for row in rows() {
                switch try oneByOne.store.insertEvent(type: row.type, serializedParams: row.serializedParams, notBefore: row.notBefore,
                                                      dedupeKey: row.dedupeKey, now: oneByOne.now) {
                case .added: expected.added += 1
                case .duplicate: expected.duplicates += 1
                }
            }
        }
        XCTAssertEqual(counts, expected)
        // 301 without a key, 301 fresh keys, 8 of the 10 "stored:" keys new, 75 "repeat:" keys.
        XCTAssertEqual(counts, EventBatchStore.Counts(added: 301 + 301 + 8 + 75, duplicates: 1203 - 685))
        let (events, keys) = try contents(of: batch.store)
        let (expectedEvents, expectedKeys) = try contents(of: oneByOne.store)
        XCTAssertEqual(events.count, 10 + 685)
        XCTAssertEqual(events, expectedEvents)
        XCTAssertEqual(keys, expectedKeys)
        XCTAssertFalse(keys.contains { $0.hasSuffix("no event") }, "every key points at its event")

        // The same batch again: all keyed rows are replays now; the keyless ones are stored again.
        let again = try batch.store.insertEvents(rows(), now: batch.now)
        XCTAssertEqual(again, EventBatchStore.Counts(added: 301, duplicates: 1203 - 301))
        XCTAssertEqual(try contents(of: batch.store).keys, expectedKeys, "a replay changes no key")
    }

    func testABatchWithoutKeysLeavesTheStoreAsOneAddEventPerRowWould() throws {
        let batch = try RunFixture(), oneByOne = try RunFixture()
        try storeBefore(batch.store, now: batch.now)
        try storeBefore(oneByOne.store, now: oneByOne.now)
        XCTAssertEqual(try batch.store.insertEvents(rows(keyed: false), now: batch.now), EventBatchStore.Counts(added: 1203, duplicates: 0))
        try oneByOne.store.inTransaction {
            for row in rows(keyed: false) {
                try oneByOne.store.insertEvent(type: row.type, serializedParams: row.serializedParams, notBefore: row.notBefore,
                                               dedupeKey: nil, now: oneByOne.now)
            }
        }
        let events = try contents(of: batch.store).events
        XCTAssertEqual(events.count, 10 + 1203)
        XCTAssertEqual(events, try contents(of: oneByOne.store).events)
        XCTAssertTrue(events[10].contains(#"é|\\N",\#t"x":1,\#n"y":2,\#r"node_id""#), events[10])
        // Ids in input order, after the ones stored before.
        let nodes = try batch.store.db.map("SELECT params FROM event ORDER BY id") { try $0.string("params") }.dropFirst(10)
        XCTAssertEqual(nodes.map { $0.hasSuffix(#""node_id":"\#(nodes.firstIndex(of: $0)! - 10)"}"#) }, Array(repeating: true, count: 1203))
    }

    /// A batch that fails part-way (PostgreSQL refuses the NUL in row 900's type; on SQLite the
    /// caller's transaction fails after the batch) leaves the store as it was.
    func testAFailedBatchStoresNothing() throws {
        for keyed in [true, false] {
            let run = try RunFixture()
            try storeBefore(run.store, now: run.now)
            let before = try contents(of: run.store)
            var bad = rows(keyed: keyed)
            bad[900].type = "xxx\u{0}"
            struct Stop: Error {}
            XCTAssertThrowsError(try run.store.inTransaction {
                _ = try run.store.insertEvents(bad, now: run.now)
                throw Stop()
            }) { error in
                if TestBackend.current == .postgresql { XCTAssertTrue("\(error)".contains("NUL character"), "\(error)") }
            }
            let after = try contents(of: run.store)
            XCTAssertEqual(after.events, before.events)
            XCTAssertEqual(after.keys, before.keys)
        }
    }
}
