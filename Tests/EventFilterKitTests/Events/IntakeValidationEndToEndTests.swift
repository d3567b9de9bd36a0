import Foundation
import XCTest

/// What intake accepts can always become mail; what it cannot take is refused at once, with a
/// one-line reason and nothing stored, through `event add`, `event import`, `ingest` and `cgi`.
final class IntakeValidationEndToEndTests: XCTestCase {
    private let now = "2026-05-04T10:00:00Z"

    private func subscribedRoot() throws -> TestRoot {
        let root = try TestRoot()
        try root.ok("user", "add", "r@example.com", now: now)
        try root.ok("subscribe", "r@example.com", "2", now: now)
        return root
    }

    func testANodeIdNoSubscriptionCouldNameIsRefusedAndNothingChanges() throws {
        let root = try subscribedRoot()
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", now: now)
        let before = try root.dump()
        let refusals: [(arguments: [String], stdin: String?, message: String)] = [
            (["event", "add", "ezpublish", "node_id=", "path=/1/2/"], nil,
             "invalid node id '': one path element, no '/', spaces, '.' or '..'"),
            (["event", "add", "ezpublish", "node_id=a b", "path=/1/2/"], nil,
             "invalid node id 'a b': one path element, no '/', spaces, '.' or '..'"),
            (["event", "add", "ezpublish", "node_id=..", "path=/1/2/"], nil,
             "invalid node id '..': one path element, no '/', spaces, '.' or '..'"),
            (["event", "add", "ezpublish", "path=/1/../5/"], nil,
             "path '/1/../5/': invalid node id '..': one path element, no '/', spaces, '.' or '..'"),
            (["event", "add", "ezpublish", "path=/1//5/"], nil,
             "path '/1//5/': invalid node id '': one path element, no '/', spaces, '.' or '..'"),
            (["event", "add", "panda.video-encoded", "path=/videos/v 1/"], nil,
             "path '/videos/v 1/': invalid node id 'v 1': one path element, no '/', spaces, '.' or '..'"),
            (["event", "import", "-"],
             #"{"type":"ezpublish","params":{"node_id":"6","path":"/1/2/6/"}}"# + "\n"
                + #"{"type":"ezpublish","params":{"node_id":"x\u0001y","path":"/1/2/"}}"#,
             "line 2: invalid node id 'x?y': one path element, no '/', spaces, '.' or '..'"),
        ]
        for refusal in refusals {
            let result = try root.run(refusal.arguments, now: now, stdin: refusal.stdin)
            XCTAssertEqual(result.status, 2, "\(refusal.arguments): \(result.stderr)")
            XCTAssertEqual(result.stderr, "eventfilter: \(refusal.message)\n")
            XCTAssertEqual(result.stdout, "")
        }
        XCTAssertEqual(try root.dump(), before, "a refused event changes nothing")
    }

    func testAnyAcceptedNodeIdThreadsUnderAValidMessageID() throws {
        let root = try subscribedRoot()
        let unicode = "Ünïcödé..x"
        let long = String(repeating: "é", count: 200)  // 200 characters, 400 bytes: longer than a msg-id may be
        for (node, version) in [(unicode, "1"), (unicode, "2"), (long, "1")] {
            try root.ok("run", now: now)  // one version per run: a waiting older version would be superseded
            try root.ok("event", "add", "ezpublish", "node_id=\(node)", "path=/1/2/\(node)/", "version=\(version)", now: now)
        }
        let run = try root.run(["run"], now: now)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(try root.ok("event", "list", "--unhandled", now: now), "", "every event was handled")

        let mails = try root.mails()
        XCTAssertEqual(mails.count, 3)
        let threads = mails.map { $0.header("In-Reply-To") ?? "" }
        // The SHA-256 of the node id's UTF-8 bytes, computed here with Python's hashlib.
        func sha256(_ text: String) throws -> String {
            try TestRoot.python("import hashlib,sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest())", text)
        }
        XCTAssertEqual(threads, [
            "<node.sha256.\(try sha256(unicode)).eventfilter@example.com>",
            "<node.sha256.\(try sha256(unicode)).eventfilter@example.com>",
            "<node.sha256.\(try sha256(long)).eventfilter@example.com>",
        ])
        XCTAssertEqual(mails.map { $0.header("References") ?? "" }, threads)
        XCTAssertEqual(Set(mails.map { $0.header("Message-ID") ?? "" }).count, 3, "each message its own id")
    }

