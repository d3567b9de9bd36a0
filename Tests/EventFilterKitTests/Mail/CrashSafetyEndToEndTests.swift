import Foundation
import XCTest

@testable import EventFilterKit

/// kill -9 in the middle of delivering 1,000 messages, a few times, then a clean run: every
/// message arrives, with at most one duplicate per kill and connection (or per
/// `MaxUnrecordedAcceptances`, when set): the messages the server may hold unrecorded.
final class CrashSafetyEndToEndTests: XCTestCase {
    func testKillNineDuringDeliveryLosesNothingAndDuplicatesAtMostOnePerKill() throws {
        try killDuringDelivery(mailSettings: "", duplicatesPerKill: 1)
    }

    func testKillNineWithFourConnectionsDuplicatesAtMostOnePerConnectionPerKill() throws {
        try killDuringDelivery(mailSettings: "MaxConnections=4\n", duplicatesPerKill: 4)
    }

    /// The window, not the number of connections, is the bound: four connections, one unrecorded.
    func testKillNineWithFourConnectionsAndOneUnrecordedAcceptanceDuplicatesAtMostOnePerKill() throws {
        try killDuringDelivery(mailSettings: "MaxConnections=4\nMaxUnrecordedAcceptances=1\n", duplicatesPerKill: 1)
    }

    func testKillNineWithAWiderWindowDuplicatesAtMostTheWindowPerKill() throws {
        try killDuringDelivery(mailSettings: "MaxConnections=4\nMaxUnrecordedAcceptances=20\n", duplicatesPerKill: 20)
    }

