import Foundation

@testable import EventFilterKit

/// The SQL that makes writes to a table fail, as a full disk or a broken store would, on either
/// backend: a trigger named `broken` raising "disk full (test)". `TestRoot.breakWrites` runs it
/// through the command-line clients, `Store.breakWrites` on the store's own connection.
///
///     try store.breakWrites("INSERT", on: "outbox_delivered", when: "NEW.outbox_id = 10")
///     XCTAssertThrowsError(try deliver()) { XCTAssertTrue("\($0)".contains(BrokenWrites.message)) }
///     try store.repairWrites(on: "outbox_delivered")
enum BrokenWrites {
    static let message = "disk full (test)"

    /// Every `operation` (`INSERT`, `UPDATE`) on `table` fails, for the rows matching
    /// `condition` (SQL on `NEW`) if given.
    static func breaking(_ operation: String, on table: String, when condition: String?, postgres: Bool) -> String {
        if postgres {
            return """
                CREATE FUNCTION broken() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '\(message)'; END $$;
                CREATE TRIGGER broken BEFORE \(operation) ON \(table) FOR EACH ROW\(condition.map { " WHEN (\($0))" } ?? "") EXECUTE FUNCTION broken();
                """
        }
        return "CREATE TRIGGER broken BEFORE \(operation) ON \(table)\(condition.map { " WHEN \($0)" } ?? "") BEGIN SELECT RAISE(ABORT, '\(message)'); END"
    }

    /// Removes what `breaking` made.
    static func repairing(on table: String, postgres: Bool) -> String {
        postgres ? "DROP TRIGGER broken ON \(table); DROP FUNCTION broken();" : "DROP TRIGGER broken"
    }
}

extension Store {
    /// `TestRoot.breakWrites` on this store's own connection.
    func breakWrites(_ operation: String, on table: String, when condition: String? = nil) throws {
        try db.execute(BrokenWrites.breaking(operation, on: table, when: condition, postgres: db.dialect == .postgresql))
    }

    /// Removes what `breakWrites` made.
    func repairWrites(on table: String) throws {
        try db.execute(BrokenWrites.repairing(on: table, postgres: db.dialect == .postgresql))
    }
}

extension Store {
    /// The messages whose acceptance is recorded and not yet settled into their outbox rows: the
    /// rows of `outbox_delivered` and, on SQLite, the records of the acceptance log.
    func unsettledAcceptances() throws -> Set<Int64> {
        var ids = Set(try db.map("SELECT outbox_id FROM outbox_delivered", []) { try $0.int64("outbox_id") })
        for entry in try acceptanceLog(recording: false)?.entries() ?? [] { ids.insert(entry.id) }
        return ids
    }

    /// `unsettledAcceptances()` of the SQLite store at `path`, read on a connection of its own
    /// (from a thread other than the store's).
    static func unsettledAcceptances(inSQLiteStoreAt path: String) throws -> Set<Int64> {
        try Store(path: path, access: .readOnly).unsettledAcceptances()
    }

    /// Recording an acceptance fails as on a full disk: on PostgreSQL for the rows of
    /// `outbox_delivered` matching `condition` (a trigger); on SQLite every record, from the
    /// first, since the acceptance log's file is then `/dev/full` (where a write fails with
    /// ENOSPC, and which reads as empty).
    func breakAcceptances(when condition: String) throws {
        guard let log = try acceptanceLog(recording: true) else { return try breakWrites("INSERT", on: "outbox_delivered", when: condition) }
        try? FileManager.default.removeItem(atPath: log.path)
        try FileManager.default.createSymbolicLink(atPath: log.path, withDestinationPath: "/dev/full")
    }

    /// Removes what `breakAcceptances` made.
    func repairAcceptances() throws {
        guard let log = try acceptanceLog(recording: true) else { return try repairWrites(on: "outbox_delivered") }
        try FileManager.default.removeItem(atPath: log.path)
    }

    /// What the error of a record `breakAcceptances` refused says.
    var refusedAcceptance: String { db.dialect == .postgresql ? BrokenWrites.message : String(cString: strerror(ENOSPC)) }
}
