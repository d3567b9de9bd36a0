import Foundation
import XCTest

/// The command line's shared rules, through the built executable: declarations drive the parser,
/// the usage line, `--help` and the README's reference; every refusal is one plain line with exit
/// status 2 (usage, bad value) or 1 (the rest) and leaves the store exactly as it was.
final class CommandLineRulesEndToEndTests: XCTestCase {
    private let now = "2026-05-04T10:00:00Z"

    /// A root with one user, one rule and one event, so "nothing changed" compares real rows.
    private func seededRoot() throws -> TestRoot {
        let root = try TestRoot()
        try root.ok("user", "add", "ann@example.com", "--name", "Ann", now: now)
        try root.ok("subscribe", "ann@example.com", "2", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", now: now)
        return root
    }

    /// Runs a refused command: exit `status`, exactly one line on stderr equal to `message`,
    /// nothing on stdout, and the same store dump before and after.
    private func assertRefused(_ root: TestRoot, _ arguments: [String], status: Int32, _ message: String,
                               stdin: String? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
        let before = try root.dump()
        let result = try root.run(arguments, now: now, stdin: stdin)
        let shown = arguments.map { String($0.prefix(40)) }.joined(separator: " ")
        XCTAssertEqual(result.status, status, "\(shown): \(result.stderr)", file: file, line: line)
        XCTAssertEqual(result.stderr, "eventfilter: \(message)\n", shown, file: file, line: line)
        XCTAssertEqual(result.stdout, "", shown, file: file, line: line)
        XCTAssertEqual(try root.dump(), before, "\(shown) changed nothing", file: file, line: line)
    }

    func testReadmeReferenceEqualsTheDeclarations() throws {
        let root = try TestRoot()
        let reference = try root.ok("help", "--reference")
        let readme = try String(contentsOf: TestRoot.repository.appendingPathComponent("README.md"), encoding: .utf8)
        let marker = "<!-- reference: eventfilter help --reference -->\n```\n"
        let start = try XCTUnwrap(readme.range(of: marker), "README has the reference block").upperBound
        let end = try XCTUnwrap(readme.range(of: "```", range: start..<readme.endIndex)).lowerBound
        XCTAssertEqual(String(readme[start..<end]), reference, "README's command reference equals 'eventfilter help --reference'")
        XCTAssertTrue(reference.contains("eventfilter ingest SOURCE [--content-type TYPE] [--header 'Name: value' ...] [--method METHOD]\n"))
    }

    func testEveryCommandsHelpShowsItsReferenceLine() throws {
        let root = try TestRoot()
        let lines = try root.ok("help", "--reference").split(separator: "\n").dropFirst()
        XCTAssertGreaterThan(lines.count, 15)
        let groupWords: Set<String> = ["event", "user", "collaboration", "mail", "db"]
        for line in lines {
            let usage = line.dropFirst("eventfilter ".count)
            var words = usage.split(separator: " ").map(String.init)
            words = Array(words.prefix(groupWords.contains(words[0]) ? 2 : 1))
            let help = try root.ok(contentsOf: words + ["--help"])
            XCTAssertTrue(help.contains("\nUsage: eventfilter \(usage)\n"), "\(words) --help shows its usage:\n\(help)")
            // Every option of the usage line is explained in the help.
            // (Each `--name`, also inside a group such as `[--listen HOST:PORT|--socket PATH]`.)
            let names = usage.split(whereSeparator: { " []|".contains($0) }).filter { $0.hasPrefix("--") }
            for name in names {
                XCTAssertTrue(help.contains("\n  \(name)"), "\(words) --help explains \(name)")
            }
        }
    }

    func testOverviewVersionAndGroupHelp() throws {
        let root = try TestRoot()
        let bare = try root.run([])
        XCTAssertEqual(bare.status, 2, "no command is a usage error")
        XCTAssertEqual(bare.stdout, "")
        XCTAssertTrue(bare.stderr.contains("Usage: eventfilter [--root DIR] [--now TIME] COMMAND ...\n"), bare.stderr)
        XCTAssertTrue(bare.stderr.contains("\n  user add "), bare.stderr)

        let help = try root.ok("--help")
        XCTAssertEqual(help, bare.stderr, "the same overview, on stdout when asked for")

        XCTAssertEqual(try root.ok("--version"), "eventfilter 1.0.0\n")

        let group = try root.ok("user", "--help")
        XCTAssertTrue(group.hasPrefix("Usage: eventfilter user SUBCOMMAND ...\n"), group)
        for usage in ["user add EMAIL [--name NAME] [--timezone IANA_ZONE]", "user remove EMAIL", "user list"] {
            XCTAssertTrue(group.contains("\n  \(usage) "), "user --help lists \(usage):\n\(group)")
        }
        XCTAssertFalse(group.contains("mail list"))

        try assertRefused(root, ["user"], status: 2, "missing subcommand after 'user'; try: user add, user remove, user list, user show, user set, user token, user disable, user enable")
        try assertRefused(root, ["user", "frob"], status: 2, "unknown subcommand 'user frob'; try: user add, user remove, user list, user show, user set, user token, user disable, user enable")
    }

    func testUsageAndBadValueErrorsExitTwoAndChangeNothing() throws {
        let root = try seededRoot()
        let longName = String(repeating: "n", count: 100_000)
        let cases: [([String], String)] = [
            (["user", "add", "bob@"], "EMAIL: address 'bob@' has no domain after the '@'"),
            (["user", "add", "bob@example.com", "--timezone", "Mars/Olympus"],
             "--timezone: unknown time zone 'Mars/Olympus' (expected an IANA name like Europe/Oslo or UTC)"),
            (["user", "add", "bob@example.com", "--timezone", "CET"],
             "--timezone: unknown time zone 'CET' (expected an IANA name like Europe/Oslo or UTC)"),
            (["user", "add", "bob@example.com", "--name", longName], "--name: longer than 200 characters (100000)"),
            (["user", "add", "bob@example.com", "--name", "Bob\nBcc: x@evil.example"], "--name: contains a line break or control character"),
            (["user", "add", "bob@example.com", "--name", "A", "--name", "B"], "--name is given more than once"),
            (["user", "add", "bob@example.com", "--nmae", "Bob"],
             "unknown option '--nmae' for 'eventfilter user add'; see 'eventfilter user add --help'"),
            (["user", "add", "bob@example.com", "extra"], "unexpected argument 'extra' for 'eventfilter user add'"),
            (["user", "add"], "missing EMAIL"),
            (["user", "add", "bob@example.com", "--name"], "--name needs a value (NAME)"),
            (["event", "list", "--json=yes"], "--json takes no value"),
            (["event", "list", "--json", "--json"], "--json is given more than once"),
            (["mail", "list", "--failed", "--queued"], "--failed and --queued cannot be used together"),
            (["mail", "retry"], "give one of ID, --all-failed"),
            (["mail", "retry", "7", "--all-failed"], "ID and --all-failed cannot be used together"),
            (["mail", "retry", "seven"], "ID: expected a positive whole number, got 'seven'"),
            (["event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=\(String(repeating: "x", count: 60_000))"],
             "name is 60000 bytes, longer than 10000"),
            (["event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=\(String(repeating: "x", count: 100_000))"],
             "name is 100000 bytes, longer than 10000"),
            (["user", "add", "bob@example.com", "--name", String(repeating: "é", count: 201)], "--name: longer than 200 characters (201)"),
            (["event", "add", "ezpublish", "node_id=5", "node_id=6", "path=/1/2/5/"], "param 'node_id' is given more than once"),
            (["event", "add", "ezpublish", "node_id=5", "--not-before", "tomorrow"],
             "--not-before: invalid time 'tomorrow': expected ISO 8601 like 2026-03-29T06:00:00Z or 2026-03-29T08:00:00+02:00"),
            (["subscribe", "not-an-address", "2"], "EMAIL: address 'not-an-address' has no '@'"),
            (["status", "--root", "/elsewhere"], "--root is given more than once"),
            // A 100 KB value is refused without being repeated in full: its first 200 characters.
            (["event", "add", String(repeating: "t", count: 100_000)],
             "invalid event type '\(String(repeating: "t", count: 200))...': use letters, digits, '.', '_' and '-'"),
        ]
        for (arguments, message) in cases {
            try assertRefused(root, arguments, status: 2, message)
        }
        // Failures that are not the operator's typing: exit 1, still one plain line.
        try assertRefused(root, ["user", "add", "ann@example.com"], status: 1, "user ann@example.com already exists")
        try assertRefused(root, ["user", "remove", "nobody@example.com"], status: 1, "unknown user nobody@example.com")
        try assertRefused(root, ["event", "import", "/nonexistent/events.jsonl"], status: 1,
                          "cannot read /nonexistent/events.jsonl: No such file or directory")
        try assertRefused(root, ["event", "import", root.url.appendingPathComponent("settings").path], status: 1,
                          "cannot read \(root.url.appendingPathComponent("settings").path): Is a directory")
    }

    func testInvalidUTF8ArgumentIsRefused() throws {
        let root = try seededRoot()
        let before = try root.dump()
        // Foundation's Process takes Swift strings; the shell's printf puts the raw byte 0xFF in argv.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", #"exec "$0" --root "$1" user add "$(printf 'b\377b@example.com')""#,
                             TestRoot.executable.path, root.path]
        let errors = Pipe(), output = Pipe()
        process.standardError = errors
        process.standardOutput = output
        try process.run()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 2)
        XCTAssertEqual(stderr, "eventfilter: argument 5 is not valid UTF-8\n")
        XCTAssertEqual(try root.dump(), before)
    }

    func testImportRefusesUnknownKeysInvalidUTF8AndOverlongValues() throws {
        let root = try seededRoot()
        let good = #"{"type":"ezpublish","params":{"node_id":"7","path":"/1/2/7/"}}"#
        let misspelt = #"{"type":"ezpublish","params":{"node_id":"8","path":"/1/2/8/"},"notbefore":"2026-05-05T00:00:00Z"}"#
        try assertRefused(root, ["event", "import", "-"], status: 2,
                          #"line 2: unknown key "notbefore" (expected type, params, not_before, key)"#, stdin: good + "\n" + misspelt)
        let hugeName = #"{"type":"ezpublish","params":{"node_id":"9","path":"/1/2/9/","name":""#
            + String(repeating: "x", count: 100_000) + #""}}"#
        try assertRefused(root, ["event", "import", "-"], status: 2, "line 1: name is 100000 bytes, longer than 10000",
                          stdin: hugeName)
        try assertRefused(root, ["event", "import", "-"], status: 2, "line 1: key must be a string",
                          stdin: #"{"type":"ezpublish","params":{"node_id":"9","path":"/1/2/9/"},"key":7}"#)
        // Malformed JSON says what is wrong, not a stock "The operation could not be completed".
        try assertRefused(root, ["event", "import", "-"], status: 2, "line 2: invalid JSON: Unexpected end of file during JSON parse.",
                          stdin: good + "\n" + #"{"type":"ezpublish","params":{"node_id":"9""#)
        try assertRefused(root, ["event", "import", "-"], status: 2, "line 1: invalid JSON: Number 1e400 is not representable.",
                          stdin: #"{"type":"ezpublish","params":{"node_id":"9","path":"/1/2/9/","size":1e400}}"#)

        // A line with a byte that is not UTF-8 (written as a file: the test's stdin helper takes text).
        let file = root.url.appendingPathComponent("bad.jsonl")
        try Data(Array(good.utf8) + [10] + Array(#"{"type":"ezpublish","params":{"node_id":"9","path":"/1/2/9/","name":"a"#.utf8)
                 + [0xFF] + Array(#""}}"#.utf8)).write(to: file)
        try assertRefused(root, ["event", "import", file.path], status: 2, "line 2: not valid UTF-8")
    }

    func testEveryChangeIsConfirmedInOneLine() throws {
        let root = try TestRoot()
        XCTAssertEqual(try root.ok("user", "add", "ann@example.com", "--timezone", "Europe/Oslo", now: now), "added user ann@example.com\n")
        XCTAssertEqual(try root.ok("subscribe", "ann@example.com", "2", now: now), "subscribed ann@example.com to node 2\n")
        XCTAssertEqual(try root.ok("unsubscribe", "ann@example.com", "2", now: now), "unsubscribed ann@example.com from node 2\n")
        XCTAssertEqual(try root.ok("collaboration", "subscribe", "ann@example.com", "ezapprove", now: now),
                       "subscribed ann@example.com to collaboration ezapprove\n")
        XCTAssertEqual(try root.ok("collaboration", "unsubscribe", "ann@example.com", "ezapprove", now: now),
                       "unsubscribed ann@example.com from collaboration ezapprove\n")
        XCTAssertEqual(try root.ok("digest", "ann@example.com", "daily", "08:00", now: now), "digest for ann@example.com: daily 08:00\n")
        XCTAssertEqual(try root.ok("digest", "ann@example.com", "off", now: now), "digest for ann@example.com: off\n")
        XCTAssertEqual(try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", now: now), "1\n")
        XCTAssertEqual(try root.ok("mail", "retry", "--all-failed", now: now), "requeued 0 messages\n")
        XCTAssertEqual(try root.ok("run", now: now), "", "run stays quiet for cron")
        XCTAssertEqual(try root.ok("user", "remove", "ann@example.com", now: now), "removed user ann@example.com\n")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM \"user\""), 0)
    }
}