    /// SQLite syncs its write-ahead log only when it checkpoints it (`synchronous=NORMAL`), and
    /// the digests go out in the same run's delivery: the digest stage ends with a checkpoint, so
    /// when the first digest leaves, its queuing and its items' removal are in the database file
    /// itself, and a power cut afterwards cannot bring the items back for a second digest. The
    /// sendmail program copies the database file alone (no log) when it is first called.
    func testADigestIsInTheDatabaseFileItselfBeforeItLeaves() throws {
        try TestRoot.requireSQLite("the write-ahead log and its checkpoints are SQLite's")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ef-durable-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let (root, copy) = try rootCopyingItsDatabaseFileAtTheFirstMail(scratch: scratch)
        let now = "2026-05-04T10:00:00Z"
        try root.ok("user", "add", "ann@example.com", now: now)
        try root.ok("subscribe", "ann@example.com", "2", now: now)
        try root.ok("digest", "ann@example.com", "daily", "08:00", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=101", "path=/1/2/101/", "name=Story 1", now: now)
        try root.ok("run", now: now)
        try root.ok("run", now: "2026-05-05T08:00:00Z")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox WHERE state = 'sent'"), 1)

        let file = try Database(path: copy, mode: .readOnly)
        XCTAssertEqual(try file.scalarInt("SELECT count(*) FROM digest_item"), 0, "the items' removal is in the file")
        XCTAssertEqual(try file.scalarInt("SELECT count(*) FROM outbox JOIN outbox_message ON outbox_id = id WHERE recipient = 'ann@example.com'"), 1, "and the digest queued")
    }

    func testImmediateMailIsInTheDatabaseFileItselfBeforeItLeaves() throws {
        try TestRoot.requireSQLite("the write-ahead log and its checkpoints are SQLite's")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ef-durable-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let (root, copy) = try rootCopyingItsDatabaseFileAtTheFirstMail(scratch: scratch)
        let now = "2026-05-04T10:00:00Z"
        try root.ok("user", "add", "ann@example.com", now: now)
        try root.ok("subscribe", "ann@example.com", "2", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=101", "path=/1/2/101/", "name=Story 1", now: now)
        try root.ok("run", now: now)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox WHERE state = 'sent'"), 1)

        // A power cut after the mail left must not bring its event back to be mailed again.
        let file = try Database(path: copy, mode: .readOnly)
        XCTAssertEqual(try file.scalarInt("SELECT count(*) FROM event WHERE handled_at IS NULL AND type = 'ezpublish'"), 0,
                       "the event's handled mark is in the file")
        XCTAssertEqual(try file.scalarInt("SELECT count(*) FROM outbox JOIN outbox_message ON outbox_id = id WHERE recipient = 'ann@example.com'"), 1, "and its mail queued")
    }

    /// A root whose sendmail program copies the database file alone (no log) to the returned path
    /// when it is first called, and swallows the message.
    private func rootCopyingItsDatabaseFileAtTheFirstMail(scratch: URL) throws -> (TestRoot, String) {
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let copy = scratch.appendingPathComponent("copy.db").path
        let fake = scratch.appendingPathComponent("sendmail")
        let root = try TestRoot(siteINI: TestRoot.defaultSiteINI + "[MailSettings]\nTransport=sendmail\nSendmailPath=\(fake.path)\n")
        try Data("#!/bin/sh\n[ -e \(copy) ] || cp \(root.path)/var/eventfilter.db \(copy)\ncat > /dev/null\n".utf8).write(to: fake)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: fake.path)
        return (root, copy)
    }

    private func killDuringDelivery(mailSettings: String, duplicatesPerKill: Int) throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ef-crash-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let server = try SMTPTestServer.start(port: 0, directory: scratch.appendingPathComponent("server"), arguments: [])
        defer { server.stop() }
        let root = try TestRoot(siteINI: TestRoot.defaultSiteINI + """
            [MailSettings]
            Transport=SMTP
            TransportServer=127.0.0.1
            TransportPort=\(server.port)
            \(mailSettings)
            """)
        let now = "2026-05-04T10:00:00Z"
        for user in 1...10 {
            try root.ok("user", "add", "user\(user)@example.com", now: now)
            try root.ok("subscribe", "user\(user)@example.com", "2", now: now)
        }
        let events = (1...100).map { #"{"type":"ezpublish","params":{"node_id":"\#($0)","path":"/1/2/\#($0)/","name":"News \#($0)"}}"# }
        try root.ok("event", "import", "-", now: now, stdin: events.joined(separator: "\n"))

        let kills = 3
        var killed = 0
        for round in 1...kills {
            let before = try receivedCount(server)
            let process = try root.start(["run"], now: now)
            // Let it deliver some (a bounded wait), then kill it without warning.
            let deadline = Date().addingTimeInterval(30)
            while try receivedCount(server) < before + 150, process.isRunning, Date() < deadline {
                usleep(2_000)
            }
            guard process.isRunning else {
                XCTFail("round \(round): the run finished before it could be killed")
                break
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationReason, .uncaughtSignal)
            killed += 1
        }
        XCTAssertEqual(killed, kills)
        XCTAssertLessThan(try receivedCount(server), 1000, "the kills came before everything was delivered")

        try root.ok("run", now: now)

        let expected = Set(try root.rows("SELECT message_id FROM outbox JOIN outbox_message ON outbox_id = id").map { $0[0] })
        XCTAssertEqual(expected.count, 1000)
        var seen: [String: Int] = [:]
        for message in try server.received() {
            let text = String(decoding: message.bytes, as: UTF8.self)
            let id = try XCTUnwrap(text.components(separatedBy: "\r\n").first { $0.hasPrefix("Message-ID: ") }).dropFirst(12)
            seen[String(id), default: 0] += 1
        }
        XCTAssertEqual(Set(seen.keys), expected, "every message delivered")
        let duplicates = seen.values.reduce(0) { $0 + $1 - 1 }
        XCTAssertLessThanOrEqual(duplicates, killed * duplicatesPerKill, "at most \(duplicatesPerKill) duplicates per kill")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox WHERE state <> 'sent'"), 0)
        print("kill -9 test (\(mailSettings.replacingOccurrences(of: "\n", with: " "))): \(killed) kills, \(seen.values.reduce(0, +)) received for 1000 messages, \(duplicates) duplicates")
    }

    private static func size(of path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
    }

    private func receivedCount(_ server: SMTPTestServer) throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: server.directory.path).filter { $0.hasSuffix(".eml") }.count
    }

    /// kill -9 while the filter is writing items: committed events keep their mail, the others are
    /// handled again by the next run, and nobody gets a message twice or none.
    func testKillNineDuringFilteringLeavesEachEventHandledOnce() throws {
        let root = try TestRoot()
        let now = "2026-05-04T10:00:00Z"
        // 8,000 messages (more than one commit's worth, about 5,000 rows) from 20 readers of 400
        // events: two commands per reader to set up, so few readers and many events.
        for user in 1...20 {
            try root.ok("user", "add", "user\(user)@example.com", now: now)
            try root.ok("subscribe", "user\(user)@example.com", "2", now: now)
        }
        let events = (1...400).map { #"{"type":"ezpublish","params":{"node_id":"\#($0)","path":"/1/2/\#($0)/","name":"News \#($0)"}}"# }
        try root.ok("event", "import", "-", now: now, stdin: events.joined(separator: "\n"))
        let wal = root.url.appendingPathComponent("var/eventfilter.db-wal").path
        var killedWhileFiltering = 0
        for _ in 1...3 {
            let queuedBefore = try root.scalar("SELECT count(*) FROM outbox")
            let process = try root.start(["run"], now: now)
            // Wait (bounded) until the run is writing, then kill it without warning.
            // (SQLite: its write-ahead log grows; PostgreSQL: a batch of messages is committed.)
            let writing = {
                TestBackend.current == .sqlite ? Self.size(of: wal) >= 256 * 1024
                    : ((try? root.scalar("SELECT count(*) FROM outbox")) ?? 0) > queuedBefore
            }
            let deadline = Date().addingTimeInterval(30)
            while process.isRunning, Date() < deadline, !writing() {
                usleep(1_000)
            }
            guard process.isRunning else { break }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            if try root.scalar("SELECT count(*) FROM outbox") - queuedBefore < 8_000 { killedWhileFiltering += 1 }
        }
        XCTAssertGreaterThan(killedWhileFiltering, 0, "at least one kill landed before all mail was queued")
        try root.ok("run", now: now)

        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox"), 8_000, "20 users x 400 events, more than one commit's worth")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM (SELECT recipient, subject FROM outbox JOIN outbox_message ON outbox_id = id GROUP BY 1, 2 HAVING count(*) > 1) AS duplicate"), 0,
                       "nobody got the same event twice")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox WHERE state <> 'sent'"), 0)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event WHERE handled_at IS NULL"), 0)
        XCTAssertEqual(try root.mailFiles().count, 8_000)
    }

    /// kill -9 while the digest run sends one transaction per reader: the digests committed keep
    /// their items removed, the others are sent by the next run, and every reader gets exactly
    /// one digest; no item and no content is left behind.
    func testKillNineDuringTheDigestRunSendsEachDigestOnce() throws {
        let root = try TestRoot()
        let now = "2026-05-04T10:00:00Z", tick = "2026-05-05T09:00:00Z"
        // 18,000 items, in digests of 900: three commands per reader to set up, so few readers
        // with large digests, each still a transaction of its own.
        let readers = 20, eventCount = 900
        for user in 1...readers {
            try root.ok("user", "add", "user\(user)@example.com", now: now)
            try root.ok("subscribe", "user\(user)@example.com", "2", now: now)
            try root.ok("digest", "user\(user)@example.com", "daily", "08:00", now: now)
        }
        let events = (1...eventCount).map { #"{"type":"ezpublish","params":{"node_id":"\#($0)","path":"/1/2/\#($0)/","name":"News \#($0)"}}"# }
        try root.ok("event", "import", "-", now: now, stdin: events.joined(separator: "\n"))
        try root.ok("run", now: now)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM digest_item"), readers * eventCount)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox"), 0, "every item waits for the digest")

        var killedWhileSending = 0
        for _ in 1...3 {
            let queuedBefore = try root.scalar("SELECT count(*) FROM outbox")
            let process = try root.start(["run"], now: tick)
            // Wait (bounded) until a digest is committed, then kill the run without warning.
            let deadline = Date().addingTimeInterval(30)
            while process.isRunning, Date() < deadline, ((try? root.scalar("SELECT count(*) FROM outbox")) ?? 0) == queuedBefore {
                usleep(1_000)
            }
            guard process.isRunning else { break }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            if try root.scalar("SELECT count(*) FROM outbox") < readers { killedWhileSending += 1 }
        }
        XCTAssertGreaterThan(killedWhileSending, 0, "at least one kill landed before every digest was queued")
        try root.ok("run", now: tick)

        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox"), readers, "one digest per reader")
        XCTAssertEqual(try root.scalar("SELECT count(DISTINCT recipient) FROM outbox JOIN outbox_message ON outbox_id = id"), readers, "nobody got two, nobody none")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox WHERE state <> 'sent'"), 0)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM digest_item"), 0, "every item left with its digest")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM content"), 0, "every content left with its last item")
        XCTAssertEqual(try root.mailFiles().count, readers)
    }
}
