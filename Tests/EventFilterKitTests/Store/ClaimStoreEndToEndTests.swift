import Foundation
import XCTest

/// Many `eventfilter run` processes on one PostgreSQL store at once: each claims its own events
/// and messages (`FOR UPDATE SKIP LOCKED`, live while its session holds its worker lock), so every
/// (user, event) message arrives exactly once, a run killed with `kill -9` loses nothing and
/// resends at most what it had in flight, and each user gets one digest per due time. Real
/// PostgreSQL (a database of each test's own) and a real SMTP server; the mail is counted as
/// the server received it.
final class ClaimStoreEndToEndTests: XCTestCase {
    private let now = "2026-05-04T10:00:00Z"
    private var pool: SMTPServerPool!

    override func setUpWithError() throws {
        pool = try SMTPServerPool("ef-claims")
    }

    override func tearDown() {
        pool.stop()
    }

    /// An installation on a PostgreSQL database of its own, mailing through `server`, with
    /// `users` subscribers of node 2 and `events` published under it ("Story N" is event N).
    private func makeRoot(server: SMTPTestServer, users: Int, events: Int, digest: Bool = false) throws -> TestRoot {
        let root = try TestRoot(siteINI: TestRoot.smtpSiteINI(port: server.port, connectTimeout: nil, timeout: nil), postgres: try TestPostgres.server().makeDatabase())
        for user in 1...users {
            try root.ok("user", "add", "user\(user)@example.com", now: now)
            try root.ok("subscribe", "user\(user)@example.com", "2", now: now)
            if digest { try root.ok("digest", "user\(user)@example.com", "daily", "08:00", now: now) }
        }
        let lines = (1...events).map { #"{"type":"ezpublish","params":{"node_id":"\#($0 + 100)","path":"/1/2/\#($0 + 100)/","name":"Story \#($0)"}}"# }
        try root.ok("event", "import", "-", now: now, stdin: lines.joined(separator: "\n"))
        return root
    }

    /// `eventfilter run` started in the background (the test waits for it, bounded).
    private func startRun(_ root: TestRoot, now: String, _ extra: [String] = []) throws -> Process {
        let output = pool.scratch.appendingPathComponent("run-\(UUID().uuidString).out")
        let errors = pool.scratch.appendingPathComponent("run-\(UUID().uuidString).err")
        let process = try root.start(["run"] + extra, now: now, output: output, errors: errors)
        runOutputs.append(output)
        runErrors[process.processIdentifier] = errors
        return process
    }

    private var runErrors: [Int32: URL] = [:]
    private var runOutputs: [URL] = []

    /// What a run started with `startRun` printed on stderr.
    private func stderr(of process: Process) -> String {
        runErrors[process.processIdentifier].flatMap { try? String(contentsOf: $0, encoding: .utf8) } ?? ""
    }

    /// Waits for every process, at most `seconds` in all; kills and fails the ones still running.
    private func wait(_ processes: [Process], seconds: TimeInterval, file: StaticString = #filePath, line: UInt = #line) {
        let deadline = Date().addingTimeInterval(seconds)
        while processes.contains(where: \.isRunning), Date() < deadline { usleep(20_000) }
        for process in processes where process.isRunning {
            XCTFail("a run did not finish in \(Int(seconds)) s", file: file, line: line)
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// How many messages the server received for each (recipient, story number).
    private func receivedPairs(_ server: SMTPTestServer) throws -> [String: Int] {
        var pairs: [String: Int] = [:]
        for message in try server.received() {
            let text = String(decoding: message.bytes, as: UTF8.self)
            let subject = text.components(separatedBy: "\r\n").first { $0.hasPrefix("Subject: ") } ?? ""
            let story = subject.range(of: #"Story [0-9]+"#, options: .regularExpression).map { String(subject[$0].dropFirst(6)) } ?? "?"
            for recipient in message.envelope.recipients { pairs["\(recipient) \(story)", default: 0] += 1 }
        }
        return pairs
    }

    private func expectedPairs(users: Int, events: Int) -> Set<String> {
        Set((1...users).flatMap { user in (1...events).map { "user\(user)@example.com \($0)" } })
    }

    private func receivedCount(_ server: SMTPTestServer) -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: server.directory.path)) ?? []).filter { $0.hasSuffix(".eml") }.count
    }

