import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `eventfilter` behind a real Apache httpd (Debian's apache2, mod_cgid) with the configuration
/// README.md gives: `ScriptAlias /hooks` pointing at the binary itself. Apache turns a query
/// without `=` into command-line arguments (RFC 3875 section 4.4 "search" queries); they must
/// never run as a command. Started by the test through Tests/Support/apache_webhooks.sh on
/// 127.0.0.1; requests are made with curl.
final class IngestApacheTests: XCTestCase {
    private typealias F = IngestFixture

    private var server: Process?
    private var scratch: URL!
    private var port = 0
    private var root: TestRoot!

    private static let apache = "/usr/sbin/apache2"
    private static let script = TestRoot.repository.appendingPathComponent("Tests/Support/apache_webhooks.sh")
    /// Apache runs CGI programs as nobody when started as root (see the script).
    private static let webUser = "65534:65534"

    override func setUpWithError() throws {
        try Self.ensureApache()
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ef-apache-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        port = try SMTPTestServer.unusedPort()
        root = try F.makeRoot()
        try handRootToTheWebServer()

        let process = Process()
        process.executableURL = Self.script
        // Apache's CGI child runs as nobody: a copy of the program it can reach, wherever the checkout is.
        let program = try TestRoot.executableForOtherUsers(in: scratch)
        process.arguments = [scratch.appendingPathComponent("apache").path, String(port), program.path, root.path]
        let log = scratch.appendingPathComponent("apache.out")
        try Data().write(to: log)
        process.standardOutput = try FileHandle(forWritingTo: log)
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        server = process
        try waitForPort(seconds: 15)
    }

    override func tearDownWithError() throws {
        if let server, server.isRunning {
            server.terminate()  // SIGTERM: Apache stops its children and exits
            let deadline = Date().addingTimeInterval(10)
            while server.isRunning && Date() < deadline { usleep(20_000) }
            if server.isRunning { kill(server.processIdentifier, SIGKILL) }
            server.waitUntilExit()
        }
        server = nil
        root = nil
        if let scratch { try? FileManager.default.removeItem(at: scratch) }
    }

    // MARK: The tests

    func testAQueryStringNeverRunsACommand() throws {
        let before = try root.dump()
        XCTAssertTrue(before.contains("ann@example.com"), "the user the attacks aim at exists")
        let notFound = "no webhook source at '/'; POST to /NAME\n"
        let attacks: [(query: String, path: String, expected: Int)] = [
            ("user+remove+ann@example.com", "", 404),
            ("unsubscribe+ann@example.com+panda", "", 404),
            ("user+add+eve@example.com", "", 404),
            ("event+add+ezpublish+node_id%3D77+path%3D%2F1%2F2%2Fkaltura%2F", "", 404),
            ("--root+/tmp+user+remove+ann@example.com", "", 404),
            ("run", "", 404),
            ("--help", "", 404),
            ("user+remove+ann@example.com", "/panda", 405),
        ]
        for attack in attacks {
            let answer = try curl("GET", "/hooks\(attack.path)?\(attack.query)")
            XCTAssertEqual(answer.status, attack.expected, "\(attack.query): \(answer.body) \(serverLog())")
            XCTAssertEqual(answer.contentType, "text/plain; charset=utf-8", attack.query)
            if attack.path.isEmpty { XCTAssertEqual(answer.body, notFound, attack.query) }
            XCTAssertFalse(answer.body.contains("Usage"), "no command's help: \(answer.body)")
        }
        let posted = try curl("POST", "/hooks?user+remove+ann@example.com", body: "x=1", contentType: F.form)
        XCTAssertEqual(posted.status, 404, posted.body)
        XCTAssertEqual(posted.body, notFound)

        XCTAssertEqual(try root.dump(), before, "nothing changed in the store")
        let log = serverLog()
        XCTAssertTrue(log.contains("eventfilter: cgi: GET : 404 no webhook source"), "each one answered by the receiver: \(log)")
        XCTAssertFalse(log.contains("malformed header"), "every answer was a CGI answer: \(log)")

        // The same configuration receives a real webhook (a query with "=" is not a search).
        let webhook = try curl("POST", "/hooks/panda?token=\(F.pandaToken)", body: F.pandaEncoded, contentType: F.form)
        XCTAssertEqual(webhook.status, 200, "\(webhook.body) \(serverLog())")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event WHERE type = 'panda.video-encoded'"), 1)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM \"user\" WHERE email = 'ann@example.com'"), 1)
    }

    // MARK: Helpers

    /// Apache, started as root, runs the program as nobody: the installation must be theirs.
    private func handRootToTheWebServer() throws {
        guard getuid() == 0 else { return }
        XCTAssertEqual(try SMTPTestServer.runTool("/bin/chown", ["-R", Self.webUser, root.path]), 0)
    }

    /// One request with curl: the status, the Content-Type and the body.
    private func curl(_ method: String, _ path: String, body: String? = nil, contentType: String? = nil)
        throws -> (status: Int, contentType: String, body: String)
    {
        let answerFile = scratch.appendingPathComponent("answer-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: answerFile) }
        var arguments = ["-s", "--max-time", "10", "-o", answerFile.path, "-w", "%{http_code} %{content_type}", "-X", method]
        if let body { arguments += ["--data-binary", body] }
        arguments += ["-H", contentType.map { "Content-Type: \($0)" } ?? "Content-Type:"]
        arguments.append("http://127.0.0.1:\(port)\(path)")

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["curl"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let (code, type) = output.split(separator: " ", maxSplits: 1).map(String.init).pair
        return (Int(code) ?? 0, type, (try? String(contentsOf: answerFile, encoding: .utf8)) ?? "")
    }

    /// Apache's error log, where the CGI program's stderr goes too.
    private func serverLog() -> String {
        (try? String(contentsOf: scratch.appendingPathComponent("apache/error.log"), encoding: .utf8)) ?? ""
    }

    /// Polls until Apache accepts connections, failing after `seconds`.
    private func waitForPort(seconds: Double) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if Self.canConnect(port) { return }
            guard server?.isRunning == true else { break }
            usleep(20_000)
        }
        let out = (try? String(contentsOf: scratch.appendingPathComponent("apache.out"), encoding: .utf8)) ?? ""
        XCTFail("apache2 did not start on 127.0.0.1:\(port): \(out) \(serverLog())")
        throw CocoaError(.executableLoad)
    }

    private static func canConnect(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// apache2 is a test dependency (`make test-deps`): install it when missing; skip LOUDLY only
    /// if that fails.
    private static func ensureApache() throws {
        if FileManager.default.isExecutableFile(atPath: apache) { return }
        let install = Process()
        install.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        install.arguments = ["apt-get", "install", "-y", "-q", "apache2"]
        install.environment = ProcessInfo.processInfo.environment.merging(["DEBIAN_FRONTEND": "noninteractive"]) { _, new in new }
        do {
            try install.run()
            install.waitUntilExit()
        } catch {
            // Reported below, with the skip.
        }
        guard FileManager.default.isExecutableFile(atPath: apache) else {
            let message = "SKIPPING THE APACHE TEST: apache2 is not installed and 'apt-get install -y apache2' failed"
            FileHandle.standardError.write(Data(("\n*** " + message + " ***\n\n").utf8))
            throw XCTSkip(message)
        }
    }
}

extension Array where Element == String {
    /// The first two elements, "" for those missing.
    fileprivate var pair: (String, String) {
        (first ?? "", count > 1 ? self[1] : "")
    }
}
