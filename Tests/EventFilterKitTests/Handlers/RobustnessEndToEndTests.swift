import Foundation
import XCTest

/// Bad values, replays and purges: nothing blocks the queue, nothing is sent twice, nothing is overwritten.
final class RobustnessEndToEndTests: XCTestCase {
    private func subscribedRoot(now: String) throws -> TestRoot {
        let root = try TestRoot()
        try root.ok("user", "add", "r@example.com", now: now)
        try root.ok("subscribe", "r@example.com", "2", now: now)
        return root
    }

    func testControlCharactersInAValueNeitherBlockTheRunNorReachTheSubject() throws {
        let now = "2026-05-04T10:00:00Z"
        let root = try subscribedRoot(now: now)
        let line = #"{"type":"ezpublish","params":{"node_id":"5","path":"/1/2/5/","name":"nul\u0000byte\u0007bell"}}"#
        try root.ok("event", "import", "-", now: now, stdin: line)
        try root.ok("event", "add", "ezpublish", "node_id=6", "path=/1/2/6/", "name=Fine", now: now)
        let run = try root.run(["run"], now: now)
        XCTAssertEqual(run.status, 0, run.stderr)
        let subjects = try root.mails().map(\.subject).sorted()
        XCTAssertEqual(subjects, ["[Test Site] Item \"Fine\" was published", "[Test Site] Item \"nul byte bell\" was published"])
    }

    func testUnsafeLinksFallBackToTheNodesPage() throws {
        let now = "2026-05-04T10:00:00Z"
        let root = try subscribedRoot(now: now)
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "url=javascript:alert(1)", now: now)
        try root.ok("run", now: now)
        let mail = try XCTUnwrap(root.mails().first)
        XCTAssertFalse(mail.html!.contains("javascript"), mail.html!)
        XCTAssertTrue(mail.text.contains("https://example.com/content/view/full/5"), mail.text)
    }

    func testADedupeKeyOutlivesItsPurgedEvent() throws {
        let root = try subscribedRoot(now: "2026-05-04T10:00:00Z")
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "--key", "kaltura:1:abc", now: "2026-05-04T10:00:00Z")
        try root.ok("run", now: "2026-05-04T10:00:00Z")
        try root.ok("run", now: "2026-05-12T10:00:00Z")  // KeepDays (7) later: the handled event is purged
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event WHERE dedupe_key = 'kaltura:1:abc'"), 0)
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "--key", "kaltura:1:abc", now: "2026-05-12T11:00:00Z")
        try root.ok("run", now: "2026-05-12T11:00:00Z")
        XCTAssertEqual(try root.mailFiles().count, 1, "the replay sends nothing")
        // After KeepDedupeDays (90) the key is forgotten too.
        try root.ok("run", now: "2026-08-10T10:00:00Z")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM dedupe_key"), 0)
    }

    func testMailFilesAreNeverOverwrittenAfterAPurge() throws {
        let root = try subscribedRoot(now: "2026-05-04T10:00:00Z")
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=First", now: "2026-05-04T10:00:00Z")
        try root.ok("run", now: "2026-05-04T10:00:00Z")
        try root.ok("run", now: "2026-05-12T10:00:00Z")  // the sent message is purged
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox"), 0)
        try root.ok("event", "add", "ezpublish", "node_id=6", "path=/1/2/6/", "name=Second", now: "2026-05-12T11:00:00Z")
        try root.ok("run", now: "2026-05-12T11:00:00Z")
        let mails = try root.mails()
        XCTAssertEqual(mails.map(\.subject), ["[Test Site] Item \"First\" was published", "[Test Site] Item \"Second\" was published"])
        XCTAssertEqual(try root.mailFiles().map(\.lastPathComponent), ["1.eml", "2.eml"])
    }

    func testARootWithoutSettingsIsNotAnInstallation() throws {
        let nowhere = FileManager.default.temporaryDirectory.appendingPathComponent("ef-nowhere-\(UUID().uuidString)")
        for command in [["status"], ["run"], ["user", "add", "a@example.com"]] {
            let process = Process()
            process.executableURL = TestRoot.executable
            process.arguments = ["--root", nowhere.path] + command
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 1)
            XCTAssertEqual(message, "eventfilter: \(nowhere.path) is not an eventfilter installation: it has no settings/ directory\n")
            XCTAssertFalse(FileManager.default.fileExists(atPath: nowhere.path), "nothing was created")
        }
    }
}
