import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// `eventfilter fastcgi` as a web server sees it, over its socket: the same answers as the CGI
/// program, requests one after another on one process, broken peers ending only their own
/// connection, and the signals an operator sends.
final class FastCGIEndToEndTests: XCTestCase {
    private typealias F = IngestFixture
    private typealias B = FastCGIBytes

    private func request(_ client: FastCGIClient, id: UInt16 = 1, keep: Bool = false, _ method: String, _ target: String,
                         body: String? = nil, contentType: String? = nil, headers: [(String, String)] = []) -> FastCGIClient.Answer? {
        client.send(B.request(id, keep: keep, FastCGIClient.params(method: method, target, body: body, contentType: contentType, headers: headers),
                              body: Array((body ?? "").utf8)))
        return client.answer(id)
    }

    private func request(_ port: UInt16, _ method: String, _ target: String, body: String? = nil, contentType: String? = nil,
                         headers: [(String, String)] = []) throws -> FastCGIClient.Answer {
        try XCTUnwrap(request(try FastCGIClient(port: port), method, target, body: body, contentType: contentType, headers: headers))
    }

    func testAnswersAreByteForByteThoseOfTheCGIProgram() throws {
        let cgiRoot = try F.makeRoot(), fcgiRoot = try F.makeRoot()
        let responder = try ResponderProcess(root: fcgiRoot, now: F.scheduleNow)
        let cases: [(method: String, target: String, body: String?, type: String?, headers: [(String, String)])] = [
            ("POST", "/kaltura", F.kalturaSingle, F.form, []),
            ("POST", "/kaltura", F.kalturaSingle, F.form, []),   // the replay: a duplicate
            ("POST", "/webinars", F.schedule, "application/json", [("X-Kaltura-Signature", F.scheduleSHA1)]),
            ("POST", "/panda?token=\(F.pandaToken)", F.pandaEncoded, F.form, []),
            ("POST", "/panda?token=wrong", F.pandaEncoded, F.form, []),
            ("POST", "/enablex", F.enablexRecording, "application/json", [("Authorization", F.enablexAuthorization)]),
            ("POST", "/enablex", F.enablexRecording, "application/json", []),
            ("GET", "/panda", nil, nil, []),
            ("POST", "/panda?token=\(F.pandaToken)", String(repeating: "x", count: 5000), F.form, []),
            ("POST", "/nosuchsource", "a=1", F.form, []),
            ("POST", "/../../etc/passwd", "a=1", F.form, []),
            ("POST", "/panda/../kaltura", "a=1", F.form, []),
            ("GET", "/settings", nil, nil, []),
            ("GET", "/settings/abc123", nil, nil, []),
            ("GET", "/unsubscribe/abc/def", nil, nil, []),
            ("GET", "/unsubscribe/0123abcd", nil, nil, []),
            ("POST", "/unsubscribe/not-a-token!", "", F.form, []),
            ("GET", "/", nil, nil, []),
        ]
        for item in cases {
            var environment = Dictionary(uniqueKeysWithValues: FastCGIClient.params(
                method: item.method, item.target, body: item.body, contentType: item.type, headers: item.headers))
            environment["EVENTFILTER_ROOT"] = nil
            let cgi = try cgiRoot.run(["cgi"], now: F.scheduleNow, stdin: item.body ?? "", environment: environment)
            let fcgi = try request(responder.port, item.method, item.target, body: item.body, contentType: item.type, headers: item.headers)
            XCTAssertEqual(fcgi.stdout, cgi.stdout, "\(item.method) \(item.target)")
            XCTAssertEqual(fcgi.protocolStatus, 0)
            // The refusal lines are the CGI program's, under the responder's name; for a path
            // with a token in it they go to the responder's own stderr, not to the web server,
            // which would log the request line (token and all) next to them.
            let line = cgi.stderr.replacingOccurrences(of: "eventfilter: cgi: ", with: "eventfilter: fastcgi: ")
            let personal = ["/unsubscribe/", "/settings/"].contains { item.target.hasPrefix($0) }
            XCTAssertEqual(fcgi.stderr, personal ? "" : line, "\(item.method) \(item.target)")
            if personal && !line.isEmpty {
                XCTAssertTrue(waitFor { responder.stderr.contains(line) }, "\(item.method) \(item.target): \(responder.stderr)")
            }
        }
        XCTAssertEqual(fcgiRoot.eventCount, 5)
        let events = "SELECT id, type, params, dedupe_key, created_at FROM event ORDER BY id"
        XCTAssertEqual(try Self.rows(fcgiRoot, events), try Self.rows(cgiRoot, events))
        XCTAssertEqual(responder.stop(), 0)
    }

