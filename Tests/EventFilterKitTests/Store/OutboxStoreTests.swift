import XCTest
@testable import EventFilterKit

/// The outbox as the store keeps it: which messages are due and in what order, acceptances
/// recorded then settled, deferrals and failures that touch only waiting messages, requeueing,
/// counts and purging.
final class OutboxStoreTests: XCTestCase {
    private var root: TestRoot!
    private var store: Store!

    override func setUpWithError() throws {
        root = try TestRoot()
        store = try Store(root: root.url)
        _ = try store.acceptanceLog(recording: true)  // as a delivery draws its id before recording (SQLite)
    }

    override func tearDownWithError() throws {
        store = nil
        root = nil
    }

    /// Queues a message of `size` bytes to `recipient` at `now`; returns its id.
    @discardableResult
    private func queue(_ recipient: String, size: Int = 10, now: Int64) throws -> Int64 {
        let message = ComposedMessage(messageID: "<\(UUID().uuidString)@example.com>", bytes: Array(repeating: 65, count: size))
        try store.queueMessage(recipient: recipient, sender: "notify@example.com", subject: "Hello", message: message, now: now)
        return try XCTUnwrap(store.db.first("SELECT max(id) AS id FROM outbox") { try $0.int64("id") })
    }

    private struct Stored: Equatable {
        var state: String
        var attempts: Int
        var nextAttemptAt: Int64
        var lastAttemptAt: Int64?
        var lastError: String?
        var sentAt: Int64?
    }

    private func stored(_ id: Int64) throws -> Stored {
        try XCTUnwrap(store.db.first("""
            SELECT state, attempts, next_attempt_at, last_attempt_at, last_error, sent_at FROM outbox WHERE id = ?
            """, [id]) {
            Stored(state: try $0.string("state"), attempts: try $0.int("attempts"), nextAttemptAt: try $0.int64("next_attempt_at"),
                   lastAttemptAt: try $0.optionalInt64("last_attempt_at"), lastError: try $0.optionalString("last_error"),
                   sentAt: try $0.optionalInt64("sent_at"))
        })
    }

    func testOnlyDueQueuedOrDeferredMessagesAreHandedOutInIdOrderWithinTheLimit() throws {
        let first = try queue("a@example.com", size: 100, now: 100)
        let later = try queue("b@example.com", size: 200, now: 100)
        let failed = try queue("c@example.com", now: 100)
        let sent = try queue("d@example.com", now: 100)
        let deferred = try queue("e@example.com", size: 300, now: 100)
        let waiting = try queue("f@example.com", now: 100)
        let notYet = try queue("g@example.com", now: 500)
        XCTAssertTrue(try store.failMessage(id: failed, reason: "550 no such user", now: 100))
        try store.recordAccepted(id: sent, reply: "250 ok", now: 100)
        try store.settleDeliveredMail()
        XCTAssertTrue(try store.deferMessage(id: deferred, until: 150, reply: "451 later", now: 100))
        XCTAssertTrue(try store.deferMessage(id: waiting, until: 400, reply: "451 later", now: 100))

        let due = try store.dueOutboxSizes(now: 200, after: 0, limit: 10)
        XCTAssertEqual(due.map(\.id), [first, later, deferred], "neither failed, sent, deferred to later nor queued for later")
        XCTAssertEqual(due.map(\.size), [100, 200, 300])
        XCTAssertEqual(try store.dueOutboxSizes(now: 200, after: 0, limit: 2).map(\.id), [first, later], "the limit holds")
        XCTAssertEqual(try store.dueOutboxSizes(now: 200, after: first, limit: 10).map(\.id), [later, deferred], "after an id")
        XCTAssertEqual(try store.dueOutboxSizes(now: 500, after: 0, limit: 10).map(\.id), [first, later, deferred, waiting, notYet],
                       "each comes due at its time")

        let messages = try store.dueOutboxMessages(now: 200, after: first, through: deferred)
        XCTAssertEqual(messages.map(\.id), [later, deferred])
        XCTAssertEqual(messages[0], OutboxMessage(id: later, sender: "notify@example.com", recipient: "b@example.com",
                                                  bytes: Array(repeating: 65, count: 200), createdAt: 100, attempts: 0))
        XCTAssertEqual(messages[1].attempts, 1, "the deferral counted its attempt")
        XCTAssertEqual(try store.dueOutboxMessages(now: 200, after: 0, through: first).map(\.id), [first], "through an id")
    }

