import Foundation
import Synchronization
import XCTest

@testable import EventFilterKit

#if canImport(Glibc)
    import Glibc
#endif

/// SMTPTransport's connection threads recording the outcomes (by group commit among
/// themselves), through OutcomeRecorders (one store connection they share, on either store),
/// against a real SMTP server (Tests/Support/smtp_server.py) on
/// 127.0.0.1 and a real store.
final class OutcomeRecordersTests: XCTestCase {
    private var workspace: URL!
    private var servers: [SMTPTestServer] = []

    override func setUpWithError() throws {
        workspace = FileManager.default.temporaryDirectory.appendingPathComponent("ef-recorders-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
    }

    override func tearDown() {
        servers.forEach { $0.stop() }
        servers = []
        try? FileManager.default.removeItem(at: workspace)
    }

    /// The bound a crash relies on, with no calling thread in between: whenever a connection's
    /// thread is about to record an outcome, the server holds at most `MaxUnrecordedAcceptances`
    /// messages whose acceptance no commit has recorded yet. A slow record (a store waiting for
    /// its disk) is what fills the window. Every acceptance is committed on a connection's
    /// thread, none on the calling thread, and each is counted once.
    func testEachConnectionRecordsItsOwnOutcomesAndTheServerNeverHoldsMoreUnrecordedThanTheLimit() throws {
        for limit in [1, 3, 4] {
            let server = try startServer()
            let (outbox, messages) = try queuedOutbox(60, name: "limit\(limit)")
            var configuration = server.configuration
            configuration.maxConnections = 4
            configuration.maxUnrecordedAcceptances = limit
            let transport = try SMTPTransport(configuration: configuration)
            let path = try XCTUnwrap(outbox.store.db as? Database).path
            let callingThread = pthread_self()
            let seen = Mutex((mostUnrecorded: 0, onCallingThread: 0, decided: 0))

            let recorders = OutcomeRecorders(outbox: outbox, now: 1_000) { message, outcome in
                // Runs on the connection's thread just before its commit, holding its place.
                let held = (try? self.receivedFiles(server)) ?? 0
                let recorded = (try? Store.unsettledAcceptances(inSQLiteStoreAt: path).count) ?? 0
                seen.withLock {
                    $0.mostUnrecorded = max($0.mostUnrecorded, held - recorded)
                    if pthread_equal(pthread_self(), callingThread) != 0 { $0.onCallingThread += 1 }
                    $0.decided += 1
                }
                usleep(10_000)
                guard case .accepted(let reply) = outcome else { return .failed(reason: "not accepted: \(outcome)") }
                return .accepted(reply: reply)
            }
            try transport.deliver(messages, recordingOn: recorders)

            let result = seen.withLock { $0 }
            XCTAssertEqual(result.decided, 60)
            XCTAssertEqual(result.onCallingThread, 0, "each outcome is recorded on the thread that read it")
            XCTAssertLessThanOrEqual(result.mostUnrecorded, limit, "limit \(limit)")
            try assertEachReceivedOnceAndRecorded(server: server, store: outbox.store, recorders: recorders, count: 60)
            XCTAssertGreaterThan(Set(try server.received().map(\.envelope.peerPort)).count, 1, "the other connections worked meanwhile")
        }
    }

    /// Group commit among the connections' threads: with 4 connections and the default window
    /// (one place per connection), the replies that come in while one thread commits wait for
    /// the next commit, which takes them all, so the acceptances are committed in far fewer
    /// commits than messages (a commit each made one per message), while the server still never
    /// holds more than the window's messages with no commit to record them.
    func testFourConnectionsCommitTheirAcceptancesTogetherWithinTheWindowOnEitherBackend() throws {
        let count = 60
        let (server, store, database, outbox, messages, transport) = try fourConnections("grouped", delivering: count, prefix: "g")
        XCTAssertEqual(transport.unrecordedLimit, 4)
        // The outbox's own connection, idle while the transport's threads record on theirs.
        let seen = Mutex((mostUnrecorded: 0, decided: 0))
        let recorders = OutcomeRecorders(outbox: outbox, now: 1_000) { message, outcome in
            // Runs on the committing thread just before its commit, the group's places held.
            seen.withLock {
                let held = (try? self.receivedFiles(server)) ?? 0
                let recorded = (try? store.unsettledAcceptances().count) ?? 0
                $0.mostUnrecorded = max($0.mostUnrecorded, held - recorded)
                $0.decided += 1
            }
            // A commit that waits for its disk: the other connections' replies come in meanwhile. Long
            // enough that they do on a loaded machine too (at 3 ms, 2 runs in 6 made 46-50 commits).
            usleep(20_000)
            guard case .accepted(let reply) = outcome else { return .failed(reason: "not accepted: \(outcome)") }
            return .accepted(reply: reply)
        }
        if TestBackend.current == .sqlite {
            _ = try store.db.first("PRAGMA wal_checkpoint(TRUNCATE)") { $0.int(0) }
        }
        let before = try commits(in: store)
        try transport.deliver(messages, recordingOn: recorders)
        let committed = try commits(in: store) - before
        // On SQLite each group is one write to the acceptance log, not a commit.
        if TestBackend.current == .sqlite { XCTAssertEqual(committed, 0, "no acceptance is a commit on SQLite") }
        let made = TestBackend.current == .sqlite ? recorders.groupsRecorded : committed

        let result = seen.withLock { $0 }
        XCTAssertEqual(result.decided, count)
        XCTAssertLessThanOrEqual(result.mostUnrecorded, 4, "the window's bound")
        try assertEachReceivedOnceAndRecorded(server: server, store: store, recorders: recorders, count: count)
        XCTAssertLessThanOrEqual(made, count * 3 / 4, "commits for \(count) acceptances on 4 connections")
        // One store connection records for every SMTP connection (the commits take turns anyway).
        XCTAssertEqual(recorders.connectionsOpened, 1)
        withExtendedLifetime(database) {}
    }

    /// With 4 connections and the default window on SQLite, every connection's thread records
    /// through ONE store connection (they take turns anyway, and a connection that committed
    /// last keeps its page cache), and each message's final "." goes in the same write as the
    /// message and the next message's MAIL, RCPT and DATA (pipelined, RFC 2920: the server
    /// finds them already waiting when it answers the "."), while the server never holds more
    /// than the window's messages with no commit to record them and gets each message once.
    func testFourConnectionsOnSQLiteRecordThroughOneStoreConnectionAndSendTheNextEnvelopeWithTheFinalDot() throws {
        try TestRoot.requireSQLite("SQLite's recording connection")
        let server = try startServer()
        let count = 80
        let (outbox, messages) = try queuedOutbox(count, name: "shared")
        var configuration = server.configuration
        configuration.maxConnections = 4
        let transport = try SMTPTransport(configuration: configuration)
        XCTAssertEqual(transport.unrecordedLimit, 4)
        XCTAssertTrue(transport.recordsOnItsThreads)
        let path = try XCTUnwrap(outbox.store.db as? Database).path
        let seen = Mutex(0)
        let recorders = OutcomeRecorders(outbox: outbox, now: 1_000) { message, outcome in
            // Runs on the committing thread just before its commit, the group's places held.
            let held = (try? self.receivedFiles(server)) ?? 0
            let recorded = (try? Store.unsettledAcceptances(inSQLiteStoreAt: path).count) ?? 0
            seen.withLock { $0 = max($0, held - recorded) }
            guard case .accepted(let reply) = outcome else { return .failed(reason: "not accepted: \(outcome)") }
            return .accepted(reply: reply)
        }
        try transport.deliver(messages, recordingOn: recorders)

        XCTAssertEqual(recorders.connectionsOpened, 1, "one store connection records for all 4 SMTP connections")
        try assertEachReceivedOnceAndRecorded(server: server, store: outbox.store, recorders: recorders, count: count)
        XCTAssertLessThanOrEqual(seen.withLock { $0 }, 4, "the window's bound")
        // Commands the server found already read when it answered: MAIL's and RCPT's replies
        // (RCPT, DATA waiting), and the final "."'s (the next envelope waiting) for all but each
        // connection's last message. Without the next envelope in the "."'s write: 2 a message.
        XCTAssertGreaterThanOrEqual(try server.count("commands-in-one-read"), count * 5 / 2)
        XCTAssertLessThanOrEqual(transport.finalDotsSentAlone, count / 4, "final dots sent in a write of their own")
        XCTAssertGreaterThan(Set(try server.received().map(\.envelope.peerPort)).count, 1, "the connections worked side by side")
    }

    /// A final "." that finds the window full while another connection's thread commits waits
    /// for that commit (it frees the place this connection's last message held) and then goes
    /// out in the same write as its message, rather than the message going first and the "."
    /// after it in a write of its own (one more send, and one more wake-up of the server). With
    /// commits slow enough (5 ms, a store waiting for its disk) that one is nearly always in
    /// progress, 4 connections at the default window sent most of their "."s alone before;
    /// the window's bound holds throughout and every message is recorded once.
    func testAFinalDotThatFindsACommitInProgressWaitsForItAndGoesWithItsMessageOnSQLite() throws {
        try TestRoot.requireSQLite("a commit in progress on SQLite")
        let count = 60
        let (server, store, database, outbox, messages, transport) = try fourConnections("inprogress", delivering: count, prefix: "p")
        XCTAssertEqual(transport.unrecordedLimit, 4)
        XCTAssertTrue(transport.recordsOnItsThreads)
        let seen = Mutex((mostUnrecorded: 0, decided: 0))
        let recorders = OutcomeRecorders(outbox: outbox, now: 1_000) { message, outcome in
            // Runs on the committing thread just before its commit, the group's places held.
            seen.withLock {
                let held = (try? self.receivedFiles(server)) ?? 0
                let recorded = (try? store.unsettledAcceptances().count) ?? 0
                $0.mostUnrecorded = max($0.mostUnrecorded, held - recorded)
                $0.decided += 1
            }
            usleep(5_000)
            guard case .accepted(let reply) = outcome else { return .failed(reason: "not accepted: \(outcome)") }
            return .accepted(reply: reply)
        }
        try transport.deliver(messages, recordingOn: recorders)

        let result = seen.withLock { $0 }
        XCTAssertEqual(result.decided, count)
        XCTAssertLessThanOrEqual(result.mostUnrecorded, 4, "the window's bound")
        try assertEachReceivedOnceAndRecorded(server: server, store: store, recorders: recorders, count: count)
        // A few may go alone: the first commits' duration is not known yet (their waits are
        // short), and on a loaded machine a commit can take more than twice the one before it.
        // Without the wait, 25-54 of the 60 went alone (25 and 27 in two later runs, the machine busy with other tests).
        XCTAssertLessThanOrEqual(transport.finalDotsSentAlone, count / 5, "final dots sent in a write of their own")
        XCTAssertEqual(transport.connectionsOpened, 4, "no transfer given up for want of a place")
        withExtendedLifetime(database) {}
    }

    /// On PostgreSQL, where each commit costs the server a WAL flush, the connections' threads
    /// commit whole windows: with 4 connections at the default window, a commit waits until
    /// every message holding a place has its reply, so 60 acceptances take about 15 commits
    /// (counted by the server's transaction ids), where committing whatever waited took about
    /// twice as many; the window's bound holds throughout and every acceptance is recorded once.
    func testOnPostgreSQLTheConnectionsThreadsCommitWholeWindows() throws {
        try TestRoot.requirePostgreSQL("a PostgreSQL store's commits")
        let count = 60
        let (server, store, database, outbox, messages, transport) = try fourConnections("whole", delivering: count, prefix: "w")
        XCTAssertTrue(transport.recordsOnItsThreads)
        let seen = Mutex((mostUnrecorded: 0, decided: 0))
        let recorders = OutcomeRecorders(outbox: outbox, now: 1_000) { message, outcome in
            // Runs on the committing thread just before its commit, the group's places held.
            seen.withLock {
                let held = (try? self.receivedFiles(server)) ?? 0
                let recorded = (try? store.unsettledAcceptances().count) ?? 0
                $0.mostUnrecorded = max($0.mostUnrecorded, held - recorded)
                $0.decided += 1
            }
            guard case .accepted(let reply) = outcome else { return .failed(reason: "not accepted: \(outcome)") }
            return .accepted(reply: reply)
        }
        let before = try commits(in: store)
        try transport.deliver(messages, recordingOn: recorders)
        let made = try commits(in: store) - before

        XCTAssertEqual(seen.withLock { $0.decided }, count)
        XCTAssertLessThanOrEqual(seen.withLock { $0.mostUnrecorded }, 4, "the window's bound")
        try assertEachReceivedOnceAndRecorded(server: server, store: store, recorders: recorders, count: count)
        // Whole windows but for a few partial ones (the start, with one connection until the
        // first acceptance; each connection's last; with the next envelope sent with the final
        // "." the groups shift by one at times): 19-20 here, against 30 for commits of about two
        // messages and 60 for one each.
        XCTAssertLessThanOrEqual(made, count / 4 + 5, "commits for \(count) acceptances on 4 connections")
        withExtendedLifetime(database) {}
    }

    /// On PostgreSQL too, the 4 connections' threads record through ONE session (the commits
    /// take turns anyway; a session each made the server wake and schedule a different backend
    /// for each commit): while they record, the server holds one session beside the outbox's
    /// own, counted by the server itself, and every acceptance is recorded once, within the
    /// window's bound.
    func testFourConnectionsOnPostgreSQLRecordThroughOneSession() throws {
        try TestRoot.requirePostgreSQL("a PostgreSQL store's sessions")
        let count = 60
        let (server, store, database, outbox, messages, transport) = try fourConnections("session", delivering: count, prefix: "s")
        XCTAssertTrue(transport.recordsOnItsThreads)
        let sessions = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        let before = try XCTUnwrap(store.db.scalarInt(sessions))
        let seen = Mutex((mostSessions: 0, mostUnrecorded: 0, decided: 0))
        let recorders = OutcomeRecorders(outbox: outbox, now: 1_000) { message, outcome in
            // Runs on the committing thread just before its commit, the group's places held; the
            // outbox's own session is idle meanwhile.
            seen.withLock {
                let open = (try? store.db.scalarInt(sessions)) ?? 0
                let held = (try? self.receivedFiles(server)) ?? 0
                let recorded = (try? store.unsettledAcceptances().count) ?? 0
                $0.mostSessions = max($0.mostSessions, open)
                $0.mostUnrecorded = max($0.mostUnrecorded, held - recorded)
                $0.decided += 1
            }
            guard case .accepted(let reply) = outcome else { return .failed(reason: "not accepted: \(outcome)") }
            return .accepted(reply: reply)
        }
        try transport.deliver(messages, recordingOn: recorders)

        let result = seen.withLock { $0 }
        XCTAssertEqual(result.decided, count)
        XCTAssertEqual(result.mostSessions - before, 1, "sessions the recording opened, at most at once")
        XCTAssertEqual(recorders.connectionsOpened, 1)
        XCTAssertLessThanOrEqual(result.mostUnrecorded, 4, "the window's bound")
        XCTAssertEqual(try receivedFiles(server), count)
        XCTAssertEqual(try store.unsettledAcceptances().count, count)
        XCTAssertEqual(recorders.report, Outbox.DeliveryReport(sent: count, deferred: 0, failed: 0))
        XCTAssertGreaterThan(Set(try server.received().map(\.envelope.peerPort)).count, 1, "the connections worked side by side")
        withExtendedLifetime(database) {}
    }

    /// Delivered in several batches on 4 connections, every message ends up sent with the reply
    /// that accepted it and nothing is left waiting to be settled, on either backend: on
    /// PostgreSQL each batch's acceptances are settled while the next batch is delivered, and
    /// the last batch's once the delivery is done.
    func testEveryBatchIsSettledIntoSentMessagesWithTheirReplies() throws {
        let server = try startServer()
        let (store, database) = try backendStore("batches")
        var outbox = Outbox(store: store)
        outbox.batchSize = 10
        try enqueue(35, into: outbox, prefix: "b")
        var configuration = server.configuration
        configuration.maxConnections = 4
        let transport = try SMTPTransport(configuration: configuration)

        XCTAssertEqual(try outbox.deliverDue(through: transport, now: 1_000), Outbox.DeliveryReport(sent: 35, deferred: 0, failed: 0))

        XCTAssertEqual(try receivedFiles(server), 35)
        XCTAssertEqual(try store.unsettledAcceptances(), [], "nothing waits to be settled")
        let sent = try outbox.list(states: ["sent"])
        XCTAssertEqual(sent.count, 35)
        XCTAssertTrue(sent.allSatisfy { $0.lastError?.hasPrefix("250") == true }, "\(sent.map(\.lastError))")
        XCTAssertEqual(try outbox.counts(), Outbox.Counts(queued: 0, deferred: 0, failed: 0, sent: 35, oldestDeferred: nil))
        withExtendedLifetime(database) {}
    }

    /// On SQLite a delivery of several batches copies the write-ahead log into the database file
    /// on a thread of its own ("ef-checkpoints"), so the recording commits seldom stop the
    /// connections for that copy and its syncs; the thread starts with the second batch (a run with a batch or
    /// less to send never pays for it) and is gone once the delivery returned, and every message
    /// reaches the server once and is recorded sent.
    func testASQLiteDeliveryOfSeveralBatchesCheckpointsBesideItAndStopsDoingSoWhenItReturns() throws {
        try TestRoot.requireSQLite("the write-ahead log and its checkpoints are SQLite's")
        let server = try startServer()
        var configuration = server.configuration
        configuration.maxConnections = 4
        let transport = try SMTPTransport(configuration: configuration)
        for (count, beside) in [(8, false), (80, true)] {
            let (store, database) = try backendStore("beside\(count)")
            var outbox = Outbox(store: store)
            outbox.batchSize = 10
            try enqueue(count, into: outbox, prefix: "k\(count)m")
            let received = try receivedFiles(server)
            XCTAssertTrue(Self.noCheckpointThreadRuns(), "no checkpoint thread before the delivery")
            let watching = Mutex((seen: false, done: false))
            let watcher = Thread {
                while !watching.withLock({ $0.done }) {
                    if Self.threadNames().contains("ef-checkpoints") { watching.withLock { $0.seen = true } }
                    usleep(500)
                }
            }
            watcher.start()
            XCTAssertEqual(try outbox.deliverDue(through: transport, now: 1_000), Outbox.DeliveryReport(sent: count, deferred: 0, failed: 0))
            watching.withLock { $0.done = true }

            XCTAssertEqual(watching.withLock { $0.seen }, beside, "\(count) messages in batches of 10: a checkpoint thread beside the delivery")
            XCTAssertTrue(Self.noCheckpointThreadRuns(), "no checkpoint thread left after the delivery")
            XCTAssertEqual(try receivedFiles(server) - received, count)
            XCTAssertEqual(try outbox.counts(), Outbox.Counts(queued: 0, deferred: 0, failed: 0, sent: count, oldestDeferred: nil))
            withExtendedLifetime(database) {}
        }
    }

    /// True when no "ef-checkpoints" thread runs in this process once any that is ending has
    /// exited (a delivery's thread ends its loop before the delivery returns, and exits a moment
    /// after): waits up to a second for that.
    private static func noCheckpointThreadRuns() -> Bool {
        for _ in 0..<200 where threadNames().contains("ef-checkpoints") { usleep(5_000) }
        return !threadNames().contains("ef-checkpoints")
    }

    /// The names of this process's threads, as the kernel knows them.
    private static func threadNames() -> [String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.compactMap { try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// One reply slow to come (a server that takes 2 seconds over one message) does not hold the
    /// other messages' places, on either store: a connection waiting for a place commits the
    /// outcomes that are in (on PostgreSQL, where a commit waits for the rest of the window's
    /// replies, once it waited about as long as a commit takes), so the other 3 connections
    /// deliver the rest of the batch meanwhile and the slow message is among the last recorded,
    /// within the window's bound.
    func testOneSlowReplyDoesNotHoldTheOtherConnectionsPlacesOnEitherBackend() throws {
        let server = try startServer()
        let (store, database) = try backendStore("slow")
        let outbox = Outbox(store: store)
        // Not the first message: until a session worked only one connection sends.
        try enqueueFourThenASlowOne(into: outbox, prefix: "f")
        let count = 40
        try enqueue(count - 5, into: outbox, prefix: "s")
        let messages = try dueMessages(count, in: store)
        XCTAssertEqual(messages.count, count)
        XCTAssertEqual(messages[4].recipient, "slow@example.org")
        var configuration = server.configuration
        configuration.maxConnections = 4
        configuration.timeout = 10
        let transport = try SMTPTransport(configuration: configuration)
        let seen = Mutex((mostUnrecorded: 0, decided: 0, decidedBeforeSlow: -1))
        let recorders = OutcomeRecorders(outbox: outbox, now: 1_000) { message, outcome in
            seen.withLock {
                let held = (try? self.receivedFiles(server)) ?? 0
                let recorded = (try? store.unsettledAcceptances().count) ?? 0
                $0.mostUnrecorded = max($0.mostUnrecorded, held - recorded)
                if message.recipient == "slow@example.org" { $0.decidedBeforeSlow = $0.decided }
                $0.decided += 1
            }
            guard case .accepted(let reply) = outcome else { return .failed(reason: "not accepted: \(outcome)") }
            return .accepted(reply: reply)
        }
        try transport.deliver(messages, recordingOn: recorders)

        let result = seen.withLock { $0 }
        XCTAssertEqual(result.decided, count)
        // All but the slow one and, where the next envelope goes with a final ".", the message
        // whose envelope went with the slow one's: it waits on that connection for the reply.
        XCTAssertGreaterThanOrEqual(result.decidedBeforeSlow, count - 2, "the others went on while the slow reply came")
        XCTAssertLessThanOrEqual(result.mostUnrecorded, 4, "the window's bound")
        XCTAssertEqual(try receivedFiles(server), count)
        XCTAssertEqual(try store.unsettledAcceptances().count, count)
        XCTAssertEqual(transport.connectionsOpened, 4, "no transfer given up for want of a place")
        withExtendedLifetime(database) {}
    }

    /// Final dots the server refuses (every fifth message's content) hold their places until
    /// their refusals commit, like acceptances: with 4 connections at the default window on
    /// either store, each message ends with its own outcome (the refused ones failed, with the
    /// server's reply; the others sent), and the server never holds more than the window's
    /// messages with no commit to record them.
    func testRefusedFinalDotsAmongAcceptancesEachEndWithTheirOwnOutcomeOnEitherBackend() throws {
        let server = try startServer()
        let (store, database) = try backendStore("refused")
        let outbox = Outbox(store: store)
        let count = 40
        for index in 1...count {
            let reject = index % 5 == 0 ? "X-Test-Reject: yes\r\n" : ""
            let bytes = Array("From: notify@example.org\r\nSubject: message \(index)\r\n\(reject)\r\nBody \(index).\r\n".utf8)
            try outbox.enqueue(recipient: "user\(index)@example.org", sender: "notify@example.org", subject: "message \(index)",
                               message: ComposedMessage(messageID: "<r\(index)@example.org>", bytes: bytes), now: 1_000)
        }
        let messages = try dueMessages(count, in: store)
        var configuration = server.configuration
        configuration.maxConnections = 4
        let transport = try SMTPTransport(configuration: configuration)
        XCTAssertTrue(transport.recordsOnItsThreads)
        let reader = try store.openingAnotherConnection()
        let seen = Mutex(0)
        let recorders = OutcomeRecorders(outbox: outbox, now: 1_000) { message, outcome in
            seen.withLock {
                let held = (try? self.receivedFiles(server)) ?? 0
                let recorded = (try? reader.unsettledAcceptances().count) ?? 0
                $0 = max($0, held - recorded)
            }
            switch outcome {
            case .accepted(let reply): return .accepted(reply: reply)
            case .permanentFailure(let reason): return .failed(reason: reason)
            case .temporaryFailure(let reason): return .deferred(reply: reason, until: 2_000)
            }
        }
        try transport.deliver(messages, recordingOn: recorders)

        XCTAssertEqual(recorders.report, Outbox.DeliveryReport(sent: 32, deferred: 0, failed: 8))
        XCTAssertLessThanOrEqual(seen.withLock { $0 }, 4, "the window's bound")
        XCTAssertEqual(try receivedFiles(server), 32)
        XCTAssertEqual(try reader.unsettledAcceptances().count, 32)
        XCTAssertEqual(try reader.unsettledAcceptances().filter { $0 % 5 == 0 }, [])
        XCTAssertEqual(try reader.db.scalarInt("""
            SELECT count(*) FROM outbox WHERE state = 'failed' AND id % 5 = 0 AND last_error LIKE '%554 5.6.0 message content rejected%'
            """), 8)
        withExtendedLifetime(database) {}
    }

    /// A message cancelled (its user removed) while the server holds it, and then accepted, ends
    /// sent with the server's reply, on either store, with 4 connections whose threads record:
    /// the server has it, so the acceptance counts over the cancellation.
    func testAMessageCancelledWhileTheServerHoldsItEndsSentOnEitherBackend() throws {
        let server = try startServer()
        let (store, database) = try backendStore("cancelled")
        let outbox = Outbox(store: store)
        try enqueueFourThenASlowOne(into: outbox, prefix: "c")
        var configuration = server.configuration
        configuration.maxConnections = 4
        let transport = try SMTPTransport(configuration: configuration)
        XCTAssertTrue(transport.recordsOnItsThreads)
        let other = try store.openingAnotherConnection()
        let delivery = BackgroundDelivery(outbox: outbox, transport: transport)
        Thread { delivery.run() }.start()
        // The other 4 are in the server's hands (their files appear before their 250s); the slow
        // one's reply is 2 seconds away.
        var waited = 0
        while try receivedFiles(server) < 4 && waited < 200 {
            usleep(10_000)
            waited += 1
        }
        XCTAssertEqual(try receivedFiles(server), 4)
        try other.db.execute("UPDATE outbox SET state = 'cancelled' WHERE id = 5 AND state = 'queued'", [])
        XCTAssertEqual(other.db.changes, 1)
        guard delivery.done.wait(timeout: .now() + 30) == .success else { return XCTFail("the delivery did not end within 30 s") }
        XCTAssertEqual(try XCTUnwrap(delivery.result).get().sent, 5)
        XCTAssertEqual(try receivedFiles(server), 5)
        XCTAssertEqual(try other.db.scalarInt("SELECT count(*) FROM outbox WHERE state = 'sent'"), 5)
        let reply = try XCTUnwrap(other.db.first("SELECT last_error FROM outbox WHERE id = 5", []) { try $0.string("last_error") })
        XCTAssertTrue(reply.hasPrefix("250 2.0.0 Ok: queued as "), reply)
        withExtendedLifetime(database) {}
    }

    /// A record that fails (here the store refuses message 10's row) fails the delivery once,
    /// with the store's reason; no message starts after it, at most the window's worth of
    /// messages went to the server unrecorded, and every message not recorded is still queued.
    func testARecordThatFailsCutsTheDeliveryOffOnceAndLeavesTheRestQueued() throws {
        let server = try startServer()
        var (outbox, _) = try queuedOutbox(60, name: "failing")
        outbox.recordPatience = .seconds(1)
        try outbox.store.breakAcceptances(when: "NEW.outbox_id = 10")
        var configuration = server.configuration
        configuration.maxConnections = 4
        let transport = try SMTPTransport(configuration: configuration)

        XCTAssertThrowsError(try outbox.deliverDue(through: transport, now: 1_000)) { error in
            XCTAssertTrue("\(error)".contains(outbox.store.refusedAcceptance), "\(error)")
        }

        let recorded = try outbox.store.unsettledAcceptances()
        let sent = recorded.count
        let queued = try queuedAndNotRecorded(in: outbox.store)
        XCTAssertEqual(sent + queued, 60, "every message is recorded or still queued")
        XCTAssertFalse(recorded.contains(10))
        XCTAssertLessThan(sent, 59, "the delivery stopped")
        let received = try receivedFiles(server)
        XCTAssertLessThanOrEqual(received - sent, 4, "at most one unrecorded message per connection went to the server")
        // The next delivery, with the store working again, sends what is left.
        try outbox.store.repairAcceptances()
        let report = try outbox.deliverDue(through: transport, now: 1_001)
        XCTAssertEqual(report.sent, queued)
        XCTAssertEqual(try outbox.store.db.scalarInt("SELECT count(*) FROM outbox WHERE state = 'sent'"), 60)
    }

    /// The store connections the connections' threads recorded on are closed when the delivery
    /// returns: a process that delivers again and again (a test run, a long-lived caller) must not
    /// keep one more PostgreSQL session, or SQLite connection and file handle, per SMTP
    /// connection each time.
    func testTheStoreConnectionsOpenedForRecordingAreClosedWhenTheDeliveryReturns() throws {
        let server = try startServer()
        let (store, database) = try backendStore("closing")
        let outbox = Outbox(store: store)
        var configuration = server.configuration
        configuration.maxConnections = 3
        configuration.maxUnrecordedAcceptances = 1  // the connections' threads record on PostgreSQL too
        let transport = try SMTPTransport(configuration: configuration)
        let before = try openStoreConnections(store)
        var afterFirst: Int?
        for round in 0..<3 {
            try enqueue(12, into: outbox, prefix: "r\(round)m")
            XCTAssertEqual(try outbox.deliverDue(through: transport, now: 1_000).sent, 12)
            // A PostgreSQL session ends on the server a moment after its client closed it.
            var open = try openStoreConnections(store)
            let deadline = Date().addingTimeInterval(5)
            while open > before && Date() < deadline {
                usleep(20_000)
                open = try openStoreConnections(store)
            }
            // SQLite keeps a closed connection's file handle for reuse while another connection
            // of the process holds a lock on the file: there the count must only stop growing.
            let expected = store.db.dialect == .postgresql ? before : (afterFirst ?? open)
            afterFirst = afterFirst ?? open
            XCTAssertEqual(open, expected, "round \(round): every connection opened to record was closed")
        }
        XCTAssertEqual(try store.db.scalarInt("SELECT count(*) FROM outbox WHERE state = 'sent'"), 36)
        withExtendedLifetime(database) {}
    }

    /// The store's connections now open: PostgreSQL sessions on its database, or this process's
    /// file handles on the SQLite file.
    private func openStoreConnections(_ store: Store) throws -> Int {
        if store.db.dialect == .postgresql {
            return try XCTUnwrap(store.db.scalarInt("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"))
        }
        let path = try XCTUnwrap(store.db as? Database).path
        let descriptors = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")
        return descriptors.filter { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)")) == path }.count
    }

    /// As above on the suite's backend (PostgreSQL's connections' threads record with a window
    /// of one): a record the store refuses fails the delivery once, with the store's reason,
    /// every connection's thread ends, every message not recorded is still queued, and the next
    /// delivery sends exactly those.
    func testARecordTheStoreRefusesFailsTheDeliveryOnceOnEitherBackend() throws {
        let server = try startServer()
        let (store, database) = try backendStore("refusing")
        try store.breakAcceptances(when: "NEW.outbox_id = 10")
        var outbox = Outbox(store: store)
        outbox.recordPatience = .seconds(1)
        try enqueue(40, into: outbox, prefix: "f")
        var configuration = server.configuration
        configuration.maxConnections = 3
        configuration.maxUnrecordedAcceptances = 1
        let transport = try SMTPTransport(configuration: configuration)

        XCTAssertThrowsError(try outbox.deliverDue(through: transport, now: 1_000)) { error in
            XCTAssertTrue("\(error)".contains(store.refusedAcceptance), "\(error)")
        }
        let recorded = try store.unsettledAcceptances().count
        let queued = try queuedAndNotRecorded(in: store)
        XCTAssertEqual(recorded + queued, 40, "every message is recorded or still queued")
        XCTAssertLessThanOrEqual(try receivedFiles(server) - recorded, 1, "at most the window's one message went unrecorded")
        try store.repairAcceptances()
        XCTAssertEqual(try outbox.deliverDue(through: transport, now: 1_001).sent, queued)
        XCTAssertEqual(try store.db.scalarInt("SELECT count(*) FROM outbox WHERE state = 'sent'"), 40)
        withExtendedLifetime(database) {}
    }

    /// A run cut off mid-batch (a record the store refuses) had already claimed the next batch,
    /// to deliver it as soon as this one was done: that batch was never handed to the server, so
    /// it is left exactly as an unclaimed one would be. Each of its messages is still queued and
    /// untried, another run (on PostgreSQL another session, while the cut-off run's lives on)
    /// takes and sends every message left, and the server gets each message once but for the
    /// window's one unrecorded acceptance.
    func testARunCutOffMidBatchLeavesTheBatchClaimedAheadToTheNextRunOnEitherBackend() throws {
        let server = try startServer()
        let (store, database) = try backendStore("cut-off")
        try store.breakAcceptances(when: "NEW.outbox_id = 5")
        var outbox = Outbox(store: store)
        outbox.recordPatience = .seconds(1)
        outbox.batchSize = 10
        try enqueue(40, into: outbox, prefix: "c")
        var configuration = server.configuration
        configuration.maxConnections = 2
        configuration.maxUnrecordedAcceptances = 1  // the connections' threads record, on PostgreSQL too
        let transport = try SMTPTransport(configuration: configuration)

        XCTAssertThrowsError(try outbox.deliverDue(through: transport, now: 1_000)) { error in
            XCTAssertTrue("\(error)".contains(store.refusedAcceptance), "\(error)")
        }
        let recorded = try store.unsettledAcceptances().count
        XCTAssertLessThan(recorded, 10, "the run stopped in its first batch")
        XCTAssertEqual(try store.db.scalarInt(
            "SELECT count(*) FROM outbox WHERE id > 10 AND state = 'queued' AND attempts = 0 AND last_attempt_at IS NULL"), 30,
            "the batch claimed ahead and the rest are queued and untried")
        XCTAssertEqual(try queuedAndNotRecorded(in: store), 40 - recorded)

        // Another run, while the cut-off run's store connection is still open, with the store working again.
        try store.repairAcceptances()
        let next = TestBackend.current == .postgresql
            ? Outbox(store: try Store(postgreSQL: try XCTUnwrap(database).connectionString)) : Outbox(store: store)
        XCTAssertEqual(try next.deliverDue(through: try SMTPTransport(configuration: configuration), now: 1_001).sent, 40 - recorded)
        XCTAssertEqual(try store.db.scalarInt("SELECT count(*) FROM outbox WHERE state = 'sent'"), 40)
        let subjects = try server.received().map { try XCTUnwrap(ParsedMail(bytes: $0.bytes).header("Subject")) }
        XCTAssertEqual(Set(subjects).count, 40, "every message reached the server")
        XCTAssertLessThanOrEqual(subjects.count, 41, "once each, but for the window's one unrecorded acceptance")
        withExtendedLifetime(database) {}
    }

    /// On PostgreSQL the next batch is claimed while the current one is delivered; a claim the
    /// store refuses there must still fail the delivery, once, with the store's error (what cron
    /// and `status` show), after the current batch went and was recorded: the claim changed
    /// nothing, so every message after that batch stays queued and untried, and the next run
    /// sends each of them once.
    func testAClaimAheadTheStoreRefusesFailsTheDeliveryAndLeavesTheRestQueuedOnPostgreSQL() throws {
        try TestRoot.requirePostgreSQL("the next batch claimed while one is delivered")
        let server = try startServer()
        let (store, database) = try backendStore("claim-refused")
        var outbox = Outbox(store: store)
        outbox.batchSize = 10
        try enqueue(30, into: outbox, prefix: "r")
        // The claim writes claimed_by into the rows it takes: the second batch's claim fails.
        try store.breakWrites("UPDATE", on: "outbox", when: "NEW.id = 15")
        var configuration = server.configuration
        configuration.maxConnections = 2
        let transport = try SMTPTransport(configuration: configuration)
        XCTAssertTrue(transport.recordsOnItsThreads)

        XCTAssertThrowsError(try outbox.deliverDue(through: transport, now: 1_000)) { error in
            XCTAssertTrue("\(error)".contains(BrokenWrites.message), "\(error)")
        }
        XCTAssertEqual(try receivedFiles(server), 10, "the first batch went, nothing after it")
        // Recorded: settled already (the settling runs beside the delivery), or waiting to be.
        XCTAssertEqual(try store.db.scalarInt(
            "SELECT count(*) FROM outbox WHERE state = 'sent' OR id IN (SELECT outbox_id FROM outbox_delivered)"), 10, "and it was recorded")
        XCTAssertEqual(try store.db.scalarInt(
            "SELECT count(*) FROM outbox WHERE id > 10 AND state = 'queued' AND attempts = 0 AND last_attempt_at IS NULL"), 20)

        try store.repairWrites(on: "outbox")
        let next = Outbox(store: try Store(postgreSQL: try XCTUnwrap(database).connectionString))
        XCTAssertEqual(try next.deliverDue(through: try SMTPTransport(configuration: configuration), now: 1_001).sent, 20)
        XCTAssertEqual(try store.db.scalarInt("SELECT count(*) FROM outbox WHERE state = 'sent'"), 30)
        let subjects = try server.received().map { try XCTUnwrap(ParsedMail(bytes: $0.bytes).header("Subject")) }
        XCTAssertEqual(subjects.count, 30)
        XCTAssertEqual(Set(subjects).count, 30, "each message once")
        withExtendedLifetime(database) {}
    }

    /// A batch whose every message fails before the server is asked (an address no envelope can
    /// carry) shows nothing about the session, so the other connections' threads wait to start
    /// until the first one's last message is taken: they must then end, and the delivery return
    /// with each message failed, rather than wait for ever.
    func testABatchOfMessagesNoEnvelopeCanCarryEndsAndFailsThem() throws {
        let server = try startServer()
        let (store, database) = try backendStore("unsendable")
        let outbox = Outbox(store: store)
        try enqueue(4, into: outbox, prefix: "u") { "user\($0)<x>@example.org" }
        var configuration = server.configuration
        configuration.maxConnections = 3
        configuration.maxUnrecordedAcceptances = 1  // the connections' threads record on PostgreSQL too
        let transport = try SMTPTransport(configuration: configuration)

        // On a thread of its own, so that a delivery that never ends fails this test, bounded.
        let delivery = BackgroundDelivery(outbox: outbox, transport: transport)
        let delivering = Thread { delivery.run() }
        delivering.start()
        guard delivery.done.wait(timeout: .now() + 30) == .success else {
            return XCTFail("the delivery did not end within 30 s")
        }
        let report = try XCTUnwrap(delivery.result).get()
        XCTAssertEqual(report, Outbox.DeliveryReport(sent: 0, deferred: 0, failed: 4))
        XCTAssertEqual(try store.db.scalarInt("SELECT count(*) FROM outbox WHERE state = 'failed'"), 4)
        XCTAssertEqual(try server.received().count, 0)
        withExtendedLifetime(database) {}
    }

    /// The recorders' store connections close with the delivery: none is left open (a process
    /// that delivers again and again must not gather connections).
    func testTheRecordersConnectionsCloseWithTheDelivery() throws {
        let server = try startServer()
        let (outbox, messages) = try queuedOutbox(8, name: "closing")
        var configuration = server.configuration
        configuration.maxConnections = 2
        let transport = try SMTPTransport(configuration: configuration)
        weak var released: OutcomeRecorders?
        try {
            let recorders = OutcomeRecorders(outbox: outbox, now: 1_000) { _, outcome in
                guard case .accepted(let reply) = outcome else { return .failed(reason: "not accepted: \(outcome)") }
                return .accepted(reply: reply)
            }
            released = recorders
            try transport.deliver(messages, recordingOn: recorders)
            XCTAssertEqual(recorders.report.sent, 8)
        }()
        // The connections' threads let go of it as they exit, just after the delivery returned.
        for _ in 0..<200 where released != nil { usleep(10_000) }
        XCTAssertNil(released, "the recorders, and with them their store connections, are gone")
    }

    /// Two runs delivering from one PostgreSQL store at the same moment (two hosts), each
    /// run's connections' threads recording on that run's one session: the claims keep them apart, so the
    /// server gets every message exactly once and every one is recorded sent.
    func testTwoRunsDeliveringFromOnePostgreSQLStoreAtOnceSendEachMessageOnce() throws {
        let server = try startServer()
        let database = try TestPostgres.server().makeDatabase()
        var first = Outbox(store: try Store(postgreSQL: database.connectionString))
        try enqueue(80, into: first, prefix: "h")
        var second = Outbox(store: try Store(postgreSQL: database.connectionString))
        var configuration = server.configuration
        configuration.maxConnections = 2
        configuration.maxUnrecordedAcceptances = 1  // the connections' threads record
        first.batchSize = 10
        second.batchSize = 10
        let deliveries = [BackgroundDelivery(outbox: first, transport: try SMTPTransport(configuration: configuration)),
                          BackgroundDelivery(outbox: second, transport: try SMTPTransport(configuration: configuration))]
        for delivery in deliveries { Thread { delivery.run() }.start() }
        for delivery in deliveries {
            guard delivery.done.wait(timeout: .now() + 60) == .success else { return XCTFail("a delivery did not end within 60 s") }
        }
        let sent = try deliveries.map { try XCTUnwrap($0.result).get().sent }
        XCTAssertEqual(sent.reduce(0, +), 80, "\(sent)")
        let subjects = try server.received().map { try XCTUnwrap(ParsedMail(bytes: $0.bytes).header("Subject")) }
        XCTAssertEqual(subjects.count, 80, "no message sent twice")
        XCTAssertEqual(Set(subjects).count, 80)
        XCTAssertEqual(try first.store.db.scalarInt("SELECT count(*) FROM outbox WHERE state = 'sent'"), 80)
    }

    /// Once delivery is suspended (here the server's port is closed), the messages of the batch
    /// left untried are recorded deferred together in one commit, not in a commit each: a queue
    /// meeting a dead server must not cost the store a disk flush per message. Each keeps its own
    /// outcome: deferred as not tried with the reason, an address no envelope can carry failed.
    func testASuspendedBatchIsRecordedInOneCommitOnEitherBackend() throws {
        let (store, database) = try backendStore("suspended")
        let outbox = Outbox(store: store)
        let count = 100
        try enqueue(count, into: outbox, prefix: "s") { $0 == 50 ? "user\($0)<x>@example.org" : "user\($0)@example.org" }
        let port = try SMTPTestServer.unusedPort()
        var configuration = SMTPConfiguration(server: "127.0.0.1", port: port, maxConnections: 4)
        configuration.maxUnrecordedAcceptances = 1  // the connections' threads record, on PostgreSQL too
        let transport = try SMTPTransport(configuration: configuration)
        XCTAssertTrue(transport.recordsOnItsThreads)

        if TestBackend.current == .sqlite {
            // Empties the write-ahead log, so that no checkpoint restarts it during the delivery.
            _ = try store.db.first("PRAGMA wal_checkpoint(TRUNCATE)") { $0.int(0) }
        }
        let before = try commits(in: store)
        let report = try outbox.deliverDue(through: transport, now: 1_000)
        let made = try commits(in: store) - before

        XCTAssertEqual(report, Outbox.DeliveryReport(sent: 0, deferred: count - 1, failed: 1))
        // The claim, the first message's deferral, the rest together, the settling: a handful,
        // whatever the batch's size (a commit per message made it over a hundred).
        XCTAssertLessThanOrEqual(made, 10, "commits for \(count) messages against a closed port")
        let label = "smtp 127.0.0.1:\(port)"
        XCTAssertEqual(try store.db.first("SELECT last_error FROM outbox WHERE id = 1") { $0.string(0) }, "\(label): connection refused")
        XCTAssertEqual(try store.db.scalarInt(
            "SELECT count(*) FROM outbox WHERE state = 'deferred' AND last_error = '\(label): not tried (delivery suspended for this run): connection refused'"),
            count - 2)
        XCTAssertEqual(try store.db.first("SELECT state FROM outbox WHERE id = 50") { $0.string(0) }, "failed")
        XCTAssertEqual(try store.db.scalarInt("SELECT count(*) FROM outbox WHERE attempts = 1"), count)
        withExtendedLifetime(database) {}
    }

    /// A suspended batch's untried messages are recorded as one: when the store refuses one of
    /// them, the delivery fails once with the store's reason and none of them is recorded (the
    /// transaction is undone), so every one is still queued and is recorded at the next run; the first
    /// message, recorded on its own before, stays deferred with the connection's failure.
    func testASuspendedBatchTheStoreRefusesToRecordFailsOnceAndStaysQueued() throws {
        let (store, database) = try backendStore("suspended-refused")
        try store.breakWrites("UPDATE", on: "outbox", when: "NEW.id = 10 AND NEW.state = 'deferred'")
        var outbox = Outbox(store: store)
        outbox.recordPatience = .seconds(1)
        try enqueue(20, into: outbox, prefix: "r")
        let port = try SMTPTestServer.unusedPort()
        var configuration = SMTPConfiguration(server: "127.0.0.1", port: port, maxConnections: 4)
        configuration.maxUnrecordedAcceptances = 1  // the connections' threads record, on PostgreSQL too
        let transport = try SMTPTransport(configuration: configuration)

        XCTAssertThrowsError(try outbox.deliverDue(through: transport, now: 1_000)) { error in
            XCTAssertTrue("\(error)".contains(BrokenWrites.message), "\(error)")
        }
        XCTAssertEqual(try store.db.first("SELECT state FROM outbox WHERE id = 1") { $0.string(0) }, "deferred")
        XCTAssertEqual(try store.db.scalarInt("SELECT count(*) FROM outbox WHERE state = 'queued' AND attempts = 0"), 19)
        // With the store working again the next run records them (message 1 waits its backoff).
        try store.repairWrites(on: "outbox")
        XCTAssertEqual(try outbox.deliverDue(through: transport, now: 1_001), Outbox.DeliveryReport(sent: 0, deferred: 19, failed: 0))
        XCTAssertEqual(try store.db.scalarInt("SELECT count(*) FROM outbox WHERE state = 'deferred' AND attempts = 1"), 20)
        withExtendedLifetime(database) {}
    }

    // MARK: - Helpers

    /// How many transactions have committed a write to `store` so far, from any connection. On
    /// PostgreSQL: the transaction ids handed out (each write transaction takes one, and so does
    /// this query). On SQLite: the commit frames in the write-ahead log (each commit's last frame
    /// carries the database's size in pages, every other frame zero) since it was last emptied.
    private func commits(in store: Store) throws -> Int {
        if TestBackend.current == .postgresql {
            return try XCTUnwrap(store.db.scalarInt("SELECT txid_current()"))
        }
        let path = try XCTUnwrap(store.db as? Database).path + "-wal"
        let log = (try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data()
        guard log.count >= 32 else { return 0 }
        let bytes = [UInt8](log)
        let word = { (at: Int) -> UInt32 in bytes[at..<at + 4].reduce(0) { $0 << 8 | UInt32($1) } }
        let pageSize = Int(word(8)) == 1 ? 65_536 : Int(word(8))
        let salts = (word(16), word(20))
        var commits = 0
        var frame = 32
        while frame + 24 + pageSize <= bytes.count, word(frame + 8) == salts.0, word(frame + 12) == salts.1 {
            if word(frame + 4) != 0 { commits += 1 }
            frame += 24 + pageSize
        }
        return commits
    }

    private func startServer() throws -> SMTPTestServer {
        let directory = workspace.appendingPathComponent("server\(servers.count + 1)")
        let server = try SMTPTestServer.start(port: 0, directory: directory, arguments: [])
        servers.append(server)
        return server
    }

    /// A store with `count` messages queued, and those messages as a transport gets them.
    private func queuedOutbox(_ count: Int, name: String) throws -> (Outbox, [OutgoingMessage]) {
        let outbox = Outbox(store: try recordingStore(try Store(root: workspace.appendingPathComponent(name))))
        try enqueue(count, into: outbox, prefix: "m")
        let messages = try dueMessages(count, in: outbox.store)
        XCTAssertEqual(messages.count, count)
        return (outbox, messages)
    }

    /// A store on the suite's backend: a PostgreSQL database of its own (the test keeps the
    /// returned handle alive to its end), or a SQLite store named `name` in the workspace.
    private func backendStore(_ name: String) throws -> (Store, TestPostgresDatabase?) {
        guard TestBackend.current == .postgresql else { return (try recordingStore(try Store(root: workspace.appendingPathComponent(name))), nil) }
        let database = try TestPostgres.server().makeDatabase()
        return (try Store(postgreSQL: database.connectionString), database)
    }

    /// `store` with its acceptance log's id drawn (SQLite), as a delivery draws it before its
    /// first record: the recorders then record where a delivery's do.
    private func recordingStore(_ store: Store) throws -> Store {
        _ = try store.acceptanceLog(recording: true)
        return store
    }

    /// Queues 4 messages (as `enqueue`), then message 5 to slow@example.org, whose final "." the
    /// test server answers 2 seconds late (its `X-Test-Slow` header).
    private func enqueueFourThenASlowOne(into outbox: Outbox, prefix: String) throws {
        try enqueue(4, into: outbox, prefix: prefix)
        let slow = Array("From: notify@example.org\r\nSubject: slow\r\nX-Test-Slow: 2\r\n\r\nScanned slowly.\r\n".utf8)
        try outbox.enqueue(recipient: "slow@example.org", sender: "notify@example.org", subject: "slow",
                           message: ComposedMessage(messageID: "<slow@example.org>", bytes: slow), now: 1_000)
    }

    /// Queues messages 1 to `count` in `outbox`, each to `recipient(index)` (user<index>@example.org
    /// unless given), with the Message-ID `<prefix><index>@example.org`.
    private func enqueue(_ count: Int, into outbox: Outbox, prefix: String,
                         recipient: (Int) -> String = { "user\($0)@example.org" }) throws {
        for index in 1...count {
            let bytes = Array("From: notify@example.org\r\nSubject: message \(index)\r\n\r\nBody \(index).\r\n".utf8)
            try outbox.enqueue(recipient: recipient(index), sender: "notify@example.org", subject: "message \(index)",
                               message: ComposedMessage(messageID: "<\(prefix)\(index)@example.org>", bytes: bytes), now: 1_000)
        }
    }

    /// A delivery on 4 connections at the default window: the server, a store on the suite's
    /// backend named `name` (and its PostgreSQL database, for the test to keep alive) with
    /// messages 1 to `count` queued as `enqueue` queues them, those messages as the transport
    /// gets them, and the transport.
    private func fourConnections(_ name: String, delivering count: Int, prefix: String) throws
        -> (SMTPTestServer, Store, TestPostgresDatabase?, Outbox, [OutgoingMessage], SMTPTransport) {
        let server = try startServer()
        let (store, database) = try backendStore(name)
        let outbox = Outbox(store: store)
        try enqueue(count, into: outbox, prefix: prefix)
        var configuration = server.configuration
        configuration.maxConnections = 4
        return (server, store, database, outbox, try dueMessages(count, in: store), try SMTPTransport(configuration: configuration))
    }

    /// Messages 1 to `count` of `store`'s outbox, as a transport gets them.
    private func dueMessages(_ count: Int, in store: Store) throws -> [OutgoingMessage] {
        try store.dueOutboxMessages(now: 1_000, after: 0, through: Int64(count)).map {
            OutgoingMessage(id: $0.id, sender: $0.sender, recipient: $0.recipient, bytes: $0.bytes)
        }
    }

    /// Messages still queued whose acceptance is not recorded either.
    private func queuedAndNotRecorded(in store: Store) throws -> Int {
        let recorded = try store.unsettledAcceptances()
        return try store.db.map("SELECT id FROM outbox WHERE state = 'queued'", []) { try $0.int64("id") }.filter { !recorded.contains($0) }.count
    }

    /// How a delivery of messages 1 to `count` (queued by `enqueue`), all accepted, ends: the
    /// server received each message once (its files, and the subjects "message 1" to "message
    /// `count`"), the store recorded each acceptance, and the report counts them sent. A failure
    /// points at the calling test's line.
    private func assertEachReceivedOnceAndRecorded(server: SMTPTestServer, store: Store, recorders: OutcomeRecorders, count: Int,
                                                   file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(try receivedFiles(server), count, "messages received", file: file, line: line)
        let subjects = try server.received().map { try XCTUnwrap(ParsedMail(bytes: $0.bytes).header("Subject"), file: file, line: line) }
        XCTAssertEqual(Set(subjects), Set((1...count).map { "message \($0)" }), "each message once", file: file, line: line)
        XCTAssertEqual(try store.unsettledAcceptances().count, count, "acceptances recorded", file: file, line: line)
        XCTAssertEqual(recorders.report, Outbox.DeliveryReport(sent: count, deferred: 0, failed: 0), file: file, line: line)
    }

    private func receivedFiles(_ server: SMTPTestServer) throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: server.directory.path).filter { $0.hasSuffix(".eml") }.count
    }
}

/// One `deliverDue` on another thread, its result read once `done` is signalled (which orders
/// the write before the read): unchecked Sendable for that reason.
private final class BackgroundDelivery: @unchecked Sendable {
    let outbox: Outbox
    let transport: SMTPTransport
    let done = DispatchSemaphore(value: 0)
    private(set) var result: Result<Outbox.DeliveryReport, any Error>?

    init(outbox: Outbox, transport: SMTPTransport) {
        self.outbox = outbox
        self.transport = transport
    }

    func run() {
        result = Result { try outbox.deliverDue(through: transport, now: 1_000) }
        done.signal()
    }
}