    func testKeptConnectionManagementRecordsAndRefusedRequests() throws {
        let root = try F.makeRoot()
        let responder = try ResponderProcess(root: root, now: F.scheduleNow)
        let client = try FastCGIClient(port: responder.port)
        client.send(B.record(9, 0, B.pairs([("FCGI_MAX_CONNS", ""), ("FCGI_MPXS_CONNS", ""), ("FCGI_MAX_REQS", "")])))
        let values = try XCTUnwrap(client.readRecord())
        XCTAssertEqual(values.type, 10)
        XCTAssertEqual(values.content, B.pairs([("FCGI_MAX_CONNS", "64"), ("FCGI_MPXS_CONNS", "0"), ("FCGI_MAX_REQS", "64")]))
        client.send(B.record(99, 0))
        XCTAssertEqual(try XCTUnwrap(client.readRecord()).content, [99, 0, 0, 0, 0, 0, 0, 0])

        // Two requests on one kept connection; a second id while the first is open is refused.
        let first = try XCTUnwrap(request(client, id: 1, keep: true, "POST", "/panda?token=\(F.pandaToken)", body: F.pandaEncoded, contentType: F.form))
        XCTAssertEqual(first.status, 200, first.stdout)
        client.send(B.begin(2, keep: true) + B.begin(3, keep: true))
        let refused = try XCTUnwrap(client.readRecord())
        XCTAssertEqual(refused.type, 3)
        XCTAssertEqual(refused.id, 3)
        XCTAssertEqual(refused.content, [0, 0, 0, 0, 1, 0, 0, 0])   // CANT_MPX_CONN
        client.send(B.record(4, 2, B.pairs(FastCGIClient.params(method: "GET", "/panda", body: nil, contentType: nil))) + B.record(4, 2) + B.record(5, 2))
        XCTAssertEqual(client.answer(2)?.status, 405)
        client.send(B.begin(4, role: 2, keep: true))
        XCTAssertEqual(try XCTUnwrap(client.readRecord()).content, [0, 0, 0, 0, 3, 0, 0, 0])   // UNKNOWN_ROLE
        // Without KEEP_CONN the responder closes after the answer.
        XCTAssertEqual(request(client, id: 5, keep: false, "GET", "/panda")?.status, 405)
        XCTAssertTrue(client.isClosedByPeer())
        XCTAssertEqual(root.eventCount, 1)
    }

