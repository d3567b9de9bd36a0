import CSQLite
import Foundation

/// The installation's store, created and migrated on first use: SQLite's `var/eventfilter.db`, or
/// a PostgreSQL database when site.ini's `[DatabaseSettings] Backend=postgresql` says so
/// (`StoreLocation`; `init(postgreSQL:access:)`). Its SQL runs on `db`, either backend.
///
///     let store = try Store(root: root)
///     let id = try store.addEvent(type: "ezpublish", params: ["node_id": "77"], now: now)
///     let report = try Store(root: root, access: .readOnly).status(now: now)   // writes nothing
///
/// Opening refuses, with one line and without writing a byte, a file that is not an eventfilter
/// store (another program's SQLite file, an empty file, not SQLite at all) and a store written by
/// a newer eventfilter. The file is marked as ours with `PRAGMA application_id`; a store made
/// before that mark existed is recognised by its tables and marked when opened for writing.
///
/// The table families live in extensions: events (`EventStore.swift`), users and rules
/// (`UserStore.swift`), status (`StatusReport.swift`), what intake knows of webhook senders' sessions
/// and media (`WebhookObjectStore.swift`); digest items and contents are written by the
/// run (`Handlers/ItemSink.swift`), the outbox in `OutboxStore.swift` (its delivery in
/// `Mail/Outbox.swift`). Code outside `Store/` groups store calls with `inTransaction`
/// (`StoreTransaction.swift`) and decides on a failure by its `StorageError.kind`, never by a
/// backend's codes.
public final class Store {
    /// What a command needs from the store.
    public enum Access: Sendable {
        /// Creates the store when missing and brings its schema up to date.
        case readWrite
        /// Never creates, migrates or writes anything, and works in a `var/` nobody may write.
        /// A missing store reads as an empty one.
        case readOnly
        /// An existing store as it is, through an ordinary connection (a consistent snapshot for
        /// `backup`): never created, migrated or marked, so a copy taken before an upgrade is the
        /// old store. A missing store is an error.
        case existing
    }

    /// The connection every query runs on (SQLite's `Database` or `PostgresDatabase`), internal:
    /// queries belong in `Store/`, whose methods answer in domain values.
    let db: any StoreDatabase

    /// This process's worker number on PostgreSQL, drawn on its first claim (`ClaimStore.swift`).
    var workerNumber: Int?

    /// Messages queued inside `batchingQueuedMessages` and not yet written (PostgreSQL only;
    /// nil outside such a unit, where each message is written at once).
    var messageBatch: [QueuedMessage]?

    /// Messages a unit held back (`batchingQueuedMessages(holding: true)`): sent to the server
    /// without waiting by `sendHeldMessages()`, written by `writeHeldMessages()` at the latest.
    var heldMessages: [QueuedMessage] = []

    /// Held messages sent in one pair of copies by `sendHeldMessages` (fewer wait for more, or
    /// for the transaction's end): each copy costs the server a start (its table and that
    /// table's indexes opened: five for the state rows, three for the messages); 100,000
    /// messages in copies of 1,000 took 1.99 s of its CPU, in copies of one event's 100 messages
    /// 2.07-2.76 s (a loaded machine).
    var heldMessagesPerCopy = 1_000

    /// Each path node's subtree readers, read once inside `cachingSubscribers` (nil outside it,
    /// where every lookup queries the store; `SubscriberStore.swift`).
    var subscriberCache: SubscriberCache?

    /// Events marked handled inside `deferringHandledMarks` and not yet written (nil outside it,
    /// where each mark is written at once; `EventStore.swift`).
    var deferredHandledMarks: [Int64]?

    /// Events locked and read ahead inside `readingAhead` (PostgreSQL): the ids asked about, and
    /// the not_before of each still waiting (an id asked about but not there is handled or gone).
    /// Nil outside it (`WebhookObjectStore.swift`).
    var lockedAhead: (asked: Set<Int64>, waiting: [Int64: Int64?])?

    /// Where this store's deliveries record acceptances on SQLite (`AcceptanceLog`, a file beside
    /// the store); nil on PostgreSQL, whose server records them for every host, and in memory.
    /// `recording`: the store's id for the log is drawn now if it has none yet (a delivery does
    /// this before its first record, outside any transaction); otherwise a store without one
    /// has no records and this is nil (an acceptance recorded then goes to `outbox_delivered`).
    ///
    /// The id is left out of every copy of the store (`backup`, `db copy`), which carry the
    /// records waiting as rows instead: a copy restored where the store was draws an id of its
    /// own, so records its original left beside the path (naming ids the copy hands out again)
    /// are never read as its own.
    func acceptanceLog(recording: Bool) throws -> AcceptanceLog? {
        if let openedAcceptanceLog { return openedAcceptanceLog }
        guard let sqlite = sqliteFile else { return nil }
        let name = Self.acceptanceLogKey
        if !recording, try db.scalarInt("SELECT count(*) FROM installation_secret WHERE name = ?", [name]) == 0 { return nil }
        let key = try installationKey(name)
        let log = AcceptanceLog(besideStoreAt: sqlite.file, storeID: key.prefix(8).reduce(0) { $0 << 8 | UInt64($1) })
        openedAcceptanceLog = log
        return log
    }