    func testAnAcceptanceRecordedThenSettledLeavesTheMessageSentWithItsReply() throws {
        let id = try queue("ann@example.com", now: 100)
        XCTAssertTrue(try store.deferMessage(id: id, until: 400, reply: "451 4.3.0 try later", now: 100))
        try store.recordAccepted(id: id, reply: "250 2.0.0 Ok: queued as 4F2A1", now: 400)
        try store.recordAccepted(id: id, reply: "250 2.0.0 Ok: queued as 99999", now: 401)
        XCTAssertEqual(try stored(id).state, "deferred", "the acceptance is a row of its own until settled")
        XCTAssertEqual(try store.unsettledAcceptances(), [id], "recorded, not settled")

        try store.settleDeliveredMail()
        XCTAssertEqual(try stored(id), Stored(state: "sent", attempts: 2, nextAttemptAt: 400, lastAttemptAt: 400,
                                              lastError: "250 2.0.0 Ok: queued as 4F2A1", sentAt: 400),
                       "the first acceptance's reply and time replace the deferral's")
        XCTAssertEqual(try store.unsettledAcceptances(), [])
        XCTAssertEqual(try store.dueOutboxSizes(now: 1_000, after: 0, limit: 10).count, 0, "a sent message is never due again")
        XCTAssertEqual(try store.outboxEntries(states: ["sent"]).map(\.lastError), ["250 2.0.0 Ok: queued as 4F2A1"])
    }

    /// On SQLite acceptances wait in the acceptance log beside the store. A run killed after the
    /// settle's commit and before the log was emptied reads the same records at the next settle:
    /// the messages, sent already, keep their attempt count, time and reply.
    func testAcceptancesSettledButLeftInTheLogByACrashAreNotCountedTwice() throws {
        try TestRoot.requireSQLite("the acceptance log beside an SQLite store")
        let id = try queue("ann@example.com", now: 100)
        try store.recordAccepted(id: id, reply: "250 2.0.0 Ok: queued as 4F2A1", now: 400)
        let log = try XCTUnwrap(try store.acceptanceLog(recording: false))
        let recorded = try Data(contentsOf: URL(fileURLWithPath: log.path))
        try store.settleDeliveredMail()
        let settled = Stored(state: "sent", attempts: 1, nextAttemptAt: 100, lastAttemptAt: 400,
                             lastError: "250 2.0.0 Ok: queued as 4F2A1", sentAt: 400)
        XCTAssertEqual(try stored(id), settled)
        XCTAssertEqual(try log.entries(), [], "emptied once the rows say sent")

        try recorded.write(to: URL(fileURLWithPath: log.path))  // as the crash left it
        try store.settleDeliveredMail()
        XCTAssertEqual(try stored(id), settled, "the second settle leaves the sent message as it was")
        XCTAssertEqual(try log.entries(), [])
    }

