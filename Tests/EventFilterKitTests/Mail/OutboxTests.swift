import XCTest
@testable import EventFilterKit

final class OutboxTests: XCTestCase {
    /// Records the batches it is given and answers from a script.
    final class ScriptedTransport: MailTransport {
        var batches: [[Int64]] = []
        var answer: (OutgoingMessage) -> DeliveryOutcome = { .accepted("250 2.0.0 Ok: queued as Q\($0.id)") }
        func deliver(_ messages: [OutgoingMessage], report: (OutgoingMessage, DeliveryOutcome) throws -> Void) throws {
            batches.append(messages.map(\.id))
            for message in messages { try report(message, answer(message)) }
        }
    }

    private func makeOutbox() throws -> Outbox {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ef-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let store = try Store(root: dir)
        _ = try store.acceptanceLog(recording: true)  // as a delivery draws its id before recording (SQLite)
        return Outbox(store: store)
    }

    private func enqueue(_ outbox: Outbox, _ count: Int, size: Int, now: Int64) throws {
        for index in 0..<count {
            let message = ComposedMessage(messageID: "<m\(index).\(UUID().uuidString)@example.com>", bytes: Array(repeating: 65, count: size))
            try outbox.enqueue(recipient: "r\(index)@example.com", sender: "s@example.com", subject: "s", message: message, now: now)
        }
    }

    func testBatchesStopAtTheByteBudgetButHoldAtLeastOneMessage() throws {
        var outbox = try makeOutbox()
        outbox.batchBytes = 2_500
        try enqueue(outbox, 5, size: 1_000, now: 100)
        try enqueue(outbox, 1, size: 10_000, now: 100)
        let transport = ScriptedTransport()
        let report = try outbox.deliverDue(through: transport, now: 100)
        XCTAssertEqual(report.sent, 6)
        XCTAssertEqual(transport.batches, [[1, 2], [3, 4], [5], [6]])
    }

    /// A transport whose redelivery is harmless (as the file transport's): it notes whether a
    /// transaction was open for each call, and writes to the store from a second connection
    /// that may not wait, as an `event add` would while delivery works.
    final class IdempotentTransport: MailTransport {
        let store: Store
        var batches: [[Int64]] = []
        var inTransaction: [Bool] = []
        var otherWriterErrors: [String] = []
        init(store: Store) { self.store = store }
        var redeliveryIsIdempotent: Bool { true }
        func deliver(_ messages: [OutgoingMessage], report: (OutgoingMessage, DeliveryOutcome) throws -> Void) throws {
            batches.append(messages.map(\.id))
            inTransaction.append(store.db.isInTransaction)
            do {
                let other = try Database(path: (store.db as! Database).path, busyTimeout: 0, mode: .readWrite)
                try other.inTransaction { try other.execute("INSERT INTO run_log(started_at) VALUES (1)") }
            } catch {
                otherWriterErrors.append("\(error)")
            }
            for message in messages { try report(message, .accepted("250 2.0.0 Ok: queued as Q\(message.id)")) }
        }
    }

    func testAnIdempotentTransportWorksWithNoLockHeldAndItsOutcomesCommitTogether() throws {
        let outbox = try makeOutbox()
        try enqueue(outbox, 5, size: 1_000, now: 100)
        try enqueue(outbox, 1, size: 10_000, now: 100)
        let transport = IdempotentTransport(store: outbox.store)
        let report = try outbox.deliverDue(through: transport, now: 100)
        XCTAssertEqual(report.sent, 6)
        XCTAssertEqual(transport.batches, [[1, 2, 3, 4, 5, 6]], "one read batch, one call")
        XCTAssertEqual(transport.inTransaction, [false], "no transaction is open while the transport writes")
        XCTAssertEqual(transport.otherWriterErrors, [], "another writer never waits for the transport")
        XCTAssertEqual(try outbox.counts().sent, 6)
    }

    /// The file transport's batches overlap (one is written while the previous one syncs), and
    /// each message's outcome still lands on that message: a file that cannot be written in the
    /// second of four batches defers exactly that message, the rest are written once and sent.
    /// On either backend (on PostgreSQL the records of a batch are sent while the next batch is
    /// written, and read before the next statement).
    func testFileBatchesOverlapAndEachOutcomeLandsOnItsOwnMessage() throws {
        let root = try TestRoot()
        var outbox = Outbox(store: try Store(root: root.url))
        outbox.batchBytes = 2_500
        try enqueue(outbox, 8, size: 1_000, now: 100)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ef-mail-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        let transport = try FileTransport(directory: directory)
        // A directory where message 4's temporary file must go: opening it for writing fails (EISDIR).
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("4.eml.tmp"), withIntermediateDirectories: false)

