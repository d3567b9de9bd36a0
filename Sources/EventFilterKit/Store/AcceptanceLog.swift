import Foundation

/// The acceptances of an SQLite store's deliveries, appended to a file beside the store
/// (`eventfilter.db-accepted`) until the outbox rows are marked sent (`settleDeliveredMail`).
///
/// An acceptance must be in the store before its place in the SMTP window frees (see
/// `SMTPDeliveryRun`), so recording it is the hot path of delivery. A commit of one row costs
/// SQLite about 30 us and six `fcntl` locks while every place waits on it; one `write(2)` to
/// this file is one system call. Both survive the process being killed the moment the call
/// returns (the bytes are the kernel's), and neither is synced to the disk: the store commits
/// with `synchronous=NORMAL`, where a commit reaches the disk at the next checkpoint, so a
/// power cut can undo either, and the message is then sent again, never lost.
///
/// Records are self-checking (length, fields, checksum): a record torn by a full disk or a
/// power cut is skipped, and so is anything that is not a record, so a damaged stretch costs
/// only the acceptances written in it (those messages are sent again). Each record also names
/// its store (`storeID`, drawn once per store and kept in it, but not in a copy or a backup,
/// which draw their own): records left beside a path that now holds another store (moved away,
/// a copy restored in its place) are not read as that store's, whose ids name other messages.
/// And before a message's acceptance is recorded its queueing is made durable
/// (`Store.syncCommitted`), so a power cut never leaves a record naming an id that is handed
/// out again. Only one delivery runs at a time on an SQLite store (the run lock), and it settles
/// only while none of its threads records, so nothing is appended between the read and the
/// truncation of `settle`.
///
///     let log = AcceptanceLog(besideStoreAt: "/srv/ef/var/eventfilter.db", storeID: 0x1F2E_3D4C_5B6A_7988)
///     try log.append([(id: 7, reply: "250 2.0.0 Ok: queued as 4F2A1")], sentAt: now)
///     let waiting = try log.entries()   // marked sent in the store, then:
///     try log.clear()
final class AcceptanceLog {
    struct Entry: Equatable {
        let id: Int64
        let sentAt: Int64
        let reply: String
    }

    let path: String
    /// The store these records belong to; records naming another are skipped.
    let storeID: UInt64
    let storePath: String
    /// Opened for appending at the first `append`, kept until this log is released.
    private var descriptor: Int32 = -1