    /// Records left beside the store's path by another store (moved away, a new store made in
    /// its place) name that store's messages: they are not settled into this one's, and are
    /// dropped with the rest once a settle empties the log.
    func testRecordsAnotherStoreLeftInTheLogAreNotSettled() throws {
        try TestRoot.requireSQLite("the acceptance log beside an SQLite store")
        let id = try queue("ann@example.com", now: 100)
        let log = try XCTUnwrap(try store.acceptanceLog(recording: true))
        try AcceptanceLog(besideStoreAt: log.storePath, storeID: log.storeID ^ 1).append([(id: id, reply: "250 theirs")], sentAt: 400)
        try store.settleDeliveredMail()
        XCTAssertEqual(try stored(id).state, "queued", "still to be sent")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: log.path)).count, 0, "emptied")
    }

    /// A backup taken while acceptances wait in the log carries them, as rows its next run settles:
    /// the restored store does not send those messages again.
    func testABackupCarriesTheAcceptancesWaitingInTheLog() throws {
        try TestRoot.requireSQLite("the acceptance log beside an SQLite store")
        let id = try queue("ann@example.com", now: 100)
        let other = try queue("bob@example.com", now: 100)
        try store.recordAccepted(id: id, reply: "250 2.0.0 Ok: queued as 4F2A1", now: 400)
        let copy = root.url.appendingPathComponent("backup.db").path
        try store.backup(to: copy)

        // The copy restored where a log of the original's was left: that log names ids the copy
        // may hand out again, and is not read as the copy's.
        let original = try XCTUnwrap(try store.acceptanceLog(recording: false))
        try AcceptanceLog(besideStoreAt: copy, storeID: original.storeID).append([(id: other, reply: "250 stale")], sentAt: 450)
        let restored = try Store(path: copy)
        try restored.settleDeliveredMail()
        XCTAssertEqual(try restored.outboxEntries(states: ["sent"]).map(\.id), [id])
        XCTAssertEqual(try restored.outboxEntries(states: ["sent"]).map(\.lastError), ["250 2.0.0 Ok: queued as 4F2A1"])
        XCTAssertEqual(try restored.dueOutboxSizes(now: 1_000, after: 0, limit: 10).map(\.id), [other])
        XCTAssertNotEqual(try restored.acceptanceLog(recording: true)?.storeID, original.storeID, "the copy draws its own id")
        XCTAssertEqual(try store.unsettledAcceptances(), [id], "the store backed up is left as it was")
    }

    /// An acceptance recorded again after it was settled (records read again after a crash
    /// before the log was emptied, rows a copy or backup brought) leaves the sent message as it
    /// was, on either backend: the attempt is counted once, with the first reply and time.
    func testAnAcceptanceSettledAgainLeavesTheSentMessageAsItWas() throws {
        let id = try queue("ann@example.com", now: 100)
        try store.recordAccepted(id: id, reply: "250 first", now: 400)
        try store.settleDeliveredMail()
        try store.recordAccepted(id: id, reply: "250 again", now: 500)
        try store.settleDeliveredMail()
        XCTAssertEqual(try stored(id), Stored(state: "sent", attempts: 1, nextAttemptAt: 100, lastAttemptAt: 400,
                                              lastError: "250 first", sentAt: 400))
        XCTAssertEqual(try store.unsettledAcceptances(), [])
    }

    /// On SQLite, rows of `outbox_delivered` (recorded before the acceptance log, or brought by a
    /// copy) for a message already sent leave it as it was when settled.
    func testATableRowForAMessageAlreadySentLeavesItAsItWas() throws {
        try TestRoot.requireSQLite("SQLite's settle of rows in outbox_delivered")
        let id = try queue("ann@example.com", now: 100)
        try store.recordAccepted(id: id, reply: "250 first", now: 400)
        try store.settleDeliveredMail()
        try store.db.execute("INSERT INTO outbox_delivered(outbox_id, sent_at, reply) VALUES (?, 500, '250 copied')", [id])
        try store.settleDeliveredMail()
        XCTAssertEqual(try stored(id), Stored(state: "sent", attempts: 1, nextAttemptAt: 100, lastAttemptAt: 400,
                                              lastError: "250 first", sentAt: 400))
        XCTAssertEqual(try store.unsettledAcceptances(), [])
    }

    /// SMTP groups: a group of acceptances alone (one statement, no transaction around it) and
    /// a larger group mixed with a deferral and a failure both append each acceptance with its own
    /// reply, keep the first of one recorded twice, and settle into sent messages.
    func testAGroupOfOutcomesRecordsEachAcceptanceOnceAndTheOthersAsTheyCame() throws {
        let small = try (0..<4).map { try queue("reader\($0)@example.com", now: 100) }
        XCTAssertEqual(try store.recordGroup(small.map { ($0, .accepted(reply: "250 queued as \($0)")) }, now: 400),
                       [true, true, true, true])
        XCTAssertEqual(try store.recordGroup([(small[0], .accepted(reply: "250 again"))], now: 401), [true])
        XCTAssertEqual(try store.unsettledAcceptances(), Set(small), "recorded, not settled")

        let large = try (0..<320).map { try queue("many\($0)@example.com", now: 100) }
        let deferred = try queue("slow@example.com", now: 100)
        let refused = try queue("nobody@example.com", now: 100)
        var outcomes = large.map { (id: $0, disposition: OutboxDisposition.accepted(reply: "250 queued as \($0)")) }
        outcomes.insert((deferred, .deferred(reply: "451 later", until: 700)), at: 1)
        outcomes.append((refused, .failed(reason: "550 no such user")))
        XCTAssertEqual(try store.recordGroup(outcomes, now: 500), Array(repeating: true, count: outcomes.count))
        XCTAssertEqual(try stored(deferred), Stored(state: "deferred", attempts: 1, nextAttemptAt: 700, lastAttemptAt: 500,
                                                    lastError: "451 later", sentAt: nil))
        XCTAssertEqual(try stored(refused).state, "failed")

        try store.settleDeliveredMail()
        XCTAssertEqual(try stored(small[0]), Stored(state: "sent", attempts: 1, nextAttemptAt: 100, lastAttemptAt: 400,
                                                    lastError: "250 queued as \(small[0])", sentAt: 400))
        for id in [small[3], large[0], large[299], large[319]] {
            XCTAssertEqual(try stored(id).lastError, "250 queued as \(id)")
        }
        XCTAssertEqual(try store.outboxCounts().sent, small.count + large.count)
        XCTAssertEqual(try store.unsettledAcceptances(), [])
    }

    /// A file batch's outcomes: the acceptances go straight into their messages, each with its own
    /// reply, in groups larger than one statement holds, with nothing left to settle; a deferral
    /// in the same group is recorded as one.
    func testAGroupRecordedAsSentLeavesEachAcceptedMessageSentWithItsOwnReply() throws {
        let ids = try (0..<450).map { try queue("reader\($0)@example.com", now: 100) }
        let deferred = try queue("slow@example.com", now: 100)
        var outcomes = ids.map { (id: $0, disposition: OutboxDisposition.accepted(reply: "written to \($0).eml")) }
        outcomes.insert((deferred, .deferred(reply: "cannot write: disk full", until: 700)), at: 200)
        let changed = try store.recordGroupSent(outcomes, now: 400)
        XCTAssertEqual(changed, Array(repeating: true, count: ids.count + 1))
        for id in [ids[0], ids[399], ids[400], ids[449]] {
            XCTAssertEqual(try stored(id), Stored(state: "sent", attempts: 1, nextAttemptAt: 100, lastAttemptAt: 400,
                                                  lastError: "written to \(id).eml", sentAt: 400))
        }
        XCTAssertEqual(try stored(deferred), Stored(state: "deferred", attempts: 1, nextAttemptAt: 700, lastAttemptAt: 400,
                                                    lastError: "cannot write: disk full", sentAt: nil))
        XCTAssertEqual(try store.unsettledAcceptances(), [], "nothing waits to be settled")
        XCTAssertEqual(try store.outboxCounts().sent, ids.count)
        XCTAssertEqual(try store.dueOutboxSizes(now: 1_000, after: 0, limit: 1_000).map(\.id), [deferred])
    }

    func testADeferralCountsTheAttemptAndKeepsTheNextTimeAndReply() throws {
        let id = try queue("ann@example.com", now: 100)
        XCTAssertTrue(try store.deferMessage(id: id, until: 400, reply: "451 4.3.0 try later", now: 100))
        XCTAssertEqual(try stored(id), Stored(state: "deferred", attempts: 1, nextAttemptAt: 400, lastAttemptAt: 100,
                                              lastError: "451 4.3.0 try later", sentAt: nil))
        XCTAssertEqual(try store.dueOutboxSizes(now: 399, after: 0, limit: 10).count, 0)
        XCTAssertEqual(try store.dueOutboxSizes(now: 400, after: 0, limit: 10).map(\.id), [id])
        XCTAssertTrue(try store.deferMessage(id: id, until: 1_000, reply: "421 closing", now: 400))
        XCTAssertEqual(try stored(id), Stored(state: "deferred", attempts: 2, nextAttemptAt: 1_000, lastAttemptAt: 400,
                                              lastError: "421 closing", sentAt: nil))
    }

    func testADeferralOrFailureOfAMessageNoLongerWaitingChangesNothing() throws {
        let cancelled = try queue("ann@example.com", now: 100)
        _ = try store.cancelWaitingMail(userID: 0, email: "ann@example.com", now: 150)
        let failed = try queue("bob@example.com", now: 100)
        XCTAssertTrue(try store.failMessage(id: failed, reason: "550 no", now: 100))
        let before = try root.dump()
        for id in [cancelled, failed, 999] {
            XCTAssertFalse(try store.deferMessage(id: id, until: 400, reply: "451 later", now: 200), "message \(id)")
            XCTAssertFalse(try store.failMessage(id: id, reason: "550 gone", now: 200), "message \(id)")
            XCTAssertFalse(try store.record(.deferred(reply: "451 later", until: 400), forMessage: id, now: 200))
        }
        XCTAssertEqual(try root.dump(), before)
        XCTAssertEqual(try stored(cancelled).state, "cancelled")
    }

    func testAFailureIsKeptAndRequeueingMakesItDueAtOnceWithANewQueueTime() throws {
        let id = try queue("ann@example.com", now: 100)
        let other = try queue("bob@example.com", now: 100)
        let waiting = try queue("cy@example.com", now: 100)
        XCTAssertTrue(try store.failMessage(id: id, reason: "550 5.1.1 unknown user", now: 200))
        XCTAssertTrue(try store.failMessage(id: other, reason: "550 5.1.1 unknown user", now: 200))
        XCTAssertEqual(try stored(id), Stored(state: "failed", attempts: 1, nextAttemptAt: 100, lastAttemptAt: 200,
                                              lastError: "550 5.1.1 unknown user", sentAt: nil))
        XCTAssertTrue(try store.acknowledgeFailedMail(id: id, now: 250))
        XCTAssertEqual(try store.outboxEntries(states: ["failed"]).map(\.acknowledgedAt), [250, nil])

        XCTAssertFalse(try store.requeueFailedMessage(id: waiting, now: 300), "only a failed message")
        XCTAssertTrue(try store.requeueFailedMessage(id: id, now: 300))
        let requeued = try XCTUnwrap(store.outboxEntries(states: ["queued"]).first { $0.id == id })
        XCTAssertEqual(requeued.createdAt, 300)
        XCTAssertEqual(requeued.nextAttemptAt, 300)
        XCTAssertNil(requeued.acknowledgedAt)
        XCTAssertEqual(try store.dueOutboxSizes(now: 300, after: 0, limit: 10).map(\.id), [id, waiting])
        XCTAssertEqual(try store.requeueFailedMessages(now: 400), 1)
        XCTAssertEqual(try store.requeueFailedMessages(now: 400), 0)
        XCTAssertEqual(try store.outboxCounts().queued, 3)
    }

    func testOutcomesRecordedTogetherAreOneTransaction() throws {
        let accepted = try queue("ann@example.com", now: 100)
        let deferred = try queue("bob@example.com", now: 100)
        let failed = try queue("cy@example.com", now: 100)
        // A write that fails in the middle of the batch (as a full disk would).
        try root.breakWrites("UPDATE", on: "outbox", when: "NEW.state = 'failed'")
        let outcomes: [(id: Int64, disposition: OutboxDisposition)] = [
            (accepted, .accepted(reply: "250 ok")), (deferred, .deferred(reply: "451 later", until: 400)), (failed, .failed(reason: "550 no")),
        ]
        let before = try root.dump()
        XCTAssertThrowsError(try store.record(outcomes, now: 200))
        XCTAssertEqual(try root.dump(), before, "nothing of the batch was kept")

        try root.repairWrites(on: "outbox")
        XCTAssertEqual(try store.record(outcomes + [(999, .failed(reason: "550 no"))], now: 200), [true, true, true, false])
        try store.settleDeliveredMail()
        XCTAssertEqual(try store.outboxCounts(), Outbox.Counts(queued: 0, deferred: 1, failed: 1, sent: 1, oldestDeferred: 100))
    }

    func testCountsAndPurgingSentMail() throws {
        XCTAssertEqual(try store.outboxCounts(), Outbox.Counts())
        let early = try queue("a@example.com", now: 100)
        let late = try queue("b@example.com", now: 100)
        let waiting = try queue("c@example.com", now: 100)
        let deferred = try queue("d@example.com", now: 50)
        XCTAssertTrue(try store.deferMessage(id: deferred, until: 400, reply: "451 later", now: 100))
        try store.recordAccepted(id: early, reply: "250 ok", now: 1_000)
        try store.recordAccepted(id: late, reply: "250 ok", now: 2_000)
        try store.settleDeliveredMail()
        XCTAssertEqual(try store.outboxCounts(), Outbox.Counts(queued: 1, deferred: 1, failed: 0, sent: 2, oldestDeferred: 50))

        try store.purgeSentMail(before: 2_000)
        XCTAssertEqual(try store.outboxEntries(states: ["sent"]).map(\.id), [late], "sent before the cutoff goes, at it stays")
        XCTAssertEqual(try store.outboxEntries(states: ["queued", "deferred"], limit: 1).map(\.id), [waiting],
                       "unsent mail stays; in id order, the limit holds")
        XCTAssertEqual(try store.outboxCounts().sent, 1)
    }
}