    func testFourConcurrentRunsSendEveryMessageExactlyOnce() throws {
        // 20,000 messages: 40 batches of 500 for the four runs to share, and enough for every run
        // to claim events and mail; the Python test server takes them at 550-850 a second, which
        // is most of this test's time (twice as many took 150 s of the suite's 23 minutes).
        let users = 20, events = 1000
        let clock = ContinuousClock()
        let setUp = clock.now
        let server = try pool.start()
        let root = try makeRoot(server: server, users: users, events: events)
        print("set up in \(clock.now - setUp)")
        let started = clock.now
        let runs = try (1...4).map { _ in try startRun(root, now: now, ["--verbose"]) }
        wait(runs, seconds: 240)
        let elapsed = clock.now - started
        XCTAssertEqual(runs.map(\.terminationStatus), [0, 0, 0, 0], runs.map { stderr(of: $0) }.joined())

        let reading = clock.now
        let received = try receivedPairs(server)
        for output in runOutputs { print(try String(contentsOf: output, encoding: .utf8)) }
        print("read the mail in \(clock.now - reading)")
        let missing = expectedPairs(users: users, events: events).subtracting(received.keys)
        XCTAssertEqual(missing.count, 0, "every (user, event) message arrived; missing e.g. \(missing.sorted().prefix(5))")
        XCTAssertEqual(received.count, users * events, "and nothing else")
        let duplicates = received.values.reduce(0) { $0 + $1 - 1 }
        XCTAssertEqual(duplicates, 0, "none arrived twice")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox"), users * events)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox WHERE state <> 'sent'"), 0)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event WHERE handled_at IS NULL"), 0)
        // The four shared the work: more than one of them claimed events and messages.
        let eventWorkers = try root.scalar("SELECT count(DISTINCT claimed_by) FROM event WHERE type = 'ezpublish'")
        let mailWorkers = try root.scalar("SELECT count(DISTINCT claimed_by) FROM outbox")
        XCTAssertGreaterThan(eventWorkers, 1)
        XCTAssertGreaterThan(mailWorkers, 1)
        print("4 concurrent runs: \(received.values.reduce(0, +)) messages received for \(users * events), \(duplicates) duplicates, "
            + "events claimed by \(eventWorkers) runs, mail by \(mailWorkers), in \(elapsed)")
    }

    /// One of four runs killed with `kill -9` while it delivers, then a clean run: every message
    /// arrives, and the only duplicates are what the killed run had in flight (one SMTP
    /// connection: at most one message).
    func testKillNineOfOneRunLosesNothingAndDuplicatesAtMostItsMessageInFlight() throws {
        // 5,000 messages, the kill after 1,000 have arrived, while the four runs still have most
        // of them to claim and send: the Python test server's speed is most of this test's time.
        let users = 5, events = 1000
        let server = try pool.start()
        let root = try makeRoot(server: server, users: users, events: events)
        // Small batches, so all four runs filter and deliver until the end.
        try root.write("settings/override/notification.ini.append.php", "[EventFilterSettings]\nBatchSize=50\n")
        let runs = try (1...4).map { _ in try startRun(root, now: now) }
        // Let them deliver some (a bounded wait), then kill one without warning.
        let deadline = Date().addingTimeInterval(120)
        while receivedCount(server) < 1000, runs.allSatisfy(\.isRunning), Date() < deadline { usleep(5_000) }
        guard let victim = runs.first(where: \.isRunning), receivedCount(server) >= 1000 else {
            return XCTFail("no run was still delivering to be killed")
        }
        let claimedWhenKilled = try root.scalar("SELECT count(*) FROM outbox WHERE claimed_by IS NOT NULL AND state <> 'sent'")
        kill(victim.processIdentifier, SIGKILL)
        wait(runs, seconds: 240)
        XCTAssertEqual(victim.terminationReason, .uncaughtSignal)
        let others = runs.filter { $0 !== victim }
        XCTAssertEqual(others.map(\.terminationStatus), [0, 0, 0], others.map { stderr(of: $0) }.joined())
        let beforeCleanRun = receivedCount(server)

        let clean = try root.run(["run"], now: now)
        XCTAssertEqual(clean.status, 0, clean.stderr)

        let received = try receivedPairs(server)
        let missing = expectedPairs(users: users, events: events).subtracting(received.keys)
        XCTAssertEqual(missing.count, 0, "every (user, event) message arrived; missing e.g. \(missing.sorted().prefix(5))")
        XCTAssertEqual(received.count, users * events, "and nothing else")
        let duplicates = received.values.reduce(0) { $0 + $1 - 1 }
        XCTAssertLessThanOrEqual(duplicates, 1, "at most the one message the killed run had in flight")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox"), users * events, "each message queued once")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox WHERE state <> 'sent'"), 0)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event WHERE handled_at IS NULL"), 0)
        print("kill -9 of 1 of 4 runs: \(received.values.reduce(0, +)) received for \(users * events) messages, \(duplicates) duplicates; "
            + "\(beforeCleanRun) had arrived before the clean run, \(claimedWhenKilled) messages claimed and unsent when the kill came")
    }

    /// Four runs at one `ezcurrenttime` tick (`run --workers 4`), with 16 readers' daily digests
    /// due: each reader gets one digest with everything, and the report adds the four up.
    func testFourRunsAtOneTickSendOneDigestPerUser() throws {
        let users = 16, events = 30
        let server = try pool.start()
        let root = try makeRoot(server: server, users: users, events: events, digest: true)
        let held = try root.run(["run", "--verbose"], now: now)
        XCTAssertEqual(held.status, 0, held.stderr)
        XCTAssertTrue(held.stdout.hasPrefix("handled \(events + 1) events; queued 0 messages (0 digests); held \(users * events) items for digests"),
                      held.stdout)

        let tick = "2026-05-05T08:00:00Z"
        let run = try root.run(["run", "--workers", "4", "--verbose"], now: tick)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("; queued \(users) messages (\(users) digests); held 0 items for digests"), run.stdout)
        XCTAssertTrue(run.stdout.contains("\ndelivered \(users), deferred 0, failed 0 in "), run.stdout)
        // Four runs, four ticks at one time: whichever run claimed a tick, one digest per user.
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event WHERE type = 'ezcurrenttime' AND created_at = "
            + "(SELECT max(created_at) FROM event)"), 4)

        var digests: [String: Int] = [:]
        for message in try server.received() {
            let text = String(decoding: message.bytes, as: UTF8.self)
            XCTAssertTrue(text.contains("(\(events) items)"), "every item in the one digest")
            for recipient in message.envelope.recipients { digests[recipient, default: 0] += 1 }
        }
        XCTAssertEqual(digests, Dictionary(uniqueKeysWithValues: (1...users).map { ("user\($0)@example.com", 1) }), "one digest per user")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM digest_item"), 0)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event WHERE handled_at IS NULL"), 0)
    }

    /// Intake never waits for runs: with four runs each holding a claimed batch (a custom handler
    /// that waits to be released), `event add` stores its event at once.
    func testEventAddIsQuickWhileFourRunsHoldClaims() throws {
        let server = try pool.start()
        let root = try makeRoot(server: server, users: 2, events: 40)
        try root.write("settings/override/notification.ini.append.php", """
            [NotificationEventHandlerSettings]
            RepositoryDirectories[]=handlers
            AvailableNotificationEventTypes[]=hold

            [EventFilterSettings]
            BatchSize=2

            """)
        try FileManager.default.createDirectory(at: root.url.appendingPathComponent("holding"), withIntermediateDirectories: true)
        // Says it holds a batch, then waits (at most 60 s) until the test releases it.
        try root.write("handlers/hold/holdhandler", """
            #!/usr/bin/env python3
            import os, sys, time
            sys.stdin.read()
            open("holding/%d" % os.getpid(), "w").close()
            deadline = time.time() + 60
            while not os.path.exists("release") and time.time() < deadline:
                time.sleep(0.02)
            """, executable: true)
        let runs = try (1...4).map { _ in try startRun(root, now: now) }
        defer { FileManager.default.createFile(atPath: root.url.appendingPathComponent("release").path, contents: nil) }
        let holding = { (try? FileManager.default.contentsOfDirectory(atPath: root.url.appendingPathComponent("holding").path).count) ?? 0 }
        let deadline = Date().addingTimeInterval(60)
        while holding() < 4, Date() < deadline { usleep(10_000) }
        XCTAssertEqual(holding(), 4, "each run holds a batch")
        XCTAssertEqual(try root.scalar("SELECT count(DISTINCT claimed_by) FROM event WHERE handled_at IS NULL AND claimed_by IS NOT NULL"), 4)

        let clock = ContinuousClock()
        let started = clock.now
        let added = try root.run(["event", "add", "ezpublish", "node_id=999", "path=/1/2/999/", "name=Story 999"], now: now)
        let took = clock.now - started
        XCTAssertEqual(added.status, 0, added.stderr)
        XCTAssertLessThan(took, .seconds(3), "event add waited for the runs")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event WHERE node_id = '999'"), 1)

        FileManager.default.createFile(atPath: root.url.appendingPathComponent("release").path, contents: nil)
        wait(runs, seconds: 120)
        XCTAssertEqual(runs.map(\.terminationStatus), [0, 0, 0, 0], runs.map { stderr(of: $0) }.joined())
        print("event add while four runs held claims: \(took)")
    }
}
