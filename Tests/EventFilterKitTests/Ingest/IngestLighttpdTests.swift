import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `eventfilter cgi` behind a real web server: lighttpd from Debian on
/// 127.0.0.1, started by the test through Tests/Support/lighttpd_webhooks.sh, requests made with
/// curl, and the subscriber's mail checked after `eventfilter run`.
final class IngestLighttpdTests: XCTestCase {
    private typealias F = IngestFixture

    private var server: Process?
    private var scratch: URL!
    private var port: UInt16 = 0
    private var root: TestRoot!

    private static let lighttpd = "/usr/sbin/lighttpd"
    private static let script = TestRoot.repository.appendingPathComponent("Tests/Support/lighttpd_webhooks.sh")

    override func setUpWithError() throws {
        try Self.ensureLighttpd()
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ef-lighttpd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        port = try Self.freePort()
        root = try WebhookBattery.makeRoot(baseURL: baseURL)

        let process = Process()
        process.executableURL = Self.script
        process.arguments = [scratch.path, String(port), TestRoot.executable.path, root.path, F.scheduleNow]
        let log = scratch.appendingPathComponent("lighttpd.out")
        try Data().write(to: log)
        process.standardOutput = try FileHandle(forWritingTo: log)
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        server = process
        try waitForPort(seconds: 10)
    }

    override func tearDownWithError() throws {
        if let server, server.isRunning {
            server.terminate()  // SIGTERM: lighttpd stops at once
            server.waitUntilExit()
        }
        server = nil
        root = nil
        if let scratch { try? FileManager.default.removeItem(at: scratch) }
    }

    private var baseURL: String { "http://127.0.0.1:\(port)/hooks.cgi" }

    // MARK: The test

    func testEverySourceAndEveryAnswerThroughLighttpd() throws {
        let cgiLog = scratch.appendingPathComponent("cgi-stderr.log")
        try WebhookBattery(baseURL: baseURL, root: root, scratch: scratch, front: "cgi",
                           errorLog: { (try? String(contentsOf: cgiLog, encoding: .utf8)) ?? "" }).run()
    }

    // MARK: Helpers

    private func serverLog() -> String {
        (try? String(contentsOf: scratch.appendingPathComponent("error.log"), encoding: .utf8)) ?? ""
    }

    /// Polls until lighttpd accepts connections, failing after `seconds`.
    private func waitForPort(seconds: Double) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if Self.canConnect(port) { return }
            guard server?.isRunning == true else { break }
            usleep(20_000)
        }
        let out = (try? String(contentsOf: scratch.appendingPathComponent("lighttpd.out"), encoding: .utf8)) ?? ""
        XCTFail("lighttpd did not start on 127.0.0.1:\(port): \(out) \(serverLog())")
        throw CocoaError(.executableLoad)
    }

    private static func canConnect(_ port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// A port the kernel just handed out on 127.0.0.1, closed again for lighttpd to take.
    private static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        defer { close(fd) }
        var address = loopback(0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return UInt16(bigEndian: address.sin_port)
    }

    private static func loopback(_ port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }

    /// lighttpd is a test dependency: install it when missing; skip LOUDLY only if that fails.
    private static func ensureLighttpd() throws {
        if FileManager.default.isExecutableFile(atPath: lighttpd) { return }
        let install = Process()
        install.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        install.arguments = ["apt-get", "install", "-y", "-q", "lighttpd"]
        install.environment = ProcessInfo.processInfo.environment.merging(["DEBIAN_FRONTEND": "noninteractive"]) { _, new in new }
        do {
            try install.run()
            install.waitUntilExit()
        } catch {
            // Reported below, with the skip.
        }
        guard FileManager.default.isExecutableFile(atPath: lighttpd) else {
            let message = "SKIPPING THE WEB SERVER TEST: lighttpd is not installed and 'apt-get install -y lighttpd' failed"
            FileHandle.standardError.write(Data(("\n*** " + message + " ***\n\n").utf8))
            throw XCTSkip(message)
        }
    }
}
