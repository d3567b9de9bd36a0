import Foundation
import XCTest

@testable import EventFilterKit

/// The store refuses what it cannot trust (another program's file, an empty file, a newer
/// schema) without writing a byte; read-only commands never create, migrate or write a store;
/// a full disk is reported as such.
final class StoreOpeningEndToEndTests: XCTestCase {
    private let now = "2026-05-04T10:00:00Z"

    private func databasePath(_ root: TestRoot) -> String { root.url.appendingPathComponent("var/eventfilter.db").path }

    /// Every file under `var/` with its bytes: equal before and after means nothing was written.
    /// `run`'s lock file (empty, never data) is left out: `run` takes it before opening the store.
    private func snapshot(_ root: TestRoot) throws -> [String: Data] {
        let directory = root.url.appendingPathComponent("var")
        guard let walker = FileManager.default.enumerator(atPath: directory.path) else { return [:] }
        var files: [String: Data] = [:]
        while let name = walker.nextObject() as? String {
            let file = directory.appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            guard name != "eventfilter.lock", FileManager.default.fileExists(atPath: file.path, isDirectory: &isDirectory),
                  !isDirectory.boolValue else { continue }
            files[name] = try Data(contentsOf: file)
        }
        return files
    }

    private func sqlite3(_ database: String, _ sql: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sqlite3", database, sql]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "sqlite3 \(sql)")
    }