    /// The log `acceptanceLog(recording:)` opened, kept for the store's life.
    private var openedAcceptanceLog: AcceptanceLog?

    /// The `installation_secret` row holding the store's id for its acceptance log.
    static let acceptanceLogKey = "acceptance-log"

    /// The SQLite connection of a store kept in a file; nil in memory and on PostgreSQL.
    private var sqliteFile: Database? {
        guard let sqlite = db as? Database, !sqlite.file.isEmpty else { return nil }
        return sqlite
    }

    /// On SQLite, makes every committed transaction durable (the write-ahead log synced: with
    /// `synchronous=NORMAL` a commit reaches the disk at the next checkpoint), and returns the
    /// highest outbox id it covers; a delivery calls it before recording the acceptance of a
    /// message above that id. Nothing orders the acceptance log against the store's own writes,
    /// and after a power cut a record must never outlive the queueing of the message it names,
    /// or the id would be handed out again and the new message taken for sent. On PostgreSQL,
    /// whose commits are durable when they return, nothing to do.
    func syncCommitted() throws -> Int64 {
        guard let sqlite = sqliteFile else { return .max }
        // Every message up to this id was committed before the sync below starts.
        let through = Int64(try db.scalarInt("SELECT coalesce(max(id), 0) FROM outbox") ?? 0)
        let log = sqlite.walFile
        let descriptor = open(log, O_RDONLY | O_CLOEXEC)
        if descriptor < 0 {
            let code = errno
            // No write-ahead log (a store not in WAL mode): each commit synced the file itself.
            if code == ENOENT, try db.first("PRAGMA journal_mode", [], { try $0.string(0) }) != "wal" { return through }
            throw EventFilterError.failure("cannot open \(log) to sync it: \(String(cString: strerror(code)))")
        }
        defer { close(descriptor) }
        if fdatasync(descriptor) != 0 { throw EventFilterError.failure("cannot sync \(log): \(String(cString: strerror(errno)))") }
        return through
    }

    /// `PRAGMA application_id` of an eventfilter store: "EvFl" in ASCII.
    static let applicationID: Int32 = 0x4576_466C

    /// How long a writer waits for another process's write lock: `EVENTFILTER_BUSY_TIMEOUT_MS`,
    /// else 10 s.
    static var busyTimeout: Int32 {
        EnvironmentVariable.value("EVENTFILTER_BUSY_TIMEOUT_MS").flatMap { Int32($0) }.map { max($0, 0) } ?? 10_000
    }

    public init(path: String, access: Access = .readWrite) throws {
        switch access {
        case .readWrite, .existing:
            if !FileManager.default.fileExists(atPath: path) {
                guard access == .readWrite else { throw EventFilterError.failure("\(path) does not exist: there is no store yet") }
                try Self.create(at: path)
            }
            try Self.refuseEmptyFile(path)
            try Self.lookBeforeOpening(path)
            let db = try Self.notADatabaseIsNotAStore(path) {
                try Database(path: path, busyTimeout: Self.busyTimeout, mode: .readWrite, writeAheadLog: false)
            }
            let marked = try Self.checkIdentity(db, path: path)
            guard access == .readWrite else {
                self.db = db
                return
            }
            try db.useWriteAheadLog()
            if !marked { try db.execute("PRAGMA application_id = \(Self.applicationID)") }
            try Migrations.migrate(db)
            self.db = db
        case .readOnly:
            guard FileManager.default.fileExists(atPath: path) else {
                // Nothing stored yet: an empty store in memory answers every question with nothing.
                let db = try Database(path: ":memory:", mode: .create, writeAheadLog: false)
                try Migrations.migrate(db)
                self.db = db
                return
            }
            try Self.refuseEmptyFile(path)
            try Self.lookBeforeOpening(path)
            let db = try Self.notADatabaseIsNotAStore(path) { try Self.openReadOnly(path) }
            _ = try Self.checkIdentity(db, path: path)
            let version = try db.scalarInt("PRAGMA user_version") ?? 0
            guard version == Migrations.all.count else {
                throw EventFilterError.failure(
                    "\(path) has schema version \(version), this eventfilter needs \(Migrations.all.count): "
                    + "a writing command (such as 'eventfilter run') upgrades it")
            }
            self.db = db
        }
    }

