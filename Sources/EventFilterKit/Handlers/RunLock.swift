import Foundation

/// Keeps two overlapping runs apart: the second one finds the lock taken and leaves quietly.
/// The lock is an `flock` on `var/eventfilter.lock`, released by the kernel if the run dies.
public final class RunLock {
    private let descriptor: Int32

    /// Nil when another run holds the lock.
    public init?(root: URL) throws {
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
        descriptor = fd
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
