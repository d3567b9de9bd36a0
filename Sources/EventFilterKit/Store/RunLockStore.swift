/// The run's lock on PostgreSQL: a session advisory lock held by the run's own connection, so
/// two runs on one database (from any machine) never filter the same events or deliver the same
/// message at once. The server releases it when the connection ends, however the run ends
/// (a kill -9 closes the socket). SQLite runs use `RunLock`'s file lock instead.
extension Store {
    /// The advisory lock key of a run: "EvRn" in ASCII, apart from the migrations' "EvFl".
    static let runLockKey: Int64 = 0x4576_526E

    /// Takes the run's lock on PostgreSQL; false when another connection holds it. On SQLite
    /// there is no such lock and it returns true (`RunLock` locks a file there).
    func tryLockRun() throws -> Bool {
        guard db.dialect == .postgresql else { return true }
        return try db.first("SELECT CASE WHEN pg_try_advisory_lock(CAST(? AS bigint)) THEN 1 ELSE 0 END AS taken", [Self.runLockKey]) {
            try $0.int("taken") != 0
        } ?? false
    }

    /// Gives the run's lock back before the connection ends.
    func unlockRun() throws {
        guard db.dialect == .postgresql else { return }
        _ = try db.first("SELECT pg_advisory_unlock(CAST(? AS bigint)) AS released", [Self.runLockKey]) { _ in () }
    }
}