        let report = try outbox.deliverDue(through: transport, now: 100)
        XCTAssertEqual(report.sent, 7)
        XCTAssertEqual(report.deferred, 1)
        XCTAssertEqual(try outbox.store.db.scalarInt("SELECT id FROM outbox WHERE state = 'deferred'"), 4)
        let reason = try outbox.store.db.first("SELECT last_error FROM outbox WHERE id = 4") { try $0.string(0) } ?? ""
        XCTAssertTrue(reason.hasPrefix("cannot write") && reason.contains("4.eml.tmp"), reason)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".eml") }.sorted()
        XCTAssertEqual(files, ["1.eml", "2.eml", "3.eml", "5.eml", "6.eml", "7.eml", "8.eml"])
        for id in [1, 2, 3, 5, 6, 7, 8] {
            let bytes = try Data(contentsOf: directory.appendingPathComponent("\(id).eml"))
            XCTAssertEqual(bytes, Data(repeating: 65, count: 1_000), "message \(id) is written whole")
        }
        XCTAssertEqual(try outbox.counts().sent, 7)
        XCTAssertEqual(try outbox.store.db.scalarInt("SELECT count(*) FROM outbox WHERE state = 'sent' AND last_error LIKE 'written to %'"), 7,
                       "each sent message keeps the transport's word for it")
    }

    func testBackoffDoublesFromFiveMinutesToAnHourWithJitter() {
        let policy = Outbox.RetryPolicy.standard
        XCTAssertEqual(policy.delay(afterAttempts: 1, random: 0), 300)
        XCTAssertEqual(policy.delay(afterAttempts: 2, random: 0), 600)
        XCTAssertEqual(policy.delay(afterAttempts: 3, random: 0), 1_200)
        XCTAssertEqual(policy.delay(afterAttempts: 4, random: 0), 2_400)
        XCTAssertEqual(policy.delay(afterAttempts: 5, random: 0), 3_600)
        XCTAssertEqual(policy.delay(afterAttempts: 50, random: 0), 3_600)
        XCTAssertEqual(policy.delay(afterAttempts: 1, random: 1), 330)
        XCTAssertEqual(policy.delay(afterAttempts: 1, random: -1), 270)
    }

    func testNotDueDeferredMessagesWaitAndPermanentFailuresAreKept() throws {
        let outbox = try makeOutbox()
        try enqueue(outbox, 2, size: 10, now: 1_000)
        let transport = ScriptedTransport()
        transport.answer = { $0.recipient == "r0@example.com" ? .temporaryFailure("451 later") : .permanentFailure("550 no") }
        _ = try outbox.deliverDue(through: transport, now: 1_000)
        transport.answer = { .accepted("250 2.0.0 Ok: queued as Q\($0.id)") }
        XCTAssertEqual(try outbox.deliverDue(through: transport, now: 1_200), .init(sent: 0, deferred: 0, failed: 0))
        XCTAssertEqual(try outbox.deliverDue(through: transport, now: 1_400), .init(sent: 1, deferred: 0, failed: 0))
        let failed = try outbox.list(states: ["failed"])
        XCTAssertEqual(failed.map(\.lastError), ["550 no"])
        XCTAssertEqual(try outbox.counts(), .init(queued: 0, deferred: 0, failed: 1, sent: 1, oldestDeferred: nil))
        let sent = try XCTUnwrap(outbox.store.db.first("SELECT sent_at, last_attempt_at, attempts FROM outbox WHERE state = 'sent'") {
            [$0.int(0), $0.int(1), $0.int(2)]
        })
        XCTAssertEqual(sent, [1_400, 1_400, 2], "sent at the second attempt, at 1400")
        XCTAssertEqual(try outbox.list(states: ["sent"]).map(\.lastError), ["250 2.0.0 Ok: queued as Q1"],
                       "the acceptance replaces the reply that deferred it")
        XCTAssertEqual(try outbox.store.unsettledAcceptances(), [], "settled")
    }

    func testAcceptancesLeftUnsettledByACrashAreSettledBeforeTheNextDelivery() throws {
        let outbox = try makeOutbox()
        try enqueue(outbox, 2, size: 10, now: 1_000)
        // A run accepted message 1, committed that, and died before settling.
        try outbox.store.recordAccepted(id: 1, reply: "250 2.0.0 Ok: queued as 4F2A1", now: 1_000)
        let transport = ScriptedTransport()
        let report = try outbox.deliverDue(through: transport, now: 2_000)
        XCTAssertEqual(transport.batches, [[2]], "message 1 is not sent again")
        XCTAssertEqual(report.sent, 1)
        XCTAssertEqual(try outbox.store.db.scalarInt("SELECT sent_at FROM outbox WHERE id = 1"), 1_000)
        XCTAssertEqual(try outbox.list(states: ["sent"]).map(\.lastError),
                       ["250 2.0.0 Ok: queued as 4F2A1", "250 2.0.0 Ok: queued as Q2"], "each keeps the reply that accepted it")
    }
}
