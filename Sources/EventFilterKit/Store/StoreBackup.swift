import CSQLite
import Foundation

/// `eventfilter backup FILE`: a consistent copy of the store taken with SQLite's online backup API
/// while runs and intake keep writing.
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
        guard let db = db as? Database else {
            throw EventFilterError.failure("backup copies an SQLite store; back up a PostgreSQL store with pg_dump")
        }
        let file = URL(fileURLWithPath: destination)
        let directory = file.deletingLastPathComponent()
        guard !FileManager.default.fileExists(atPath: file.path) else {
            throw EventFilterError.failure("\(destination) already exists; back up to a new file")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw EventFilterError.failure("\(directory.path) is not a directory")
        }
        let temporary = directory.appendingPathComponent(".\(file.lastPathComponent).partial-\(getpid())").path
        defer { for suffix in ["", "-journal", "-wal", "-shm"] { unlink(temporary + suffix) } }

        var target: OpaquePointer?
        guard sqlite3_open_v2(temporary, &target, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil) == SQLITE_OK, let target else {
            let reason = target.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(target)
            throw EventFilterError.failure("cannot create \(destination): \(reason)")
        }
        defer { sqlite3_close_v2(target) }
        guard let backup = sqlite3_backup_init(target, "main", db.handle, "main") else {
            throw EventFilterError.failure("cannot back up to \(destination): \(String(cString: sqlite3_errmsg(target)))")
        }
        // All pages in one step: one read transaction, so one snapshot. Stepping in parts would
        // restart whenever another process commits, and a busy store might never finish.
        var rc: Int32 = SQLITE_OK
        for _ in 0..<Self.backupAttempts {
            rc = sqlite3_backup_step(backup, -1)
            guard rc == SQLITE_BUSY || rc == SQLITE_LOCKED else { break }
            sqlite3_sleep(50)
        }
        sqlite3_backup_finish(backup)
        guard rc == SQLITE_DONE else {
            throw EventFilterError.failure("backup to \(destination) failed: \(String(cString: sqlite3_errstr(rc)))")
        }
        // The copy is one self-contained file: no WAL to carry along or to forget.
        guard sqlite3_exec(target, "PRAGMA journal_mode = DELETE", nil, nil, nil) == SQLITE_OK else {
            throw EventFilterError.failure("backup to \(destination) failed: \(String(cString: sqlite3_errmsg(target)))")
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
