import Foundation
import XCTest

@testable import EventFilterKit

/// `eventfilter backup FILE`: consistent copies taken while a run and intake write, refusals
/// that leave everything as it was, and a restore that works.
final class BackupEndToEndTests: XCTestCase {
    private let now = "2026-05-04T10:00:00Z"

    private func sqlite3(_ database: String, _ sql: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sqlite3", database, sql]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testTenBackupsDuringA3000EventRunAreAllIntact() throws {
        // `backup` copies the SQLite file here (a PostgreSQL store's backup is its own test below).
        try TestRoot.requireSQLite("backup copies the store file")
        let root = try TestRoot()
        // Small batches: many commits during the run, so the copies land between and during them.
        try root.write("settings/override/notification.ini", "[EventFilterSettings]\nBatchSize=50\n")
        for user in ["a@example.com", "b@example.com"] {
            try root.ok("user", "add", user, now: now)
            try root.ok("subscribe", user, "2", now: now)
        }
        let lines = (0..<3000).map { #"{"type":"ezpublish","params":{"node_id":"\#($0 + 10)","path":"/1/2/\#($0 + 10)/","name":"E\#($0)"}}"# }
        XCTAssertEqual(try root.ok("event", "import", "-", now: now, stdin: lines.joined(separator: "\n")), "imported 3000 events, 0 duplicates\n")

        let run = Process()
        run.executableURL = TestRoot.executable
        run.arguments = ["--root", root.path, "--now", now, "run"]
        run.standardOutput = FileHandle.nullDevice
        run.standardError = FileHandle.nullDevice
        try run.run()
        defer { if run.isRunning { run.terminate() }; run.waitUntilExit() }

        // Intake goes on at the same time: twenty events stored one by one by another process.
        let intake = Process()
        intake.executableURL = URL(fileURLWithPath: "/bin/sh")
        intake.arguments = ["-c", #"i=0; while [ $i -lt 20 ]; do "$0" --root "$1" --now "$2" event add ezpublish node_id=n$i path=/1/2/n$i/ >/dev/null || exit 1; i=$((i+1)); done"#,
                            TestRoot.executable.path, root.path, now]
        try intake.run()
        defer { intake.waitUntilExit() }

        var copies: [URL] = []
        var takenDuringRun = 0
        for index in 0..<10 {
            let copy = root.url.appendingPathComponent("backup-\(index).db")
            XCTAssertEqual(try root.ok("backup", copy.path, now: now), "backed up the store to \(copy.path) (\(try fileSize(copy)) bytes)\n")
            if run.isRunning { takenDuringRun += 1 }
            copies.append(copy)
        }
        run.waitUntilExit()
        intake.waitUntilExit()
        XCTAssertEqual(run.terminationStatus, 0)
        XCTAssertEqual(intake.terminationStatus, 0)
        XCTAssertEqual(takenDuringRun, 10, "every copy was taken while the run was writing")

        var handledBefore = -1, storedBefore = -1
        for copy in copies {
            XCTAssertEqual(try sqlite3(copy.path, "PRAGMA integrity_check"), "ok", copy.lastPathComponent)
            XCTAssertEqual(try sqlite3(copy.path, "PRAGMA journal_mode"), "delete", "a stand-alone file")
            let stored = Int(try sqlite3(copy.path, "SELECT count(*) FROM event WHERE type = 'ezpublish'")) ?? -1
            XCTAssertTrue((3000...3020).contains(stored), "the imported events and the intake's so far: \(stored)")
            // A snapshot: the outbox holds exactly the messages of the events marked handled, two each.
            let handled = Int(try sqlite3(copy.path, "SELECT count(*) FROM event WHERE handled_at IS NOT NULL AND type = 'ezpublish'")) ?? -1
            XCTAssertEqual(Int(try sqlite3(copy.path, "SELECT count(*) FROM outbox")), handled * 2, copy.lastPathComponent)
            XCTAssertGreaterThanOrEqual(stored, storedBefore, "later copies are later snapshots")
            XCTAssertGreaterThanOrEqual(handled, handledBefore, "later copies see the run further along")
            (storedBefore, handledBefore) = (stored, handled)
        }
        XCTAssertLessThan(Int(try sqlite3(copies[0].path, "SELECT count(*) FROM outbox")) ?? -1, 6000,
                          "the first copy was taken before the run had finished its work")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event WHERE type = 'ezpublish'"), 3020, "nothing accepted was lost")
    }

    func testRefusalsChangeNothingAndACopyRestores() throws {
        // `backup` copies the SQLite file here (a PostgreSQL store's backup is its own test below).
        try TestRoot.requireSQLite("backup copies the store file")
        let root = try TestRoot()
        try root.ok("user", "add", "ann@example.com", "--name", "Ann", now: now)
        try root.ok("subscribe", "ann@example.com", "2", now: now)
        let copy = root.url.appendingPathComponent("copy.db")
        try root.ok("backup", copy.path, now: now)

        let before = try root.dump()
        let again = try root.run(["backup", copy.path], now: now)
        XCTAssertEqual(again.status, 1)
        XCTAssertEqual(again.stderr, "eventfilter: \(copy.path) already exists; back up to a new file\n")
        let nowhere = try root.run(["backup", "/nonexistent-dir/copy.db"], now: now)
        XCTAssertEqual(nowhere.status, 1)
        XCTAssertEqual(nowhere.stderr, "eventfilter: /nonexistent-dir is not a directory\n")
        let missing = try root.run(["backup"], now: now)
        XCTAssertEqual(missing.status, 2)
        XCTAssertEqual(missing.stderr, "eventfilter: missing FILE\n")
        XCTAssertEqual(try root.dump(), before)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: root.path).filter { $0.contains("partial") }
        XCTAssertEqual(leftovers, [], "no temporary file is left behind")

        // Restore as the README says, into another installation.
        let restored = try TestRoot()
        try FileManager.default.createDirectory(at: restored.url.appendingPathComponent("var"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: copy, to: restored.url.appendingPathComponent("var/eventfilter.db"))
        XCTAssertEqual(try restored.ok("user", "list", now: now), "ann@example.com\tAnn\tUTC\timmediate\tenabled\tnodes: 2\n")
        XCTAssertEqual(try restored.dump(), try root.dump(), "the same rows")
    }

    /// A PostgreSQL store's backup is the same kind of file: one snapshot written as an SQLite
    /// store, which an SQLite installation reads as it is (and `db copy --to` loads again).
    func testAPostgreSQLStoreIsBackedUpAsAnSQLiteStoreFile() throws {
        let root = try TestRoot(postgres: try TestPostgres.server().makeDatabase())
        try root.ok("user", "add", "ann@example.com", "--name", "Ann", now: now)
        try root.ok("subscribe", "ann@example.com", "2", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=News", "--key", "ez:5", now: now)
        let copy = root.url.appendingPathComponent("copy.db")
        XCTAssertEqual(try root.ok("backup", copy.path, now: now), "backed up the store to \(copy.path) (\(try fileSize(copy)) bytes)\n")
        XCTAssertEqual(try sqlite3(copy.path, "PRAGMA integrity_check"), "ok")
        XCTAssertFalse(FileManager.default.fileExists(atPath: root.url.appendingPathComponent("var/eventfilter.db").path),
                       "the PostgreSQL installation has no store file of its own")
        let again = try root.run(["backup", copy.path], now: now)
        XCTAssertEqual(again.status, 1)
        XCTAssertEqual(again.stderr, "eventfilter: \(copy.path) already exists; back up to a new file\n")

        let restored = try TestRoot()
        try FileManager.default.createDirectory(at: restored.url.appendingPathComponent("var"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: copy, to: restored.url.appendingPathComponent("var/eventfilter.db"))
        XCTAssertEqual(try restored.ok("user", "list", now: now), try root.ok("user", "list", now: now))
        XCTAssertEqual(try restored.ok("event", "list", now: now), try root.ok("event", "list", now: now))
        XCTAssertEqual(try restored.ok("event", "add", "ezpublish", "node_id=5", "--key", "ez:5", now: now),
                       try root.ok("event", "add", "ezpublish", "node_id=5", "--key", "ez:5", now: now), "the dedupe key came along")
    }

    /// A backup copies the store as it is: it never creates a store where there is none, and a copy
    /// taken before an upgrade is the old store (the upgrade is left to the next writing command).
    func testABackupNeitherCreatesNorUpgradesTheStore() throws {
        // `backup` copies the SQLite file here (a PostgreSQL store's backup is its own test below).
        try TestRoot.requireSQLite("backup copies the store file")
        let root = try TestRoot()
        let copy = root.url.appendingPathComponent("copy.db")
        let none = try root.run(["backup", copy.path], now: now)
        XCTAssertEqual(none.status, 1)
        XCTAssertEqual(none.stderr, "eventfilter: \(root.path)/var/eventfilter.db does not exist: there is no store yet\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: root.url.appendingPathComponent("var").path), "no var/, no store")
        XCTAssertFalse(FileManager.default.fileExists(atPath: copy.path))

        let dash = try root.run(["backup", "-"], now: now)
        XCTAssertEqual(dash.status, 2)
        XCTAssertEqual(dash.stderr, "eventfilter: FILE: '-' is not a file name; give the path of the copy\n")

        // A store one migration behind, as an older eventfilter left it.
        try root.ok("user", "add", "ann@example.com", now: now)
        let old = Migrations.all.count - 1
        let database = root.url.appendingPathComponent("var/eventfilter.db").path
        let downgrade = Process()
        downgrade.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        downgrade.arguments = ["sqlite3", database, "PRAGMA user_version = \(old)"]
        try downgrade.run()
        downgrade.waitUntilExit()
        let before = try Data(contentsOf: URL(fileURLWithPath: database))
        try root.ok("backup", copy.path, now: now)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: database)), before, "the store is not upgraded or marked")
        XCTAssertEqual(try root.scalar("PRAGMA user_version"), old)
        XCTAssertEqual(try sqlite3(copy.path, "PRAGMA user_version"), "\(old)", "the copy is the old store")
    }

    private func fileSize(_ url: URL) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.intValue ?? -1
    }
}
