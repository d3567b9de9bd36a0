import Foundation

/// `eventfilter event import`: JSON lines into the store, all or nothing.
///
/// The whole input is read and every line checked before the write lock is taken, so a slow
/// or endless producer (a pipe from another program) never holds up `ingest`, `cgi` or the run,
/// and a bad line stores nothing without ever locking the store. Then one transaction stores
/// everything, 500 events to a statement (`Store.insertEvents`): 100,000 lines commit once.
///
///     let result = try EventImporter(store: store, now: now).importLines(from: FileHandle.standardInput)
public struct EventImporter {
    public let store: Store
    public let now: Int64

    public init(store: Store, now: Int64) {
        self.store = store
        self.now = now
    }

    /// The keys a line may have.
    static let keys = ["type", "params", "not_before", "key"]

    public struct Result: Sendable, Equatable {
        public var added = 0
        public var duplicates = 0
    }

    public func importLines(from handle: FileHandle) throws -> Result {
        var checked: [EventBatchStore.Row] = []  // kept compact (params as JSON text) until the transaction
        var lineNumber = 0
        var pending: [UInt8] = []
        func consume(_ line: ArraySlice<UInt8>) throws {
            lineNumber += 1
            if let event = try check(Array(line), number: lineNumber) { checked.append(event) }
        }
        // Read in chunks; only the checked events are kept, not the text.
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            pending.append(contentsOf: chunk)
            var start = pending.startIndex
            while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                try consume(pending[start..<newline])
                start = newline + 1
            }
            pending.removeSubrange(..<start)
        }
        if !pending.isEmpty { try consume(pending[...]) }

        var result = Result()
        guard !checked.isEmpty else { return result }
        let counts = try store.insertEvents(checked, now: now)
        result.added = counts.added
        result.duplicates = counts.duplicates
        return result
    }

    private func check(_ line: [UInt8], number: Int) throws -> EventBatchStore.Row? {
        guard line.contains(where: { $0 != 32 && $0 != 9 && $0 != 13 }) else { return nil }
        func fail(_ message: String) -> EventFilterError { .usage("line \(number): \(message)") }
        guard String(validating: line, as: UTF8.self) != nil else { throw fail("not valid UTF-8") }
        let value: JSONValue
        do { value = try JSONValue.parse(line) } catch { throw fail("\(error)") }
        guard let object = value.objectValue else { throw fail("expected a JSON object") }
        // A mistyped key ("notbefore") would otherwise be dropped and the event sent at once.
        if let unknown = object.keys.sorted().first(where: { !Self.keys.contains($0) }) {
            throw fail("unknown key \(JSONValue.string(String(unknown.prefix(60))).serialized) (expected \(Self.keys.joined(separator: ", ")))")
        }
        guard let type = value["type"]?.stringValue else { throw fail("needs \"type\"") }
        let params = value["params"] ?? .object([:])
        var notBefore: Int64?
        if let text = value["not_before"], text != .null {
            guard let string = text.stringValue else { throw fail("not_before must be an ISO 8601 string") }
            do { notBefore = try Timestamp.parse(string) } catch { throw fail("\(error)") }
        }
        var key: String?
        if let text = value["key"], text != .null {
            guard case .string(let string) = text else { throw fail("key must be a string") }
            key = string
        }
        let serialized = params.serialized
        do {
            try EventInputLimits.check(params: params, serialized: serialized, key: key)
            try Store.validateEvent(type: type, params: params)
        } catch let error as EventFilterError {
            throw fail(error.description)
        }
        return EventBatchStore.Row(type: type, serializedParams: serialized, notBefore: notBefore, dedupeKey: key)
    }
}
