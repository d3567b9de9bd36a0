import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Ports and connections on 127.0.0.1 for the web-server tests.
enum Loopback {
    /// A port the kernel just handed out on 127.0.0.1, closed again for a server to take.
    static func freePort() throws -> UInt16 {
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

    /// A connected socket, or nil when nobody listens.
    static func connect(_ port: UInt16) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = loopback(port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
        if !connected { close(fd) }
        return connected ? fd : nil
    }

    /// Polls until something accepts on `port`, for at most `seconds`, while `alive` holds.
    static func waitForListener(_ port: UInt16, seconds: Double, alive: () -> Bool = { true }) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline && alive() {
            if let fd = connect(port) {
                close(fd)
                return true
            }
            usleep(20_000)
        }
        return false
    }

    private static func loopback(_ port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }
}

/// A FastCGI client speaking straight to a responder's socket, as a web server does, with the
/// records built by `FastCGIBytes` (by hand, not by the code under test).
final class FastCGIClient {
    let fd: Int32

    init(port: UInt16) throws {
        guard let fd = Loopback.connect(port) else { throw POSIXError(.ECONNREFUSED) }
        self.fd = fd
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Connects to a Unix socket at `path`.
    init(unixPath path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.utf8.enumerated() { buffer[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        } == 0
        guard connected else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + sent, bytes.count - sent) }
            guard count > 0 else { return }
            sent += count
        }
    }

    /// One record as the responder sent it; nil at end of stream.
    func readRecord() -> (type: UInt8, id: UInt16, content: [UInt8])? {
        guard let header = readExactly(8) else { return nil }
        let length = Int(header[4]) << 8 | Int(header[5])
        guard let content = readExactly(length), readExactly(Int(header[6])) != nil else { return nil }
        return (header[1], UInt16(header[2]) << 8 | UInt16(header[3]), content)
    }

    struct Answer {
        var stdout: String
        var stderr: String
        var protocolStatus: UInt8?
        /// The HTTP status from the CGI `Status:` line.
        var status: Int { Int(stdout.dropFirst("Status: ".count).prefix(3)) ?? 0 }
        var body: String {
            guard let range = stdout.range(of: "\r\n\r\n") else { return "" }
            return String(stdout[range.upperBound...])
        }
    }

    /// Reads until FCGI_END_REQUEST for `id` (nil if the connection ends first).
    func answer(_ id: UInt16 = 1) -> Answer? {
        var out: [UInt8] = [], err: [UInt8] = []
        while let record = readRecord() {
            guard record.id == id else { continue }
            switch record.type {
            case 6: out += record.content
            case 7: err += record.content
            case 3: return Answer(stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self),
                                  protocolStatus: record.content.count == 8 ? record.content[4] : nil)
            default: continue
            }
        }
        return nil
    }

    /// True when the responder closed the connection: end of stream, or a reset when it closed
    /// with bytes of ours unread. False when it sends more or the read times out.
    func isClosedByPeer() -> Bool {
        var byte: UInt8 = 0
        let result = read(fd, &byte, 1)
        return result == 0 || (result < 0 && errno == ECONNRESET)
    }

    private func readExactly(_ count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let result = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, count - filled) }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else { return nil }
            filled += result
        }
        return bytes
    }

    /// The CGI parameters a web server sends for a request to `target` (`/panda?token=...`).
    static func params(method: String, _ target: String, body: String?, contentType: String?, headers: [(String, String)] = []) -> [(String, String)] {
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var params: [(String, String)] = [
            ("GATEWAY_INTERFACE", "CGI/1.1"), ("REQUEST_METHOD", method), ("SCRIPT_NAME", "/hooks"),
            ("PATH_INFO", String(parts[0])), ("QUERY_STRING", parts.count > 1 ? String(parts[1]) : ""),
            ("SERVER_PROTOCOL", "HTTP/1.1"),
        ]
        if let body { params.append(("CONTENT_LENGTH", String(body.utf8.count))) }
        if let contentType { params.append(("CONTENT_TYPE", contentType)) }
        for (name, value) in headers {
            params.append(("HTTP_" + name.uppercased().replacingOccurrences(of: "-", with: "_"), value))
        }
        return params
    }
}

/// `eventfilter fastcgi` started by a test on a free loopback port, stopped (SIGTERM) at the end.
final class ResponderProcess {
    let process = Process()
    let port: UInt16
    let stderrURL: URL

    init(root: TestRoot, now: String?, extra: [String] = [], environment: [String: String] = [:]) throws {
        port = try Loopback.freePort()
        stderrURL = root.url.appendingPathComponent("responder-\(UUID().uuidString).err")
        try Data().write(to: stderrURL)
        process.executableURL = TestRoot.executable
        process.arguments = ["--root", root.path] + (now.map { ["--now", $0] } ?? []) + ["fastcgi", "--listen", "127.0.0.1:\(port)"] + extra
        process.standardInput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        try process.run()
        guard Loopback.waitForListener(port, seconds: 10, alive: { process.isRunning }) else {
            XCTFail("eventfilter fastcgi did not start: \(stderr)")
            throw CocoaError(.executableLoad)
        }
    }

    var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    /// SIGTERM and the exit status, waiting at most 10 s.
    @discardableResult
    func stop() -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }

    deinit { stop() }
}