    init(besideStoreAt storePath: String, storeID: UInt64) {
        self.storePath = storePath
        self.storeID = storeID
        path = storePath + "-accepted"
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    /// Appends `rows` in one `write(2)`; when it returns, the acceptances are recorded.
    func append(_ rows: some Collection<(id: Int64, reply: String)>, sentAt: Int64) throws {
        guard !rows.isEmpty else { return }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(rows.count * 64)
        for row in rows { Self.encode(storeID: storeID, id: row.id, sentAt: sentAt, reply: row.reply, into: &bytes) }
        if descriptor < 0 { descriptor = try openForAppending() }
        try bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 && errno == EINTR { continue }
                // A write that takes nothing (and sets no error) would otherwise be tried forever.
                if written <= 0 { throw AcceptanceLogError(path: path, action: "record an acceptance in", code: written < 0 ? errno : EIO) }
                offset += written
            }
        }
    }

    /// Every record of this store in the file, in the order written; empty when there is no file.
    func entries() throws -> [Entry] {
        let reading = open(path, O_RDONLY | O_CLOEXEC)
        if reading < 0 {
            if errno == ENOENT { return [] }
            throw AcceptanceLogError(path: path, action: "read", code: errno)
        }
        defer { close(reading) }
        // As many bytes as the file had when opened: what is appended meanwhile waits for the next read.
        var bytes = [UInt8](repeating: 0, count: try size(of: reading, doing: "read"))
        var filled = 0
        while filled < bytes.count {
            let count = bytes.withUnsafeMutableBytes { read(reading, $0.baseAddress! + filled, $0.count - filled) }
            if count < 0 {
                if errno == EINTR { continue }
                throw AcceptanceLogError(path: path, action: "read", code: errno)
            }
            if count == 0 { break }
            filled += count
        }
        return Self.decode(Array(bytes[..<filled])).filter { $0.storeID == storeID }.map(\.entry)
    }

    /// Empties the file (once its acceptances are marked sent in the store); nothing to do when
    /// it is missing or empty.
    func clear() throws {
        let writing = open(path, O_WRONLY | O_CLOEXEC)
        if writing < 0 {
            if errno == ENOENT { return }
            throw AcceptanceLogError(path: path, action: "empty", code: errno)
        }
        defer { close(writing) }
        guard try size(of: writing, doing: "empty") > 0 else { return }
        if ftruncate(writing, 0) != 0 { throw AcceptanceLogError(path: path, action: "empty", code: errno) }
    }

    /// The size of the open file `descriptor`: 0 for anything but a regular file.
    private func size(of descriptor: Int32, doing action: String) throws -> Int {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw AcceptanceLogError(path: path, action: action, code: errno) }
        return status.st_mode & S_IFMT == S_IFREG ? Int(status.st_size) : 0
    }

    /// Opens the file, creating it with the store file's permissions and, when run as root, its
    /// owner (as SQLite creates its `-wal` and `-shm` files), so whoever may write the store may
    /// record in it: a `mail flush` run by root must not leave a file the cron user cannot write.
    private func openForAppending() throws -> Int32 {
        var store = stat()
        let found = stat(storePath, &store) == 0
        let opened = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, found ? mode_t(store.st_mode & 0o777) : 0o644)
        if opened < 0 { throw AcceptanceLogError(path: path, action: "open", code: errno) }
        if found && geteuid() == 0 && fchown(opened, store.st_uid, store.st_gid) != 0 {
            let code = errno
            close(opened)
            throw AcceptanceLogError(path: path, action: "set the owner of", code: code)
        }
        return opened
    }

    // MARK: Records

    /// A record: the length of what follows up to the checksum (4 bytes), the store's id, the
    /// message id and the time (8 each), the reply's UTF-8, then a checksum of everything before
    /// it (4), all little-endian.
    static func encode(storeID: UInt64, id: Int64, sentAt: Int64, reply: String, into bytes: inout [UInt8]) {
        let start = bytes.count
        let text = reply.utf8.prefix(maximumReply)
        append(UInt32(fixedLength + text.count), to: &bytes)
        append(storeID, to: &bytes)
        append(UInt64(bitPattern: id), to: &bytes)
        append(UInt64(bitPattern: sentAt), to: &bytes)
        bytes += text
        append(checksum(bytes[start...]), to: &bytes)
    }

    /// The records in `bytes`; where one does not check out (torn, or not a record), the next
    /// byte is tried, so what follows a damaged stretch is still read.
    static func decode(_ bytes: [UInt8]) -> [(storeID: UInt64, entry: Entry)] {
        var records: [(storeID: UInt64, entry: Entry)] = []
        var offset = 0
        while offset + 4 + fixedLength + 4 <= bytes.count {
            let length = Int(integer(UInt32.self, in: bytes, at: offset))
            let end = offset + 4 + length
            guard length >= fixedLength, length <= fixedLength + maximumReply, end + 4 <= bytes.count,
                  integer(UInt32.self, in: bytes, at: end) == checksum(bytes[offset..<end]) else {
                offset += 1
                continue
            }
            let entry = Entry(id: Int64(bitPattern: integer(UInt64.self, in: bytes, at: offset + 12)),
                              sentAt: Int64(bitPattern: integer(UInt64.self, in: bytes, at: offset + 20)),
                              reply: String(decoding: bytes[(offset + 4 + fixedLength)..<end], as: UTF8.self))
            records.append((integer(UInt64.self, in: bytes, at: offset + 4), entry))
            offset = end + 4
        }
        return records
    }

    /// The store's id, the message's and the time: what every record holds besides its reply.
    private static let fixedLength = 24

    /// A server's reply is one line; longer ones are cut here.
    private static let maximumReply = 4096

    /// FNV-1a, 32 bits: enough to tell a record from a torn or foreign stretch.
    private static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var hash: UInt32 = 0x811C_9DC5
        for byte in bytes { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
        return hash
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    private static func integer<T: FixedWidthInteger>(_ type: T.Type, in bytes: [UInt8], at offset: Int) -> T {
        var value: T = 0
        for index in (0..<MemoryLayout<T>.size).reversed() { value = value << 8 | T(bytes[offset + index]) }
        return value
    }
}

/// A failure to write, read or empty the acceptance log, with the system's reason; a full disk
/// reads as the store's full disk (the operator frees space either way).
struct AcceptanceLogError: StorageError {
    let path: String
    let action: String
    let code: Int32

    var kind: StorageErrorKind { code == ENOSPC || code == EDQUOT ? .diskFull : .other }
    var message: String { String(cString: strerror(code)) }
    var description: String { "cannot \(action) \(path): \(message)" }
}
