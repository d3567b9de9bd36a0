import Foundation
import XCTest

/// The file transport records a message sent only once the disk has confirmed its file.
final class FileTransportEndToEndTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ef-file-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: scratch)
    }

    /// A shared library that replaces `syncfs` with `definition`, for a run to load with LD_PRELOAD.
    private func syncLibrary(_ name: String, _ definition: String) throws -> String {
        let source = scratch.appendingPathComponent("\(name).c")
        let library = scratch.appendingPathComponent("lib\(name).so")
        try Data(definition.utf8).write(to: source)
        let compiler = Process()
        compiler.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        compiler.arguments = ["cc", "-shared", "-fPIC", "-o", library.path, source.path, "-ldl"]
        try compiler.run()
        compiler.waitUntilExit()
        XCTAssertEqual(compiler.terminationStatus, 0, "cc could not build the preload library")
        return library.path
    }

    /// Every `syncfs` fails with EIO, as it does after a write-back error (Linux reports those to
    /// `syncfs` since 5.8).
    private func failingSyncLibrary() throws -> String {
        try syncLibrary("failsync", """
            #include <errno.h>
            int syncfs(int fd) { (void)fd; errno = EIO; return -1; }

            """)
    }

    /// The process is killed (SIGKILL) right after the real `syncfs` returned: the files are on the
    /// disk and nothing is recorded yet.
    private func killAfterSyncLibrary() throws -> String {
        try syncLibrary("killaftersync", """
            #define _GNU_SOURCE
            #include <dlfcn.h>
            #include <signal.h>
            int syncfs(int fd) {
                int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "syncfs");
                real(fd);
                raise(SIGKILL);
                return 0;
            }

            """)
    }

    /// Two readers of one published node, and their messages queued by a run that delivers none.
    private func rootWithTwoReaders(now: String) throws -> TestRoot {
        let root = try TestRoot()
        for email in ["ann@example.com", "bob@example.com"] {
            try root.ok("user", "add", email, now: now)
            try root.ok("subscribe", email, "2", now: now)
        }
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=News", now: now)
        return root
    }

    func testABatchWhoseSyncFailsStaysQueuedAndIsWrittenAgainLater() throws {
        let library = try failingSyncLibrary()
        let now = "2026-05-04T10:00:00Z"
        let root = try rootWithTwoReaders(now: now)

        let failing = try root.run(["run"], now: now, environment: ["LD_PRELOAD": library])
        XCTAssertEqual(failing.status, 0, failing.stderr)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox WHERE state = 'sent'"), 0,
                       "nothing the disk did not confirm is recorded sent")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox WHERE state = 'deferred'"), 2)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox_delivered"), 0)
        let reason = try root.text("SELECT last_error FROM outbox ORDER BY id LIMIT 1")
        XCTAssertTrue(reason.contains("cannot sync") && reason.contains("Input/output error"), reason)

        // Once the disk works again, the deferred messages are written and recorded sent, once each.
        XCTAssertEqual(try root.run(["run"], now: "2026-05-04T11:00:00Z").status, 0)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox WHERE state = 'sent'"), 2)
        XCTAssertEqual(try root.mails().compactMap { $0.header("To") }.sorted(), ["ann@example.com", "bob@example.com"])
    }

    /// kill -9 after the batch is synced and before its record commits: nothing says sent, and the
    /// next run writes the same files again (the same names, so each message is there once).
    func testAKillBetweenTheSyncAndTheRecordWritesTheSameFilesAgain() throws {
        let library = try killAfterSyncLibrary()
        let now = "2026-05-04T10:00:00Z"
        let root = try rootWithTwoReaders(now: now)

        let killed = try root.run(["run"], now: now, environment: ["LD_PRELOAD": library])
        XCTAssertEqual(killed.status, SIGKILL, "killed by the signal: \(killed.stderr)")
        XCTAssertEqual(try root.mailFiles().count, 2, "the batch was written and synced")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox WHERE state = 'queued'"), 2, "and nothing recorded")

        XCTAssertEqual(try root.run(["run"], now: "2026-05-04T10:01:00Z").status, 0)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox WHERE state = 'sent'"), 2)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox_delivered"), 0)
        XCTAssertEqual(try root.mails().compactMap { $0.header("To") }.sorted(), ["ann@example.com", "bob@example.com"])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: root.url.appendingPathComponent("var/log/mail").path)
            .filter { !$0.hasSuffix(".eml") }
        XCTAssertEqual(leftovers, [], "no temporary file is left")
    }

    /// Batches overlap (one is written while the one before it syncs): when only the second
    /// batch's `syncfs` fails, exactly that batch is deferred, and the batches before and after
    /// it, synced, are recorded sent. The next run writes the deferred ones, once each.
    func testOnlyTheBatchWhoseSyncFailsIsDeferredWhileTheOthersAreSent() throws {
        let library = try syncLibrary("failsecondsync", """
            #define _GNU_SOURCE
            #include <dlfcn.h>
            #include <errno.h>
            static int calls;
            int syncfs(int fd) {
                if (__atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST) == 2) { errno = EIO; return -1; }
                int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "syncfs");
                return real(fd);
            }

            """)
        let now = "2026-05-04T10:00:00Z"
        let root = try TestRoot()
        for user in 1...30 {
            try root.ok("user", "add", "user\(user)@example.com", now: now)
            try root.ok("subscribe", "user\(user)@example.com", "2", now: now)
        }
        let events = (1...40).map { #"{"type":"ezpublish","params":{"node_id":"\#($0)","path":"/1/2/\#($0)/","name":"News \#($0)"}}"# }
        try root.ok("event", "import", "-", now: now, stdin: events.joined(separator: "\n"))

        let failing = try root.run(["run"], now: now, environment: ["LD_PRELOAD": library])
        XCTAssertEqual(failing.status, 0, failing.stderr)
        // 1,200 messages go in batches of 500, 500 and 200, in the order of their ids.
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox"), 1_200)
        let deferred = try root.scalar("SELECT count(*) FROM outbox WHERE state = 'deferred'")
        XCTAssertEqual(deferred, 500, "the second batch, whose sync failed")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox WHERE state = 'sent'"), 700)
        XCTAssertEqual(try root.scalar("""
            SELECT count(*) FROM outbox WHERE state = 'deferred'
              AND id > (SELECT min(id) + 499 FROM outbox) AND id <= (SELECT min(id) + 999 FROM outbox)
            """), 500, "the deferred messages are the second batch's")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox WHERE state = 'deferred' AND last_error LIKE 'cannot sync%'"), 500)

        XCTAssertEqual(try root.run(["run"], now: "2026-05-04T12:00:00Z").status, 0)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox WHERE state = 'sent'"), 1_200)
        XCTAssertEqual(try root.mailFiles().count, 1_200)
    }
}
