import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// `eventfilter fastcgi` behind nginx and lighttpd from Debian on 127.0.0.1, with the
/// configurations README.md shows (taken from it here), answering the same webhook requests as
/// the lighttpd CGI test; plus the README's systemd unit.
final class FastCGIWebServerTests: XCTestCase {
    private typealias F = IngestFixture
    private typealias B = FastCGIBytes

    private var scratch: URL!
    private var servers: [Process] = []

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ef-fastcgi-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        for server in servers where server.isRunning {
            server.terminate()
            server.waitUntilExit()
        }
        servers = []
        if let scratch { try? FileManager.default.removeItem(at: scratch) }
    }

    // MARK: The README's blocks

    private static let readme = TestRoot.repository.appendingPathComponent("README.md")
    private static let installedBinary = "/usr/local/bin/eventfilter"
    private static let installedRoot = "/srv/eventfilter"

    /// The fenced block of `language` whose first line is `firstLine`.
    private func block(_ language: String, _ firstLine: String) throws -> String {
        let text = try String(contentsOf: Self.readme, encoding: .utf8)
        let blocks = text.components(separatedBy: "```\(language)\n").dropFirst().compactMap { $0.components(separatedBy: "\n```").first }
        return try XCTUnwrap(blocks.first { $0.hasPrefix(firstLine + "\n") }, "README.md has the block '\(firstLine)'")
    }

    // MARK: nginx

    func testNginxWithTheReadmeConfiguration() throws {
        try Self.ensureInstalled("/usr/sbin/nginx", package: "nginx")
        let port = try Loopback.freePort()
        let baseURL = "http://127.0.0.1:\(port)/hooks"
        let root = try WebhookBattery.makeRoot(baseURL: baseURL)
        let responder = try ResponderProcess(root: root, now: F.scheduleNow)

        let site = try block("nginx", "# nginx: inside the http { } block; the responder listens on 127.0.0.1:9000")
        for line in ["server 127.0.0.1:9000;", "keepalive 16;", "fastcgi_keep_conn on;", "fastcgi_pass eventfilter;", "listen 443 ssl;"] {
            XCTAssertTrue(site.contains(line), line)
        }
        let dir = scratch.path
        // nginx looks for `include fastcgi_params` next to its configuration file, as in /etc/nginx.
        try FileManager.default.copyItem(atPath: "/etc/nginx/fastcgi_params", toPath: dir + "/fastcgi_params")
        let conf = """
            daemon off; master_process off; worker_processes 1;
            pid \(dir)/nginx.pid; error_log \(dir)/error.log info;
            events { worker_connections 64; }
            http {
                access_log off;
                client_body_temp_path \(dir)/body; fastcgi_temp_path \(dir)/fastcgi; proxy_temp_path \(dir)/proxy;
                uwsgi_temp_path \(dir)/uwsgi; scgi_temp_path \(dir)/scgi;
            \(site.replacingOccurrences(of: "127.0.0.1:9000", with: "127.0.0.1:\(responder.port)")
                .replacingOccurrences(of: "listen 443 ssl;", with: "listen 127.0.0.1:\(port);"))
            }
            """
        try Data(conf.utf8).write(to: scratch.appendingPathComponent("nginx.conf"))
        try start("/usr/sbin/nginx", ["-p", dir, "-c", dir + "/nginx.conf"], port: port)
        // What the responder wrote to nginx's error log: nginx quotes it and adds the request
        // line, whose query string (Panda's ?token=) is nginx's to log, not the program's.
        let errorLog = {
            ((try? String(contentsOfFile: dir + "/error.log", encoding: .utf8)) ?? "")
                .components(separatedBy: "FastCGI sent in stderr: \"").dropFirst()
                .map { $0.components(separatedBy: "\" while ").first ?? "" }.joined(separator: "\n")
        }

        // Before the battery: a malformed stream straight to the responder, and an HTTP client
        // that hangs up in the middle of its body; neither may cost the requests after them.
        let garbage = try FastCGIClient(port: responder.port)
        garbage.send(Array("POST /panda HTTP/1.1\r\n\r\n".utf8))
        XCTAssertTrue(garbage.isClosedByPeer())
        let hangup = try XCTUnwrap(Loopback.connect(port))
        let partial = "POST /hooks/panda?token=\(F.pandaToken) HTTP/1.1\r\nHost: x\r\nContent-Type: \(F.form)\r\nContent-Length: 1000\r\n\r\nevent=vid"
        _ = partial.utf8CString.withUnsafeBufferPointer { write(hangup, $0.baseAddress, partial.utf8.count) }
        close(hangup)
        XCTAssertEqual(root.eventCount, 0)

        try WebhookBattery(baseURL: baseURL, root: root, scratch: scratch, front: "fastcgi", errorLog: errorLog).run()
        XCTAssertTrue(responder.process.isRunning)
        XCTAssertTrue(responder.stderr.contains("eventfilter: fastcgi: connection closed: record version 80, expected 1"), responder.stderr)
        XCTAssertEqual(responder.stop(), 0)
    }

    // MARK: lighttpd

    func testLighttpdSpawnsTheResponderOnAUnixSocket() throws {
        try Self.ensureInstalled("/usr/sbin/lighttpd", package: "lighttpd")
        let port = try Loopback.freePort()
        let baseURL = "http://127.0.0.1:\(port)/hooks"
        let root = try WebhookBattery.makeRoot(baseURL: baseURL)
        let socket = scratch.appendingPathComponent("fcgi.sock").path
        let server = try block("lighttpd", "# lighttpd: spawned by lighttpd on a Unix socket")
            .replacingOccurrences(of: "/run/eventfilter/fcgi.sock", with: socket)
            .replacingOccurrences(of: "\(Self.installedBinary) --root \(Self.installedRoot)",
                                  with: "\(TestRoot.executable.path) --root \(root.path) --now \(F.scheduleNow)")
        let log = try lighttpd(port: port, server)
        try WebhookBattery(baseURL: baseURL, root: root, scratch: scratch, front: "fastcgi", errorLog: log).run()

        // The spawned responder got its socket on fd 0 and stops with lighttpd.
        let spawned = Self.processes(commandLineContaining: "--root\0\(root.path)\0--now")
        XCTAssertEqual(spawned.count, 1, "one responder, started by lighttpd")
        for server in servers { server.terminate(); server.waitUntilExit() }
        let deadline = Date().addingTimeInterval(10)
        while !Self.processes(commandLineContaining: "--root\0\(root.path)\0--now").isEmpty && Date() < deadline { usleep(20_000) }
        XCTAssertEqual(Self.processes(commandLineContaining: "--root\0\(root.path)\0--now"), [], "the responder stopped with lighttpd")
    }

    func testLighttpdTalksToAResponderOnHostAndPort() throws {
        try Self.ensureInstalled("/usr/sbin/lighttpd", package: "lighttpd")
        let port = try Loopback.freePort()
        let baseURL = "http://127.0.0.1:\(port)/hooks"
        let root = try WebhookBattery.makeRoot(baseURL: baseURL)
        let responder = try ResponderProcess(root: root, now: F.scheduleNow, extra: ["--workers", "2"])
        let block = try block("lighttpd", "# lighttpd: a responder on 127.0.0.1:9000")
        XCTAssertTrue(block.contains("\"port\" => 9000,"))
        let log = try lighttpd(port: port, block.replacingOccurrences(of: "\"port\" => 9000,", with: "\"port\" => \(responder.port),"))
        try WebhookBattery(baseURL: baseURL, root: root, scratch: scratch, front: "fastcgi", errorLog: log).run()
        XCTAssertEqual(responder.stop(), 0)
    }

    // MARK: systemd

    func testSystemdUnitVerifiesAndItsExecStartServes() throws {
        let unit = try block("ini", "# /etc/systemd/system/eventfilter-fastcgi.service")
        let root = try F.makeRoot()
        let port = try Loopback.freePort()
        let substituted = unit.replacingOccurrences(of: Self.installedBinary, with: TestRoot.executable.path)
            .replacingOccurrences(of: Self.installedRoot, with: root.path)
            .replacingOccurrences(of: "127.0.0.1:9000", with: "127.0.0.1:\(port)")
        let file = scratch.appendingPathComponent("eventfilter-fastcgi.service")
        try Data(substituted.utf8).write(to: file)
        let verify = Process()
        verify.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        verify.arguments = ["systemd-analyze", "verify", file.path]
        let errors = Pipe()
        verify.standardError = errors
        verify.standardOutput = FileHandle.nullDevice
        try verify.run()
        let warnings = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        verify.waitUntilExit()
        XCTAssertEqual(verify.terminationStatus, 0, warnings)
        XCTAssertEqual(warnings, "", "no warning about the unit")

        // ExecStart as written: systemd splits it on spaces and runs it without a shell.
        let execStart = try XCTUnwrap(substituted.split(separator: "\n").first { $0.hasPrefix("ExecStart=") })
        let words = execStart.dropFirst("ExecStart=".count).split(separator: " ").map(String.init)
        let service = Process()
        service.executableURL = URL(fileURLWithPath: words[0])
        service.arguments = Array(words.dropFirst())
        service.environment = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
        service.standardInput = FileHandle.nullDevice
        try service.run()
        servers.append(service)
        XCTAssertTrue(Loopback.waitForListener(port, seconds: 10, alive: { service.isRunning }))
        let client = try FastCGIClient(port: port)
        client.send(B.request(1, FastCGIClient.params(method: "POST", "/panda?token=\(F.pandaToken)", body: F.pandaEncoded, contentType: F.form),
                              body: Array(F.pandaEncoded.utf8)))
        XCTAssertEqual(client.answer()?.status, 200)
        kill(service.processIdentifier, SIGTERM)   // what KillMode=mixed sends to the main process
        service.waitUntilExit()
        XCTAssertEqual(service.terminationStatus, 0)
        XCTAssertEqual(root.eventCount, 1)
    }

    // MARK: Helpers

    /// Writes a lighttpd configuration around `block` and starts it; returns its error log reader.
    private func lighttpd(port: UInt16, _ block: String) throws -> () -> String {
        let dir = scratch.path
        let conf = """
            server.document-root = "\(dir)"
            server.bind = "127.0.0.1"
            server.port = \(port)
            server.errorlog = "\(dir)/error.log"
            server.pid-file = "\(dir)/lighttpd.pid"
            \(block)
            """
        try Data(conf.utf8).write(to: scratch.appendingPathComponent("lighttpd.conf"))
        try start("/usr/sbin/lighttpd", ["-D", "-f", dir + "/lighttpd.conf"], port: port)
        return { (try? String(contentsOfFile: dir + "/error.log", encoding: .utf8)) ?? "" }
    }

    private func start(_ executable: String, _ arguments: [String], port: UInt16) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = scratch.appendingPathComponent("server.out")
        try Data().write(to: out)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: out)
        try process.run()
        servers.append(process)
        guard Loopback.waitForListener(port, seconds: 10, alive: { process.isRunning }) else {
            let output = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
            XCTFail("\(executable) did not start on 127.0.0.1:\(port): \(output)")
            throw CocoaError(.executableLoad)
        }
    }

    /// Pids whose command line (NUL-separated) contains `text`.
    private static func processes(commandLineContaining text: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: data, as: UTF8.self).contains(text)
        }
    }

    /// A web server is a test dependency (`make test-deps` installs it): install it when missing;
    /// skip LOUDLY only if that fails.
    private static func ensureInstalled(_ path: String, package: String) throws {
        if FileManager.default.isExecutableFile(atPath: path) { return }
        let install = Process()
        install.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        install.arguments = ["apt-get", "install", "-y", "-q", package]
        install.environment = ProcessInfo.processInfo.environment.merging(["DEBIAN_FRONTEND": "noninteractive"]) { _, new in new }
        try? install.run()
        install.waitUntilExit()
        guard FileManager.default.isExecutableFile(atPath: path) else {
            let message = "SKIPPING THE WEB SERVER TEST: \(package) is not installed and 'apt-get install -y \(package)' failed"
            FileHandle.standardError.write(Data(("\n*** " + message + " ***\n\n").utf8))
            throw XCTSkip(message)
        }
    }
}