    func testAPlainNodeIdKeepsItsReadableThreadID() throws {
        let root = try subscribedRoot()
        try root.ok("event", "add", "ezpublish", "node_id=77", "path=/1/2/77/", now: now)
        try root.ok("run", now: now)
        XCTAssertEqual(try root.mails().first?.header("In-Reply-To"), "<node.77.eventfilter@example.com>")
    }

    func testIntegersKeepEveryDigitThroughImportStorageAndList() throws {
        let root = try subscribedRoot()
        let line = #"{"type":"ezpublish","params":{"node_id":9007199254740993,"path":"/1/2/9007199254740993/","#
            + #""big":12345678901234567890,"huge":123456789012345678901234567890,"min":-9223372036854775808,"#
            + #""small":3,"ratio":1.5}}"#
        XCTAssertEqual(try root.ok("event", "import", "-", now: now, stdin: line), "imported 1 events, 0 duplicates\n")
        let expected = #"{"big":12345678901234567890,"huge":123456789012345678901234567890,"min":-9223372036854775808,"#
            + #""node_id":9007199254740993,"path":"/1/2/9007199254740993/","ratio":1.5,"small":3}"#
        XCTAssertEqual(try root.text("SELECT params FROM event"), expected)
        let listed = try root.ok("event", "list", "--json", now: now)
        XCTAssertTrue(listed.contains(#""params":"# + expected), listed)

        try root.ok("run", now: now)
        let mail = try XCTUnwrap(root.mails().first)
        XCTAssertTrue(mail.text.contains("https://example.com/content/view/full/9007199254740993"), mail.text)
        XCTAssertEqual(mail.header("In-Reply-To"), "<node.9007199254740993.eventfilter@example.com>")
    }

    // MARK: Webhooks

    func testAWebhookValueTheStoreCannotTakeIsA400NotA500() throws {
        typealias F = IngestFixture
        let root = try F.makeRoot()
        let before = try root.dump()
        let longName = String(repeating: "e", count: 100)  // a name, but "panda." + it is too long for a type
        let cases: [(body: String, reason: String)] = [
            ("event=\(longName)&video_id=v1",
             "cannot store this notification: invalid event type 'panda.\(longName)': use letters, digits, '.', '_' and '-'"),
            ("event=video-encoded&video_id=v%201",
             "cannot store this notification: invalid node id 'v 1': one path element, no '/', spaces, '.' or '..'"),
        ]
        for (body, reason) in cases {
            let ingested = try root.ingest("panda?token=\(F.pandaToken)", body: body, contentType: F.form, now: F.scheduleNow)
            XCTAssertEqual(ingested.status, 1, ingested.stderr)
            XCTAssertEqual(ingested.stdout, "")
            XCTAssertEqual(ingested.stderr, "eventfilter: rejected (400 Bad Request): \(reason)\n")

            let viaCGI = try root.cgi("POST", "/panda", query: "token=\(F.pandaToken)", contentType: F.form, body: body,
                                      now: F.scheduleNow)
            XCTAssertEqual(viaCGI.status, 400, viaCGI.body)
            XCTAssertEqual(viaCGI.exitStatus, 0)
            XCTAssertEqual(viaCGI.body, reason + "\n")
        }
        XCTAssertEqual(try root.dump(), before, "nothing stored")
    }
}
