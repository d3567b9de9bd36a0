import Foundation

/// `eventfilter backup FILE`: a consistent copy of the store taken with SQLite's online backup API
/// while runs and intake keep writing; of a PostgreSQL store, one snapshot written as a new
/// SQLite store file (the same kind of file, which `db copy --to` loads into PostgreSQL again).
///
///     try store.backup(to: "/backups/eventfilter-2026-05-04.db")
///
/// Copying `var/eventfilter.db` with `cp` is not safe: in WAL mode, committed transactions live in
/// `eventfilter.db-wal` until a checkpoint moves them into the main file, so the main file alone
/// misses them, and a copy taken during a checkpoint mixes old and new pages. The backup API
/// reads one snapshot inside a read transaction (WAL lets writers go on meanwhile) and writes it
/// to a file of its own.
extension Store {
    /// How long to keep retrying while the source is locked (a schema change or a checkpoint
    /// holding it), in 50 ms steps: 10 s, as long as the store's own busy timeout.
    private static let backupAttempts = 200

    /// Copies the whole store to `destination`, which must not exist yet. The copy is written next
    /// to it under a temporary name and renamed into place only when complete, so `destination`
    /// is never a partial file; it is a stand-alone database (rollback journal, no `-wal`).
    /// Returns the copy's size in bytes.
    @discardableResult
    public func backup(to destination: String) throws -> Int {
        let file = URL(fileURLWithPath: destination)
        let directory = file.deletingLastPathComponent()
        guard !FileManager.default.fileExists(atPath: file.path) else {
            throw EventFilterError.failure("\(destination) already exists; back up to a new file")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw EventFilterError.failure("\(directory.path) is not a directory")
        }
        if let postgres = db as? PostgresDatabase {
            // A PostgreSQL store's backup is the same kind of file as an SQLite store's: one
            // snapshot (REPEATABLE READ) written as a new SQLite store, built under a temporary
            // name and linked into place when complete; `db copy --to` brings it back.
            _ = try StoreCopy.postgreSQLToSQLite(from: postgres, path: destination)
            let attributes = try? FileManager.default.attributesOfItem(atPath: file.path)
            return (attributes?[.size] as? NSNumber)?.intValue ?? 0
        }
        guard let db = db as? Database else { throw EventFilterError.failure("this store's backend cannot be backed up") }
        let temporary = directory.appendingPathComponent(".\(file.lastPathComponent).partial-\(getpid())").path
        defer { for suffix in ["", "-journal", "-wal", "-shm"] { unlink(temporary + suffix) } }

        // Acceptances a delivery recorded and no settle has marked sent yet live beside the store
        // (`AcceptanceLog`): read before the snapshot, so one settled meanwhile is in either, and
        // written into the copy as rows its next run settles. The copy does not keep the store's
        // id for that log (see `acceptanceLog(recording:)`).
        let unsettled = try acceptanceLog(recording: false)?.entries() ?? []
        try db.backup(into: temporary, naming: destination, attempts: Self.backupAttempts)
        do {
            let copy = try Database(path: temporary, mode: .readWrite, writeAheadLog: false)
            try copy.inTransaction { try Self.carryingAcceptances(unsettled, into: copy) }
        }
        let descriptor = open(temporary, O_RDONLY | O_CLOEXEC)
        if descriptor >= 0 { fsync(descriptor); close(descriptor) }
        guard link(temporary, file.path) == 0 else {
            // link, not rename: it refuses to replace a file that appeared meanwhile.
            throw EventFilterError.failure("cannot create \(destination): \(String(cString: strerror(errno)))")
        }
        let directoryDescriptor = open(directory.path, O_RDONLY | O_CLOEXEC)
        if directoryDescriptor >= 0 { fsync(directoryDescriptor); close(directoryDescriptor) }
        let attributes = try? FileManager.default.attributesOfItem(atPath: file.path)
        return (attributes?[.size] as? NSNumber)?.intValue ?? 0
    }
}