    /// Opens the installation's store, where site.ini's `[DatabaseSettings]` says
    /// (`StoreLocation`): `<root>/var/eventfilter.db`, for writing creating `var/` when needed, or
    /// a PostgreSQL database.
    ///
    /// When site.ini cannot be read at all (a malformed line), a read-only command still reads
    /// `var/eventfilter.db`, so `status` can report the settings error with the queues; every
    /// other access refuses with that error rather than guess where the store is. `settings`: the
    /// installation's settings when the caller has read them already (else they are read here).
    public convenience init(root: URL, access: Access = .readWrite, settings: Settings? = nil) throws {
        let location: StoreLocation
        do {
            location = try StoreLocation.configured(settings: settings ?? Settings(root: root))
        } catch is SettingsError where access == .readOnly {
            location = .sqlite(path: StoreLocation.sqlitePath(root: root))
        }
        switch location {
        case .sqlite(let path):
            if access == .readWrite {
                try FileManager.default.createDirectory(at: root.appendingPathComponent("var"), withIntermediateDirectories: true)
            }
            try self.init(path: path, access: access)
        case .postgresql(let connectionString):
            try self.init(postgreSQL: connectionString, access: access)
        }
    }

    /// Opens the store in a PostgreSQL database. For writing, a database without tables becomes
    /// a store and an older store is migrated (`PostgresMigrations`); read-only access never
    /// writes, and reads a database without tables as an empty store.
    public init(postgreSQL connectionString: String, access: Access = .readWrite) throws {
        let db = try PostgresDatabase(connectionString: connectionString)
        switch access {
        case .readWrite:
            try PostgresMigrations.migrate(db)
        case .existing, .readOnly:
            guard let version = try PostgresMigrations.version(db) else {
                let tables = try PostgresMigrations.tables(db)
                guard tables.isEmpty else {
                    throw EventFilterError.failure(
                        "\(db.target) is not an eventfilter store: it has tables (\(tables.prefix(3).joined(separator: ", "))) but no eventfilter_schema")
                }
                guard access == .readOnly else { throw EventFilterError.failure("\(db.target) has no store yet") }
                // Nothing stored yet: an empty store in memory answers every question with nothing.
                let empty = try Database(path: ":memory:", mode: .create, writeAheadLog: false)
                try Migrations.migrate(empty)
                self.db = empty
                return
            }
            try PostgresMigrations.refuseNewer(version, db)
            guard access == .existing || version == PostgresMigrations.all.count else {
                throw EventFilterError.failure(
                    "\(db.target) has schema version \(version), this eventfilter needs \(PostgresMigrations.all.count): "
                    + "a writing command (such as 'eventfilter run') upgrades it")
            }
            if access == .readOnly {
                // The server then refuses any write this session might attempt.
                try db.execute("SET default_transaction_read_only = on")
            }
        }
        self.db = db
    }

    /// A second connection to the same store, for another thread to write on while this one's
    /// connection stays with its own thread (a connection is never shared between threads):
    /// SQLite's file opened again (WAL, the same busy timeout), or a new session with the same
    /// PostgreSQL server. Neither creates nor migrates anything: this store did that.
    ///
    ///     let beside = try store.openingAnotherConnection()   // then used by one other thread only
    func openingAnotherConnection() throws -> Store {
        if let sqlite = db as? Database {
            return Store(connection: try Database(path: sqlite.path, busyTimeout: Self.busyTimeout, mode: .readWrite))
        }
        if let postgres = db as? PostgresDatabase {
            return Store(connection: try PostgresDatabase(connectionString: postgres.connection.target.raw))
        }
        throw EventFilterError.failure("this store cannot open another connection")
    }

    private init(connection db: any StoreDatabase) {
        self.db = db
    }

    /// A first look that creates no `-wal` or `-shm` file and takes no lock (the file read as
    /// immutable), so a file that is not ours is refused exactly as it was. A store being written
    /// this moment may look inconsistent to it; then the real connection's check decides.
    private static func lookBeforeOpening(_ path: String) throws {
        do {
            _ = try checkIdentity(try notADatabaseIsNotAStore(path) { try Database(path: path, mode: .immutable) }, path: path)
        } catch is DatabaseError {
            return
        }
    }

