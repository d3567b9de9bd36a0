import Foundation
import XCTest

@testable import EventFilterKit

/// The file beside an SQLite store where deliveries record acceptances: what is appended is read
/// back in order by any connection, a torn or foreign stretch costs only what was written in it,
/// a full disk fails the record with the system's reason, and an emptied log reads as empty.
final class AcceptanceLogTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ef-log-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: directory)
    }

    private var storePath: String { directory.appendingPathComponent("eventfilter.db").path }
    private let storeID: UInt64 = 0x1F2E_3D4C_5B6A_7988

    private func fileSize(_ path: String) throws -> Int {
        try XCTUnwrap((try FileManager.default.attributesOfItem(atPath: path))[.size] as? NSNumber).intValue
    }

    func testRecordsAreReadBackInOrderByAnyConnectionAndGoneOnceCleared() throws {
        let log = AcceptanceLog(besideStoreAt: storePath, storeID: storeID)
        XCTAssertEqual(log.path, storePath + "-accepted")
        XCTAssertEqual(try log.entries(), [], "no file yet")
        try log.clear()

        try log.append([(id: 7, reply: "250 2.0.0 Ok: queued as 4F2A1"), (id: 9, reply: "250 ok")], sentAt: 1_000)
        try log.append([(id: 8, reply: "250 déjà reçu ✓")], sentAt: 1_001)
        let expected = [AcceptanceLog.Entry(id: 7, sentAt: 1_000, reply: "250 2.0.0 Ok: queued as 4F2A1"),
                        AcceptanceLog.Entry(id: 9, sentAt: 1_000, reply: "250 ok"),
                        AcceptanceLog.Entry(id: 8, sentAt: 1_001, reply: "250 déjà reçu ✓")]
        XCTAssertEqual(try log.entries(), expected)
        let other = AcceptanceLog(besideStoreAt: storePath, storeID: storeID)
        XCTAssertEqual(try other.entries(), expected, "another connection's log reads the same file")
        try other.append([(id: 10, reply: "250 late")], sentAt: 1_002)
        XCTAssertEqual(try log.entries().map(\.id), [7, 9, 8, 10])

        try log.clear()
        XCTAssertEqual(try log.entries(), [])
        XCTAssertEqual(try fileSize(log.path), 0)
        // A log that was open for appending goes on at the start of the emptied file.
        try other.append([(id: 11, reply: "250 after")], sentAt: 1_003)
        XCTAssertEqual(try log.entries(), [AcceptanceLog.Entry(id: 11, sentAt: 1_003, reply: "250 after")])
        XCTAssertEqual(try fileSize(log.path), 4 + 24 + 9 + 4)
    }

    /// A record cut short (a full disk mid-write, a power cut) and bytes that are no record are
    /// skipped: the records before them and after them are read.
    func testATornRecordAndForeignBytesCostOnlyWhatWasWrittenInThem() throws {
        let log = AcceptanceLog(besideStoreAt: storePath, storeID: storeID)
        try log.append([(id: 1, reply: "250 one"), (id: 2, reply: "250 two")], sentAt: 1_000)
        var torn: [UInt8] = []
        AcceptanceLog.encode(storeID: storeID, id: 3, sentAt: 1_000, reply: "250 three", into: &torn)
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: log.path))
        handle.seekToEndOfFile()
        handle.write(Data(torn.prefix(torn.count - 3)))
        handle.write(Data("not a record at all\n".utf8))
        handle.write(Data(repeating: 0, count: 40))
        try handle.close()
        XCTAssertEqual(try log.entries().map(\.id), [1, 2], "the torn record and what follows it are not records")

        try log.append([(id: 4, reply: "250 four")], sentAt: 1_001)
        XCTAssertEqual(try log.entries(), [AcceptanceLog.Entry(id: 1, sentAt: 1_000, reply: "250 one"),
                                           AcceptanceLog.Entry(id: 2, sentAt: 1_000, reply: "250 two"),
                                           AcceptanceLog.Entry(id: 4, sentAt: 1_001, reply: "250 four")])

        // A byte changed inside a record makes that record alone unreadable.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: log.path)))
        bytes[4 + 24] ^= 0x20  // the first record's reply
        try Data(bytes).write(to: URL(fileURLWithPath: log.path))
        XCTAssertEqual(try log.entries().map(\.id), [2, 4])
    }

    /// Records another store wrote (a store moved away, a new one made at its path) are not this
    /// store's: its ids name other messages.
    func testRecordsOfAnotherStoreAreNotRead() throws {
        let log = AcceptanceLog(besideStoreAt: storePath, storeID: storeID)
        try AcceptanceLog(besideStoreAt: storePath, storeID: storeID ^ 1).append([(id: 1, reply: "250 theirs")], sentAt: 1_000)
        try log.append([(id: 2, reply: "250 ours")], sentAt: 1_001)
        XCTAssertEqual(try log.entries(), [AcceptanceLog.Entry(id: 2, sentAt: 1_001, reply: "250 ours")])
    }

    /// A full disk fails the record at once with the system's reason, which reads as the store's
    /// full disk; the file it could not write reads as empty and needs no emptying.
    func testAFullDiskFailsTheRecordWithTheSystemsReason() throws {
        let log = AcceptanceLog(besideStoreAt: storePath, storeID: storeID)
        try FileManager.default.createSymbolicLink(atPath: log.path, withDestinationPath: "/dev/full")
        XCTAssertThrowsError(try log.append([(id: 1, reply: "250 ok")], sentAt: 1_000)) { error in
            let failure = error as? AcceptanceLogError
            XCTAssertEqual(failure?.kind, .diskFull)
            XCTAssertEqual(failure?.description, "cannot record an acceptance in \(log.path): \(String(cString: strerror(ENOSPC)))")
            XCTAssertTrue(failure?.report.hasPrefix("the store's disk is full") == true, failure?.report ?? "")
        }
        XCTAssertEqual(try log.entries(), [])
        try log.clear()
    }

    /// Created by root (a `mail flush` run by hand), the file gets the store's owner and mode, as
    /// SQLite's `-wal` does, so the cron user who owns the store can go on recording in it.
    func testTheFileGetsTheStoresOwnerAndMode() throws {
        guard geteuid() == 0 else { throw XCTSkip("needs root, to create a file for another owner") }
        XCTAssertTrue(FileManager.default.createFile(atPath: storePath, contents: Data()))
        XCTAssertEqual(chown(storePath, 65_534, 65_534), 0)
        XCTAssertEqual(chmod(storePath, 0o640), 0)
        let log = AcceptanceLog(besideStoreAt: storePath, storeID: storeID)
        try log.append([(id: 1, reply: "250 ok")], sentAt: 1_000)
        var status = stat()
        XCTAssertEqual(stat(log.path, &status), 0)
        XCTAssertEqual([status.st_uid, status.st_gid], [65_534, 65_534])
        XCTAssertEqual(status.st_mode & 0o777, 0o640 & ~currentUmask())
    }

    private func currentUmask() -> mode_t {
        let mask = umask(0)
        umask(mask)
        return mask
    }

    /// A reply longer than a server's line is cut at 4,096 bytes, so a record stays readable.
    func testAnOverlongReplyIsCut() throws {
        let log = AcceptanceLog(besideStoreAt: storePath, storeID: storeID)
        try log.append([(id: 5, reply: "250 " + String(repeating: "x", count: 10_000))], sentAt: 1_000)
        let entry = try XCTUnwrap(try log.entries().first)
        XCTAssertEqual(entry.reply.utf8.count, 4_096)
        XCTAssertTrue(entry.reply.hasPrefix("250 xxx"))
    }
}
