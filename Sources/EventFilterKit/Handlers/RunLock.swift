import Foundation

/// Keeps two overlapping runs apart on SQLite (the second one finds the lock taken and leaves
/// quietly), and two `mail flush` on either backend.
///
/// On SQLite the lock is an `flock` on `var/eventfilter.lock`, released by the kernel if the
/// run dies. On PostgreSQL, where runs share the work through claims and take no lock
/// (`ClaimStore.swift`), a flush takes it in the database itself (a session advisory lock on its
/// connection, `Store.tryLockRun()`), since hosts sharing one server may not share a file system;
/// the server releases it when the connection ends.
///
///     guard let lock = try RunLock(root: root, store: store) else { return }   // another run works
///     defer { withExtendedLifetime(lock) {} }
public final class RunLock {
    private enum Hold {
        case file(Int32)
        case database(Store)
    }
    private let hold: Hold

    /// Nil when another run holds the lock.
    public init?(root: URL, store: Store) throws {
        if store.db.dialect == .postgresql {
            guard try store.tryLockRun() else { return nil }
            hold = .database(store)
            return
        }
        let directory = root.appendingPathComponent("var")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("eventfilter.lock").path
        // Read-only is enough for flock, so a cron user who may only read the file can still lock it.
        let fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw EventFilterError.failure("cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            return nil
        }
        hold = .file(fd)
    }

    deinit {
        switch hold {
        case .file(let descriptor):
            flock(descriptor, LOCK_UN)
            close(descriptor)
        case .database(let store):
            // Closing the connection releases it too; giving it back at once lets the next run start.
            try? store.unlockRun()
        }
    }
}