    /// Whether the open file is an eventfilter store this binary can use; true when it already
    /// carries the application id. Only reads: the header, and the table list only for a file
    /// without the mark.
    private static func checkIdentity(_ db: Database, path: String) throws -> Bool {
        let (found, version) = try notADatabaseIsNotAStore(path) {
            (Int32(truncatingIfNeeded: try db.scalarInt("PRAGMA application_id") ?? 0), try db.scalarInt("PRAGMA user_version") ?? 0)
        }
        if found != applicationID && found != 0 {
            throw EventFilterError.failure(
                "\(path) is not an eventfilter store: it belongs to another program (application_id \(found))")
        }
        if found == 0 {
            let tables = try notADatabaseIsNotAStore(path) { Set(try db.map("PRAGMA main.table_list") { try $0.string("name") }) }
            guard version >= 1 && tables.isSuperset(of: ["event", "outbox", "dedupe_key", "user"]) else {
                throw EventFilterError.failure("\(path) is not an eventfilter store: an SQLite database without eventfilter's tables")
            }
        }
        // Every store is made complete (version 1 or more) before it is linked into place: a lower
        // version was not written by eventfilter, and migrating from it would read past the list.
        guard version >= 1 else {
            throw EventFilterError.failure(
                "\(path) is not an eventfilter store: schema version \(version), which eventfilter never writes")
        }
        guard version <= Migrations.all.count else {
            throw EventFilterError.failure(
                "\(path) has schema version \(version), newer than this eventfilter knows (\(Migrations.all.count)): "
                + "it was written by a newer version; use that one")
        }
        return found == applicationID
    }

    /// SQLite finds out that a file is not a database at its first read: that is the operator's
    /// one-line "not an eventfilter store", not an SQL error.
    private static func notADatabaseIsNotAStore<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as DatabaseError where error.code == SQLITE_NOTADB {
            throw EventFilterError.failure("\(path) is not an eventfilter store: not an SQLite database")
        }
    }

    /// An existing file of zero bytes is not a store: it may be another program's placeholder,
    /// and SQLite would silently make a new database of it.
    private static func refuseEmptyFile(_ path: String) throws {
        if fileSize(path) == 0 {
            throw EventFilterError.failure("\(path) is an empty file, not an eventfilter store; move it away to start a new store")
        }
    }

    /// The size of the file at `path` (symbolic links followed), nil when there is none. A plain
    /// stat: FileManager's attributes also look the owner and group up by name, reading
    /// /etc/passwd and /etc/group and asking nscd, on every start of every command.
    private static func fileSize(_ path: String) -> Int? {
        var status = stat()
        return stat(path, &status) == 0 ? Int(status.st_size) : nil
    }

    /// A new store is built under a temporary name and linked into place only when complete, so
    /// no reader ever sees a half-made file, a crash leaves no empty one, and of two processes
    /// creating it at once one wins and the other opens the winner's (link never replaces a file).
    private static func create(at path: String) throws {
        let temporary = path + ".new-\(getpid())-\(Crypto.hexEncode(Crypto.randomBytes(4)))"
        defer {
            for suffix in ["", "-wal", "-shm", "-journal"] { unlink(temporary + suffix) }
        }
        do {
            let db = try Database(path: temporary, busyTimeout: busyTimeout, mode: .create)
            try db.execute("PRAGMA application_id = \(applicationID)")
            try Migrations.migrate(db)
            try db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        }  // closed here: the file holds everything
        guard link(temporary, path) != 0, errno != EEXIST else { return }
        // A file system without hard links: rename, which could replace a store made this very
        // moment by another process, so only while there is still none.
        guard !FileManager.default.fileExists(atPath: path), rename(temporary, path) == 0 else {
            if FileManager.default.fileExists(atPath: path) { return }
            throw EventFilterError.failure("cannot create \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Read-only, even in a directory nobody may write: SQLite needs the WAL's `-shm` index to
    /// read a WAL-mode file, and cannot create it there; when no write-ahead log holds commits,
    /// the file alone is the whole store and is read as immutable.
    private static func openReadOnly(_ path: String) throws -> Database {
        do {
            // The first statement (even a PRAGMA at opening) may already need the `-shm` index.
            let db = try Database(path: path, busyTimeout: busyTimeout, mode: .readOnly)
            _ = try db.scalarInt("PRAGMA application_id")
            return db
        } catch let error as DatabaseError where [SQLITE_READONLY, SQLITE_CANTOPEN].contains(error.code) {
            let wal = fileSize(path + "-wal") ?? 0
            guard wal == 0 else {
                throw EventFilterError.failure(
                    "cannot read \(path): its write-ahead log has commits, and reading them needs write access to \((path as NSString).deletingLastPathComponent)")
            }
            return try Database(path: path, busyTimeout: busyTimeout, mode: .immutable)
        }
    }

}
