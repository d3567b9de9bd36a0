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

    /// A shared library that makes every `syncfs` fail with EIO, as it does after a writeback
    /// error (Linux reports those to `syncfs` since 5.8), loaded into the run with LD_PRELOAD.
    private func failingSyncLibrary() throws -> String {
        let source = scratch.appendingPathComponent("failsync.c")
        let library = scratch.appendingPathComponent("libfailsync.so")
        try Data("""
            #include <errno.h>
            int syncfs(int fd) { (void)fd; errno = EIO; return -1; }

            """.utf8).write(to: source)
        let compiler = Process()
        compiler.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        compiler.arguments = ["cc", "-shared", "-fPIC", "-o", library.path, source.path]
        try compiler.run()
        compiler.waitUntilExit()
        XCTAssertEqual(compiler.terminationStatus, 0, "cc could not build the preload library")
        return library.path
    }

    func testABatchWhoseSyncFailsStaysQueuedAndIsWrittenAgainLater() throws {
        let library = try failingSyncLibrary()
        let root = try TestRoot()
        let now = "2026-05-04T10:00:00Z"
        for email in ["ann@example.com", "bob@example.com"] {
            try root.ok("user", "add", email, now: now)
            try root.ok("subscribe", email, "2", now: now)
        }
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=News", now: now)

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
}