    func testBrokenStreamsEndOnlyTheirConnection() throws {
        let root = try F.makeRoot()
        let responder = try ResponderProcess(root: root, now: F.scheduleNow)
        let before = try root.dump()
        let broken: [[UInt8]] = [
            Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8),                 // HTTP instead of FastCGI
            B.record(1, 1, [0, 1, 0]),                                        // a short FCGI_BEGIN_REQUEST
            B.begin(1) + B.record(4, 1, [UInt8](repeating: 0x7F, count: 9000)) + B.record(4, 1, [UInt8](repeating: 0x7F, count: 65535))
                + B.record(4, 1, [UInt8](repeating: 0x7F, count: 65535)),   // params over the limit
        ]
        for stream in broken {
            let client = try FastCGIClient(port: responder.port)
            client.send(stream)
            XCTAssertTrue(client.isClosedByPeer())
        }
        // A web server that hangs up in the middle of a body: nothing is stored.
        let params = FastCGIClient.params(method: "POST", "/panda?token=\(F.pandaToken)", body: F.pandaEncoded, contentType: F.form)
        do {
            let client = try FastCGIClient(port: responder.port)
            client.send(B.begin(1) + B.record(4, 1, B.pairs(params)) + B.record(4, 1) + B.record(5, 1, Array(F.pandaEncoded.utf8.prefix(10))))
        }
        let aborting = try FastCGIClient(port: responder.port)
        aborting.send(B.begin(1, keep: true) + B.record(4, 1, B.pairs(params)))
        aborting.send(B.record(2, 1))   // and one that aborts, keeping its connection open
        XCTAssertEqual(aborting.readRecord()?.content, [0, 0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(try root.dump(), before, "nothing stored by a broken or abandoned request")

        let answer = try request(responder.port, "POST", "/panda?token=\(F.pandaToken)", body: F.pandaEncoded, contentType: F.form)
        XCTAssertEqual(answer.status, 200, answer.stdout)
        // The kept connection stayed open next to the new one, and serves its next request.
        XCTAssertEqual(request(aborting, id: 2, keep: true, "GET", "/panda")?.status, 405)
        XCTAssertEqual(root.eventCount, 1)
        XCTAssertTrue(responder.process.isRunning)
        XCTAssertTrue(responder.stderr.contains("eventfilter: fastcgi: connection closed: record version 71, expected 1"), responder.stderr)
        XCTAssertTrue(responder.stderr.contains("eventfilter: fastcgi: connection closed: parameters over the limit of 65536 bytes"), responder.stderr)
        XCTAssertTrue(responder.stderr.contains("eventfilter: fastcgi: connection closed by the web server in the middle of a request"), responder.stderr)
    }

    /// A body that runs past the limit with no CONTENT_LENGTH saying so is refused by the
    /// responder itself, before the router; under /settings the answer still carries the pages' headers.
    func testABodyOverTheLimitUnderSettingsIsRefusedWithThePagesHeaders() throws {
        let root = try F.makeRoot()
        let responder = try ResponderProcess(root: root, now: F.scheduleNow)
        let params = FastCGIClient.params(method: "POST", "/settings/" + String(repeating: "A", count: 43), body: nil, contentType: F.form)
        let chunk = [UInt8](repeating: 0x61, count: 65528)
        for path in ["/settings/" + String(repeating: "A", count: 43), "/panda"] {
            let client = try FastCGIClient(port: responder.port)
            let these = params.map { $0.0 == "PATH_INFO" ? ($0.0, path) : $0 }
            client.send(B.begin(1) + B.record(4, 1, B.pairs(these)) + B.record(4, 1))
            for _ in 0..<17 { client.send(B.record(5, 1, chunk)) }   // 1.06 MiB, over the 1 MiB default
            client.send(B.record(5, 1))
            let answer = try XCTUnwrap(client.answer())
            XCTAssertEqual(answer.status, 413, path)
            let pageHeaders = ["Cache-Control: no-store\r\n", "Referrer-Policy: no-referrer\r\n", "X-Frame-Options: DENY\r\n",
                               "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'\r\n"]
            for header in pageHeaders {
                XCTAssertEqual(answer.stdout.contains(header), path.hasPrefix("/settings/"), "\(path): \(header)")
            }
            XCTAssertFalse(answer.stderr.contains("AAAAAAAAAA"), answer.stderr)
        }
        XCTAssertEqual(responder.stop(), 0)
    }

    /// A web server's pool of kept-alive connections (nginx's `keepalive`): one responder holds
    /// them all at once and answers on each, request after request, without reconnecting.
    func testManyKeptConnectionsAreServedAtOnce() throws {
        let root = try F.makeRoot()
        let responder = try ResponderProcess(root: root, now: F.scheduleNow)
        let clients = try (0..<20).map { _ in try FastCGIClient(port: responder.port) }
        for round in 0..<2 {
            for (index, client) in clients.enumerated() {
                let body = "event=video-encoded&video_id=v\(round)x\(index)&encoding_ids%5B0%5D=e\(index)"
                client.send(B.request(1, keep: true, FastCGIClient.params(method: "POST", "/panda?token=\(F.pandaToken)", body: body, contentType: F.form),
                                      body: Array(body.utf8)))
            }
            for (index, client) in clients.enumerated() {
                XCTAssertEqual(client.answer()?.status, 200, "round \(round), connection \(index)")
            }
        }
        XCTAssertEqual(root.eventCount, 40)
        XCTAssertEqual(responder.stop(), 0, "SIGTERM closes the idle kept connections and exits")
        for client in clients { XCTAssertTrue(client.isClosedByPeer()) }
    }

    /// Webhooks that arrive together are stored under one commit (one write-lock hold, as
    /// `EVENTFILTER_TRACE_WRITE_LOCK` reports), and each is answered only after it; a refused one
    /// among them stores nothing and costs the others nothing.
    func testWebhooksArrivingTogetherShareOneCommit() throws {
        // The commits are counted in the write-lock trace, which SQLite's connection writes.
        try TestRoot.requireSQLite("counts commits in SQLite's write-lock trace")
        let root = try F.makeRoot()
        let responder = try ResponderProcess(root: root, now: F.scheduleNow, environment: ["EVENTFILTER_TRACE_WRITE_LOCK": "1"])
        let clients = try (0..<5).map { _ in try FastCGIClient(port: responder.port) }
        for client in clients {   // each connection accepted before the requests come
            client.send(B.record(9, 0, B.pairs([("FCGI_MAX_CONNS", "")])))
            XCTAssertEqual(client.readRecord()?.type, 10)
        }
        let commitsBefore = responder.stderr.components(separatedBy: "ms committed").count
        // Stopped, the responder finds all five requests waiting when it goes on: one round.
        kill(responder.process.processIdentifier, SIGSTOP)
        for (index, client) in clients.enumerated() {
            let token = index == 3 ? "wrong-token" : F.pandaToken
            let body = "event=video-encoded&video_id=g\(index)&encoding_ids%5B0%5D=e\(index)"
            client.send(B.request(1, keep: true, FastCGIClient.params(method: "POST", "/panda?token=\(token)", body: body, contentType: F.form),
                                  body: Array(body.utf8)))
        }
        kill(responder.process.processIdentifier, SIGCONT)
        XCTAssertEqual(clients.map { $0.answer()?.status }, [200, 200, 200, 403, 200])
        XCTAssertEqual(root.eventCount, 4)
        XCTAssertEqual(responder.stderr.components(separatedBy: "ms committed").count - commitsBefore, 1, responder.stderr)
        XCTAssertEqual(responder.stop(), 0)
    }

    /// A web server that sends requests and never reads the answers fills the socket buffers
    /// between them; the responder must not wait on that one connection (it waited up to 30 s,
    /// the read timeout, with every other connection stalled).
    func testAPeerThatNeverReadsItsAnswersStallsNoOtherConnection() throws {
        let root = try F.makeRoot()
        let responder = try ResponderProcess(root: root, now: F.scheduleNow)
        let other = try FastCGIClient(port: responder.port)
        XCTAssertEqual(request(other, keep: true, "GET", "/panda")?.status, 405)

        // FCGI_GET_VALUES records, each answered at once: send them until the socket takes no
        // more for half a second, so the answers fill both buffers and the responder's writes
        // no longer fit.
        let flood = try FastCGIClient(port: responder.port)
        _ = fcntl(flood.fd, F_SETFL, fcntl(flood.fd, F_GETFL) | O_NONBLOCK)
        let chunk = Array([[UInt8]](repeating: B.record(9, 0, B.pairs([("FCGI_MAX_CONNS", "")])), count: 4096).joined())
        var sent = 0
        var stalledSince: Date?
        let deadline = Date().addingTimeInterval(20)
        while sent < 512 << 20 && Date() < deadline {
            let count = chunk.withUnsafeBytes { Glibc.send(flood.fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
            if count > 0 {
                sent += count
                stalledSince = nil
            } else if count < 0 && errno == EAGAIN {
                if let since = stalledSince, Date().timeIntervalSince(since) > 0.5 { break }
                if stalledSince == nil { stalledSince = Date() }
                usleep(10_000)
            } else {
                break
            }
        }
        XCTAssertNotNil(stalledSince, "the flooding connection filled its buffers (sent \(sent) bytes)")

        let started = Date()
        let body = "event=video-encoded&video_id=beside&encoding_ids%5B0%5D=e1"
        let answer = request(other, id: 2, keep: true, "POST", "/panda?token=\(F.pandaToken)", body: body, contentType: F.form)
        XCTAssertEqual(answer?.status, 200)
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "answered beside the stalled connection")
        XCTAssertEqual(root.eventCount, 1)
        // The stalled connection still gets its answers once it reads them.
        XCTAssertEqual(flood.readRecord()?.type, 10)
        close(flood.fd)   // with bytes unread: a reset, which ends the responder's side too
        flood.fd = -1
        XCTAssertEqual(responder.stop(), 0)
    }

    /// A sender's retry that arrives in the same round as its first copy is stored once: each
    /// request's savepoint sees the ones before it in the shared transaction.
    func testAReplayInTheSameRoundAsItsFirstCopyIsStoredOnce() throws {
        let root = try F.makeRoot()
        let responder = try ResponderProcess(root: root, now: F.standardNow)
        let clients = try (0..<4).map { _ in try FastCGIClient(port: responder.port) }
        for client in clients {
            client.send(B.record(9, 0, B.pairs([("FCGI_MAX_CONNS", "")])))
            XCTAssertEqual(client.readRecord()?.type, 10)
        }
        kill(responder.process.processIdentifier, SIGSTOP)
        for (index, client) in clients.enumerated() {
            if index < 2 {
                client.send(B.request(1, keep: true, FastCGIClient.params(method: "POST", "/billing", body: F.standardBody,
                                                                          contentType: "application/json", headers: F.standardHeaders),
                                      body: Array(F.standardBody.utf8)))
            } else {
                client.send(B.request(1, keep: true, FastCGIClient.params(method: "POST", "/panda?token=\(F.pandaToken)", body: F.pandaEncoded,
                                                                          contentType: F.form),
                                      body: Array(F.pandaEncoded.utf8)))
            }
        }
        kill(responder.process.processIdentifier, SIGCONT)
        let answers = clients.map { $0.answer() }
        XCTAssertEqual(answers.map { $0?.status }, [200, 200, 200, 200])
        XCTAssertEqual(answers.filter { $0?.body.contains("duplicate") == true }.count, 2, answers.map { $0?.body ?? "" }.joined(separator: " | "))
        XCTAssertEqual(root.eventCount, 2)
        XCTAssertEqual(responder.stop(), 0)
    }

    /// In a shared commit, a request whose storing fails (here a trigger refuses its event type)
    /// is answered 500 and loses only its own writes; the others are stored and answered 200.
    func testAFailedStoreInASharedCommitUndoesOnlyItsOwnWrites() throws {
        let root = try F.makeRoot()
        let responder = try ResponderProcess(root: root, now: F.standardNow)
        try F.breakStore(root, forType: "billing.invoice.paid")
        let clients = try (0..<3).map { _ in try FastCGIClient(port: responder.port) }
        for client in clients {
            client.send(B.record(9, 0, B.pairs([("FCGI_MAX_CONNS", "")])))
            XCTAssertEqual(client.readRecord()?.type, 10)
        }
        kill(responder.process.processIdentifier, SIGSTOP)
        for (index, client) in clients.enumerated() {
            if index == 1 {
                client.send(B.request(1, keep: true, FastCGIClient.params(method: "POST", "/billing", body: F.standardBody,
                                                                          contentType: "application/json", headers: F.standardHeaders),
                                      body: Array(F.standardBody.utf8)))
            } else {
                let body = "event=video-encoded&video_id=s\(index)&encoding_ids%5B0%5D=e\(index)"
                client.send(B.request(1, keep: true, FastCGIClient.params(method: "POST", "/panda?token=\(F.pandaToken)", body: body,
                                                                          contentType: F.form),
                                      body: Array(body.utf8)))
            }
        }
        kill(responder.process.processIdentifier, SIGCONT)
        XCTAssertEqual(clients.map { $0.answer()?.status }, [200, 500, 200])
        XCTAssertEqual(root.eventCount, 2)
        XCTAssertEqual(responder.stop(), 0)
    }

    func testSIGTERMFinishesTheRequestInHand() throws {
        let root = try F.makeRoot()
        let responder = try ResponderProcess(root: root, now: F.scheduleNow)
        let client = try FastCGIClient(port: responder.port)
        let params = FastCGIClient.params(method: "POST", "/panda?token=\(F.pandaToken)", body: F.pandaEncoded, contentType: F.form)
        let body = Array(F.pandaEncoded.utf8)
        client.send(B.begin(1) + B.record(4, 1, B.pairs(params)) + B.record(4, 1) + B.record(5, 1, Array(body.prefix(10))))
        usleep(300_000)   // the responder is inside the request when the signal comes
        kill(responder.process.processIdentifier, SIGTERM)
        usleep(300_000)
        XCTAssertTrue(responder.process.isRunning, "still finishing the request")
        client.send(B.record(5, 1, Array(body.dropFirst(10))) + B.record(5, 1))
        XCTAssertEqual(client.answer()?.status, 200)
        let deadline = Date().addingTimeInterval(10)
        while responder.process.isRunning && Date() < deadline { usleep(10_000) }
        XCTAssertFalse(responder.process.isRunning)
        XCTAssertEqual(responder.process.terminationStatus, 0)
        XCTAssertEqual(root.eventCount, 1)
    }

    func testSIGHUPRereadsTheSettingsAndKeepsThemWhenBroken() throws {
        let root = try F.makeRoot()
        let responder = try ResponderProcess(root: root, now: F.scheduleNow)
        let body = "event=video-encoded&video_id=v9"
        XCTAssertEqual(try request(responder.port, "POST", "/media?token=new-token-1", body: body, contentType: F.form).status, 404)

        try root.write("settings/webhooks.ini", F.webhooksINI + "\n[Source-media]\nType=panda\nSecret=new-token-1\n")
        kill(responder.process.processIdentifier, SIGHUP)
        XCTAssertTrue(waitFor { self.responder(responder, logged: "settings re-read") })
        XCTAssertEqual(try request(responder.port, "POST", "/media?token=new-token-1", body: body, contentType: F.form).status, 200)

        try root.write("settings/webhooks.ini", "[Source-media]\nType=nonsense\n")
        kill(responder.process.processIdentifier, SIGHUP)
        XCTAssertTrue(waitFor { self.responder(responder, logged: "settings not re-read, the previous ones stay") }, responder.stderr)
        XCTAssertEqual(try request(responder.port, "POST", "/panda?token=\(F.pandaToken)", body: F.pandaEncoded, contentType: F.form).status, 200)
        XCTAssertEqual(root.eventCount, 2)
        XCTAssertEqual(responder.stop(), 0)
    }

    /// SIGHUP re-reads site.ini too, not only webhooks.ini: the settings pages follow it.
    func testSIGHUPRereadsTheSiteSettingsOfTheSettingsPages() throws {
        let root = try F.makeRoot()
        let site = try String(contentsOf: root.url.appendingPathComponent("settings/site.ini"), encoding: .utf8)
        try root.write("settings/site.ini", "[SiteSettings]\nSiteName=Test Site\n")  // no sender address
        let responder = try ResponderProcess(root: root, now: F.scheduleNow)
        XCTAssertEqual(try request(responder.port, "GET", "/settings").status, 500)

        try root.write("settings/site.ini", site)
        kill(responder.process.processIdentifier, SIGHUP)
        XCTAssertTrue(waitFor { self.responder(responder, logged: "settings re-read") })
        let page = try request(responder.port, "GET", "/settings")
        XCTAssertEqual(page.status, 200, page.stdout)
        XCTAssertEqual(responder.stop(), 0)
    }

    func testWorkersAreRestartedAndStoppedWithTheParent() throws {
        let root = try F.makeRoot()
        let responder = try ResponderProcess(root: root, now: F.scheduleNow, extra: ["--workers", "2"])
        let parent = responder.process.processIdentifier
        var children: [Int32] = []
        XCTAssertTrue(waitFor { children = Self.children(of: parent); return children.count == 2 }, "two workers: \(children)")
        kill(children[0], SIGKILL)
        var replaced: [Int32] = []
        XCTAssertTrue(waitFor { replaced = Self.children(of: parent); return replaced.count == 2 && !replaced.contains(children[0]) },
                      "a dead worker is replaced: \(replaced)")
        XCTAssertTrue(responder.stderr.contains("eventfilter: fastcgi: worker \(children[0]) was killed by signal 9; starting another"), responder.stderr)
        for index in 1...4 {
            let answer = try request(responder.port, "POST", "/panda?token=\(F.pandaToken)",
                                     body: "event=video-encoded&video_id=w\(index)", contentType: F.form)
            XCTAssertEqual(answer.status, 200)
        }
        XCTAssertEqual(responder.stop(), 0)
        for child in replaced { XCTAssertNotEqual(kill(child, 0), 0, "worker \(child) stopped with the parent") }
        XCTAssertEqual(root.eventCount, 4)
    }

    /// Each worker checkpoints the store beside its answers; the supervising parent, which
    /// answers nothing, runs no checkpoint thread of its own.
    func testOnlyTheWorkersRunTheCheckpointThread() throws {
        // Checkpoints move SQLite's write-ahead log into its file; PostgreSQL checkpoints itself.
        try TestRoot.requireSQLite("the checkpoint thread serves SQLite's write-ahead log")
        let root = try F.makeRoot()
        let responder = try ResponderProcess(root: root, now: F.scheduleNow, extra: ["--workers", "2"])
        let parent = responder.process.processIdentifier
        var children: [Int32] = []
        XCTAssertTrue(waitFor { children = Self.children(of: parent); return children.count == 2 }, "two workers: \(children)")
        // Linux keeps a thread's name, cut to 15 bytes, in /proc/PID/task/TID/comm.
        func checkpointThreads(_ pid: Int32) -> Int {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
            return tasks.filter { task in
                let name = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/comm", encoding: .utf8)) ?? ""
                return name.hasPrefix("ef-checkpoints")
            }.count
        }
        XCTAssertTrue(waitFor { children.allSatisfy { checkpointThreads($0) == 1 } }, "one checkpoint thread in each worker: "
            + children.map { pid in ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []).map {
                (try? String(contentsOfFile: "/proc/\(pid)/task/\($0)/comm", encoding: .utf8)) ?? "?" }.joined(separator: ",") }.joined(separator: " / "))
        XCTAssertEqual(checkpointThreads(parent), 0)
        XCTAssertEqual(responder.stop(), 0)
    }

    func testUnixSocketMode0660StaleSocketReplacedLiveOneRefused() throws {
        let root = try F.makeRoot()
        let path = root.url.appendingPathComponent("fcgi.sock").path
        // A socket file left behind by a responder that was killed: nobody listens on it.
        let stale = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in for (index, byte) in path.utf8.enumerated() { buffer[index] = byte } }
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(stale, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        close(stale)

        let process = Process()
        process.executableURL = TestRoot.executable
        process.arguments = ["--root", root.path, "--now", F.scheduleNow, "fastcgi", "--socket", path]
        process.standardInput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate(); process.waitUntilExit() } }
        var client: FastCGIClient?
        XCTAssertTrue(waitFor { client = try? FastCGIClient(unixPath: path); return client != nil }, "listening on \(path)")
        let mode = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        XCTAssertEqual(mode, 0o660)
        let answer = try XCTUnwrap(request(try XCTUnwrap(client), "POST", "/panda?token=\(F.pandaToken)", body: F.pandaEncoded, contentType: F.form))
        XCTAssertEqual(answer.status, 200, answer.stdout)

