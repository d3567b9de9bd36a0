import Foundation
import XCTest
@testable import EventFilterKit

/// Stands in for another run holding the run's lock of `root`, on the root's backend: on SQLite a
/// Python process holding `flock` on var/eventfilter.lock, on PostgreSQL a connection of its own
/// holding the run's advisory lock. Released by `release()` or when the holder goes away.
///
///     let holder = try RunLockHolder(root)
///     let second = try root.run(["run"], now: now)   // finds the lock taken
///     holder.release()
final class RunLockHolder {
    private var process: Process?
    private var input: Pipe?
    private var connection: PostgresConnection?

    init(_ root: TestRoot) throws {
        if let postgres = root.postgres {
            let connection = try postgres.connect()
            _ = try connection.execute("SELECT pg_advisory_lock(CAST($1 AS bigint))", [Store.runLockKey])
            self.connection = connection
            return
        }
        process = try Self.holdFileLock(root.url.appendingPathComponent("var/eventfilter.lock"), input: &input)
    }

    /// Holds `flock` on `file` from a Python process until its stdin closes; returns once it holds it.
    static func holdFileLock(_ file: URL, input: inout Pipe?) throws -> Process {
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = ["python3", "-c", """
            import fcntl, sys
            f = open(sys.argv[1], "a"); fcntl.flock(f, fcntl.LOCK_EX); print("locked", flush=True); sys.stdin.read()
            """, file.path]
        let pipe = Pipe(), output = Pipe()
        holder.standardInput = pipe
        holder.standardOutput = output
        try holder.run()
        input = pipe
        // Blocks until the holder has the lock and says so.
        XCTAssertTrue(String(decoding: output.fileHandleForReading.availableData, as: UTF8.self).hasPrefix("locked"))
        return holder
    }

    func release() {
        if let input, let process {
            try? input.fileHandleForWriting.close()
            process.waitUntilExit()
        }
        input = nil
        process = nil
        // Given back before the session closes, so the next run finds it free at once.
        _ = try? connection?.execute("SELECT pg_advisory_unlock(CAST($1 AS bigint))", [Store.runLockKey])
        connection = nil
    }

    deinit { release() }
}