    func testAFileThatIsNotAUsableStoreIsRefusedAndLeftAsItWas() throws {
        // About the SQLite file: what is in var/eventfilter.db decides whether it is a store.
        try TestRoot.requireSQLite("the store file's identity marks")
        let newer = Migrations.all.count + 1
        let cases: [(name: String, make: (TestRoot, String) throws -> Void, message: (String) -> String)] = [
            ("another program's SQLite file", { _, path in
                try self.sqlite3(path, "PRAGMA application_id = 1; CREATE TABLE event(id); CREATE TABLE outbox(id);")
            }, { "\($0) is not an eventfilter store: it belongs to another program (application_id 1)" }),
            ("an SQLite file without the mark or our tables", { _, path in
                try self.sqlite3(path, "CREATE TABLE notes(text); INSERT INTO notes VALUES ('keep me');")
            }, { "\($0) is not an eventfilter store: an SQLite database without eventfilter's tables" }),
            ("an empty file", { _, path in
                XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data()))
            }, { "\($0) is an empty file, not an eventfilter store; move it away to start a new store" }),
            ("a text file", { _, path in
                try Data(String(repeating: "not a database\n", count: 100).utf8).write(to: URL(fileURLWithPath: path))
            }, { "\($0) is not an eventfilter store: not an SQLite database" }),
            ("a store of a newer eventfilter", { root, path in
                try root.ok("user", "add", "ann@example.com", now: self.now)
                try self.sqlite3(path, "PRAGMA user_version = \(newer)")
            }, { "\($0) has schema version \(newer), newer than this eventfilter knows (\(newer - 1)): it was written by a newer version; use that one" }),
            ("a store with a negative schema version", { root, path in
                try root.ok("user", "add", "ann@example.com", now: self.now)
                try self.sqlite3(path, "PRAGMA user_version = -1")
            }, { "\($0) is not an eventfilter store: schema version -1, which eventfilter never writes" }),
            ("a marked store with schema version 0", { root, path in
                try root.ok("user", "add", "ann@example.com", now: self.now)
                try self.sqlite3(path, "PRAGMA user_version = 0")
            }, { "\($0) is not an eventfilter store: schema version 0, which eventfilter never writes" }),
        ]
        for (name, make, message) in cases {
            let root = try TestRoot()
            let path = databasePath(root)
            try FileManager.default.createDirectory(at: root.url.appendingPathComponent("var"), withIntermediateDirectories: true)
            try make(root, path)
            let before = try snapshot(root)
            for command in [["user", "add", "bob@example.com"], ["status"], ["event", "add", "ezpublish", "node_id=5"],
                            ["run"], ["event", "list"], ["user", "list"], ["mail", "list"]] {
                let result = try root.run(command, now: now)
                XCTAssertEqual(result.status, 1, "\(name), \(command): \(result.stderr)")
                XCTAssertEqual(result.stderr, "eventfilter: \(message(path))\n", "\(name), \(command)")
                XCTAssertEqual(result.stdout, "")
            }
            XCTAssertEqual(try snapshot(root), before, "\(name): not a byte written, no -wal or -shm made")
        }
    }

    func testAStoreWithoutTheMarkIsAcceptedAndMarkedByTheFirstWriter() throws {
        // About the SQLite file's application_id mark.
        try TestRoot.requireSQLite("the store file's application_id mark")
        let root = try TestRoot()
        try root.ok("user", "add", "ann@example.com", now: now)
        XCTAssertEqual(try root.scalar("PRAGMA application_id"), Int(Store.applicationID), "a new store carries the mark")
        try sqlite3(databasePath(root), "PRAGMA application_id = 0")  // as made before the mark existed

        let before = try root.dump()
        XCTAssertTrue(try root.ok("user", "list", now: now).hasPrefix("ann@example.com"))
        XCTAssertEqual(try root.scalar("PRAGMA application_id"), 0, "a reader does not write the mark")
        XCTAssertEqual(try root.dump(), before)

        try root.ok("user", "add", "bob@example.com", now: now)
        XCTAssertEqual(try root.scalar("PRAGMA application_id"), Int(Store.applicationID))
    }

    func testReadOnlyCommandsNeverCreateAStore() throws {
        let root = try TestRoot()
        XCTAssertEqual(try root.ok("status", now: now), """
            events:   0 unhandled, 0 waiting (next -)
            digests:  0 items for 0 users (next -)
            mail:     0 queued, 0 deferred (oldest -), 0 failed (0 not acknowledged), 0 cancelled, 0 sent
            last run: never

            """)
        for command in [["status", "--json"], ["event", "list"], ["event", "list", "--json"], ["mail", "list"], ["user", "list"],
                        ["handlers"]] {
            let result = try root.run(command, now: now)
            XCTAssertEqual(result.status, 0, "\(command): \(result.stderr)")
            XCTAssertEqual(result.stderr, "")
        }
        for command in [["user", "show", "ann@example.com"], ["mail", "show", "1"]] {
            let result = try root.run(command, now: now)
            XCTAssertEqual(result.status, 1, "nothing to show: \(result.stderr)")
            XCTAssertEqual(result.stderr.filter { $0 == "\n" }.count, 1, result.stderr)
        }
        let check = try root.run(["status", "--check"], now: now)
        XCTAssertEqual(check.status, 1, "no run yet: a warning")
        XCTAssertTrue(check.stdout.hasPrefix("EVENTFILTER WARNING - no run recorded yet | "), check.stdout)
        XCTAssertEqual(try root.run(["check"], now: now).status, 0)
        XCTAssertEqual(try root.dump(), "no store")
        if TestBackend.current == .sqlite {
            XCTAssertFalse(FileManager.default.fileExists(atPath: root.url.appendingPathComponent("var").path), "no var/, no store")
        }
    }

    /// `var/` read-only for the user running the commands: an unprivileged user (file modes do
    /// not bind root, which runs the tests), via `setpriv`.
    func testReadOnlyCommandsWorkOnAReadOnlyVar() throws {
        // About file modes on var/, where the SQLite file lives.
        try TestRoot.requireSQLite("a read-only var/ holding the store file")
        let root = try TestRoot()
        try root.ok("user", "add", "ann@example.com", now: now)
        try root.ok("subscribe", "ann@example.com", "2", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=Hello", now: now)
        try root.ok("run", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=6", "path=/1/2/6/", "name=Waiting", now: now)
        let commands = [["status"], ["status", "--json"], ["event", "list", "--json"], ["mail", "list", "--sent"], ["mail", "show", "1"],
                        ["user", "list"], ["user", "show", "ann@example.com"], ["handlers"]]
        let expected = try commands.map { try root.run($0, now: now).stdout }
        XCTAssertTrue(expected[2].contains(#""name":"Waiting""#), expected[2])
        XCTAssertTrue(expected[4].contains("Hello"), expected[4])

        let chmod = Process()
        chmod.executableURL = URL(fileURLWithPath: "/bin/chmod")
        chmod.arguments = ["-R", "a-w", root.url.appendingPathComponent("var").path]
        try chmod.run()
        chmod.waitUntilExit()
        defer {
            let undo = Process()
            undo.executableURL = URL(fileURLWithPath: "/bin/chmod")
            undo.arguments = ["-R", "u+w", root.url.appendingPathComponent("var").path]
            try? undo.run()
            undo.waitUntilExit()
        }
        let before = try snapshot(root)
        let dump = try root.dump()
        for (command, output) in zip(commands, expected) {
            let result = try runUnprivileged(root, command)
            XCTAssertEqual(result.status, 0, "\(command): \(result.stderr)")
            XCTAssertEqual(result.stdout, output, "\(command)")
            XCTAssertEqual(result.stderr, "")
        }
        // A writing command is refused by the file system, in one line.
        let add = try runUnprivileged(root, ["event", "add", "ezpublish", "node_id=7"])
        XCTAssertEqual(add.status, 1)
        XCTAssertEqual(add.stderr.filter { $0 == "\n" }.count, 1, add.stderr)
        XCTAssertEqual(try snapshot(root), before, "nothing written in var/")
        XCTAssertEqual(try root.dump(), dump)
    }

    /// The usual state of `var/`: the last writer closed the store and removed its `-wal` and
    /// `-shm`, and the reader may not create them in the read-only directory.
    func testReadOnlyCommandsWorkOnAReadOnlyVarWithoutWriteAheadLogFiles() throws {
        // About SQLite's write-ahead log files next to the store file.
        try TestRoot.requireSQLite("a read-only var/ without the WAL files")
        let root = try TestRoot()
        try root.ok("user", "add", "ann@example.com", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=6", "path=/1/2/6/", "name=Waiting", now: now)
        let commands = [["status", "--json"], ["event", "list", "--json"], ["user", "show", "ann@example.com"]]
        let expected = try commands.map { try root.run($0, now: now).stdout }
        let varDirectory = root.url.appendingPathComponent("var")
        // The readers above leave an empty -wal and a -shm behind; no connection is open now.
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: varDirectory.appendingPathComponent("eventfilter.db-wal").path)[.size] as? NSNumber, 0)
        for suffix in ["-wal", "-shm"] {
            try FileManager.default.removeItem(at: varDirectory.appendingPathComponent("eventfilter.db" + suffix))
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: varDirectory.path)
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: varDirectory.path) }
        let before = try snapshot(root)
        for (command, output) in zip(commands, expected) {
            let result = try runUnprivileged(root, command)
            XCTAssertEqual(result.status, 0, "\(command): \(result.stderr)")
            XCTAssertEqual(result.stdout, output, "\(command)")
            XCTAssertEqual(result.stderr, "")
        }
        XCTAssertEqual(try snapshot(root), before, "nothing written in var/")
    }

    private func runUnprivileged(_ root: TestRoot, _ arguments: [String]) throws -> TestRoot.Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", TestRoot.executable.path,
                             "--root", root.path, "--now", now] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return TestRoot.Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                               stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// A run whose transaction outgrows a small file system: SQLite rolls the whole transaction
    /// back, and the run says the disk is full (not "no such savepoint"). Nothing is lost: once
    /// there is room, the next run mails every event.
    func testAFullDiskIsReportedAsSuchAndLosesNothing() throws {
        // About SQLite's error when the file system under var/ is full (a tmpfs mounted there).
        try TestRoot.requireSQLite("a full disk under the store file")
        let root = try TestRoot()
        let varDirectory = root.url.appendingPathComponent("var")
        try FileManager.default.createDirectory(at: varDirectory, withIntermediateDirectories: true)
        try mount(["-t", "tmpfs", "-o", "size=16m", "tmpfs", varDirectory.path])
        defer { try? mount(["-l", varDirectory.path], program: "/bin/umount") }

        // One event for 100 subscribers: its 100 messages (about 30 kB each) are written in one
        // handler's savepoint, so the write-ahead log runs out of room inside it.
        let users = (1...100).map { "user\($0)@example.com" }
        for user in users {
            try root.ok("user", "add", user, now: now)
            try root.ok("subscribe", user, "2", now: now)
        }
        let big = String(repeating: "word ", count: 1_800)
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=\(big)", now: now)
        // Leave 1 MB: the run's 3 MB transaction spills into the write-ahead log and runs out of room.
        let free = try XCTUnwrap(FileManager.default.attributesOfFileSystem(forPath: varDirectory.path)[.systemFreeSize] as? NSNumber)
        let filler = varDirectory.appendingPathComponent("filler")
        try Data(count: free.intValue - 1_000_000).write(to: filler)
        let before = try root.dump(except: ["run_log"])

        let run = try root.run(["run"], now: now)
        XCTAssertEqual(run.status, 1, run.stderr)
        XCTAssertTrue(run.stderr.hasPrefix("eventfilter: the store's disk is full: nothing more can be written until space is freed; "
                                           + "free space, then run the command again (SQLite error 13: database or disk is full"), run.stderr)
        XCTAssertFalse(run.stderr.contains("savepoint"), run.stderr)
        XCTAssertEqual(run.stderr.filter { $0 == "\n" }.count, 1, run.stderr)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event WHERE handled_at IS NULL AND type = 'ezpublish'"), 1)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox"), 0, "the failed transaction left nothing half-written")
        // What the failed run kept is its own record: its tick and the run log with the error.
        func withoutTheTick(_ dump: String) -> String {
            dump.split(separator: "\n").filter { !$0.contains("ezcurrenttime") }.joined(separator: "\n")
        }
        XCTAssertEqual(withoutTheTick(try root.dump(except: ["run_log"])), withoutTheTick(before))

        try FileManager.default.removeItem(at: filler)
        let again = try root.run(["run"], now: now)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event WHERE handled_at IS NULL"), 0)
        XCTAssertEqual(try root.mailFiles().count, users.count, "every subscriber mailed once")
    }

    private func mount(_ arguments: [String], program: String = "/bin/mount") throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "\(program) \(arguments)")
    }
}