        let second = try root.run(["fastcgi", "--socket", path])
        XCTAssertEqual(second.status, 1)
        XCTAssertEqual(second.stderr, "eventfilter: --socket: another process is listening on \(path)\n")
        let file = root.url.appendingPathComponent("settings/site.ini").path
        let notSocket = try root.run(["fastcgi", "--socket", file])
        XCTAssertEqual(notSocket.stderr, "eventfilter: --socket: \(file) exists and is not a socket\n")
        XCTAssertTrue(FileManager.default.fileExists(atPath: file), "a file that is not a socket is never removed")

        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "the socket file goes with the responder")
    }

    func testWithoutASocketItIsAUsageError() throws {
        let root = try F.makeRoot()
        let none = try root.run(["fastcgi"])
        XCTAssertEqual(none.status, 2)
        XCTAssertEqual(none.stderr, "eventfilter: fastcgi needs --listen HOST:PORT or --socket PATH, or a listening socket as standard input (lighttpd bin-path, spawn-fcgi)\n")
        let workers = try root.run(["fastcgi", "--listen", "127.0.0.1:1", "--workers", "0"])
        XCTAssertEqual(workers.status, 2)
        XCTAssertTrue(workers.stderr.hasPrefix("eventfilter: --workers: expected a whole number from 1 to 64"), workers.stderr)
        let address = try root.run(["fastcgi", "--listen", "example.com:9000"])
        XCTAssertEqual(address.status, 1)
        XCTAssertEqual(address.stderr, "eventfilter: --listen: 'example.com' is not an IPv4 address (use 127.0.0.1, not a host name)\n")
        let both = try root.run(["fastcgi", "--listen", "127.0.0.1:9000", "--socket", "/tmp/x.sock"])
        XCTAssertEqual(both.status, 2)
        try root.write("settings/webhooks.ini", "[Source-x]\nType=nonsense\n")
        let broken = try root.run(["fastcgi", "--listen", "127.0.0.1:\(try Loopback.freePort())"])
        XCTAssertEqual(broken.status, 1, "a broken installation fails at start, before serving")
    }

    // MARK: Helpers

    private static func rows(_ root: TestRoot, _ sql: String) throws -> [[String]] {
        try root.rows(sql)
    }

    private func responder(_ responder: ResponderProcess, logged text: String) -> Bool {
        responder.stderr.contains(text)
    }

    /// Polls `condition` every 20 ms for at most 10 s.
    private func waitFor(_ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return false
    }

    /// The pids whose parent is `parent`, from /proc.
    private static func children(of parent: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 2 && Int32(fields[1]) == parent && fields[0] != "Z"
        }.sorted()
    }
}
