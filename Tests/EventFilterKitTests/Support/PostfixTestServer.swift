import Foundation
import XCTest

/// A private Postfix instance on loopback, in a temporary directory, that makes real bounces.
///
/// It accepts mail over SMTP on a free port of 127.0.0.1 for any address, and:
/// - `<anything>@bounce.test` is a local domain without mailboxes: local(8) answers
///   "unknown user" and Postfix returns an RFC 3464 report with status 5.1.1;
/// - `<anything>@busy.test` is relayed to a port nobody listens on (connection refused, 4.4.1);
///   with `maximal_queue_lifetime = 0` Postfix tries once and returns the report at once;
/// - mail for `example.org` (the bounce address's domain) goes through a `pipe` transport, as the
///   README wires `eventfilter bounce`, to a script that keeps each message with its
///   `${recipient}` argument in `captured/`, for the test to hand to `eventfilter bounce`; or
///   (`pipe:`) straight to `eventfilter bounce`, run as `nobody`.
///
/// Needs root (Postfix's master starts as root) and the `postfix` package (`make test-deps`).
///
///     let postfix = try PostfixTestServer.start(in: scratch)
///     defer { postfix.stop() }
///     let bounces = try postfix.waitForCaptured(count: 3)
final class PostfixTestServer {
    struct Captured {
        /// The pipe's `${recipient}`: the envelope recipient, the VERP address.
        let recipient: String
        let bytes: [UInt8]
    }

    let directory: URL
    let port: Int
    private var stopped = false

    var configDirectory: URL { directory.appendingPathComponent("etc") }
    var capturedDirectory: URL { directory.appendingPathComponent("captured") }
    var logFile: URL { directory.appendingPathComponent("maillog") }

    static let postfix = "/usr/sbin/postfix"

    private init(directory: URL, port: Int) {
        self.directory = directory
        self.port = port
    }

    deinit { stop() }

    /// `pipe`: the command the bounce transport runs (`${recipient}` is appended) instead of the
    /// capturing script, e.g. `eventfilter --root DIR bounce` as the README wires it.
    static func start(in parent: URL, pipe: [String]? = nil) throws -> PostfixTestServer {
        guard FileManager.default.isExecutableFile(atPath: postfix) else {
            throw XCTSkip("!!! POSTFIX TESTS SKIPPED: \(postfix) is missing; run `make test-deps` (installs the postfix package) !!!")
        }
        guard getuid() == 0 else {
            throw XCTSkip("!!! POSTFIX TESTS SKIPPED: a private Postfix instance needs root (its master starts as root) !!!")
        }
        let directory = parent.appendingPathComponent("postfix")
        let server = PostfixTestServer(directory: directory, port: try SMTPTestServer.unusedPort())
        var refusingPort = try SMTPTestServer.unusedPort()
        while refusingPort == server.port { refusingPort = try SMTPTestServer.unusedPort() }
        try server.configure(refusingPort: refusingPort, pipe: pipe)
        try server.run(["start"])
        // master opens the SMTP port while starting; wait for it, bounded.
        let deadline = Date().addingTimeInterval(20)
        while !server.accepts() {
            guard Date() < deadline else {
                server.stop()
                throw PostfixFailure(description: "Postfix did not listen on 127.0.0.1:\(server.port): \(server.log())")
            }
            usleep(100_000)
        }
        return server
    }

    struct PostfixFailure: Error, CustomStringConvertible {
        let description: String
    }

    private func configure(refusingPort: Int, pipe: [String]?) throws {
        let manager = FileManager.default
        for name in ["etc", "queue", "data", "captured"] {
            try manager.createDirectory(at: directory.appendingPathComponent(name), withIntermediateDirectories: true)
        }
        // The pipe runs the script as `nobody`, which must reach and write captured/.
        try manager.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory.path)
        try manager.setAttributes([.posixPermissions: 0o1777], ofItemAtPath: capturedDirectory.path)
        guard try SMTPTestServer.runTool("/bin/chown", ["postfix", directory.appendingPathComponent("data").path]) == 0 else {
            throw PostfixFailure(description: "could not give data/ to the postfix user")
        }
        let script = directory.appendingPathComponent("capture.sh")
        try Data("""
            #!/bin/sh
            # Keeps one delivered message and its envelope recipient; the .eml appears last (renamed).
            set -e
            name="$(date +%s%N)-$$"
            cat > "\(capturedDirectory.path)/$name.tmp"
            printf '%s' "$1" > "\(capturedDirectory.path)/$name.recipient"
            mv "\(capturedDirectory.path)/$name.tmp" "\(capturedDirectory.path)/$name.eml"

            """.utf8).write(to: script)
        try manager.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)
        let etc = configDirectory.path
        try Data("""
            example.org eventfilter-bounce:
            busy.test smtp:[127.0.0.1]:\(refusingPort)

            """.utf8).write(to: configDirectory.appendingPathComponent("transport"))
        try Data("""
            compatibility_level = 3.6
            queue_directory = \(directory.path)/queue
            data_directory = \(directory.path)/data
            mail_owner = postfix
            setgid_group = postdrop
            syslog_name = postfix-eventfilter-test
            maillog_file = \(logFile.path)
            maillog_file_prefixes = \(directory.path)
            myhostname = bounce.test
            mydomain = bounce.test
            mydestination = bounce.test
            inet_interfaces = 127.0.0.1
            inet_protocols = ipv4
            mynetworks = 127.0.0.0/8
            # Accept every local address and let local(8) bounce the unknown ones (a DSN, not a 550).
            local_recipient_maps =
            alias_maps =
            alias_database =
            relayhost =
            recipient_delimiter = +
            transport_maps = texthash:\(etc)/transport
            # One delivery attempt, then the report: a deferral becomes a 4.x.x bounce at once.
            maximal_queue_lifetime = 0
            bounce_queue_lifetime = 0
            smtputf8_enable = no
            biff = no

            """.utf8).write(to: configDirectory.appendingPathComponent("main.cf"))
        try Data("""
            127.0.0.1:\(port) inet n - n - - smtpd
            pickup    unix n - n 60 1 pickup
            cleanup   unix n - n - 0 cleanup
            qmgr      unix n - n 300 1 qmgr
            rewrite   unix - - n - - trivial-rewrite
            bounce    unix - - n - 0 bounce
            defer     unix - - n - 0 bounce
            trace     unix - - n - 0 bounce
            verify    unix - - n - 1 verify
            flush     unix n - n 1000? 0 flush
            proxymap  unix - - n - - proxymap
            smtp      unix - - n - - smtp
            relay     unix - - n - - smtp
            showq     unix n - n - - showq
            error     unix - - n - - error
            retry     unix - - n - - error
            discard   unix - - n - - discard
            local     unix - n n - - local
            anvil     unix - - n - 1 anvil
            scache    unix - - n - 1 scache
            postlog   unix-dgram n - n - 1 postlogd
            eventfilter-bounce unix - n n - - pipe
              flags=DRq user=nobody argv=\((pipe ?? [script.path]).joined(separator: " ")) ${recipient}

            """.utf8).write(to: configDirectory.appendingPathComponent("master.cf"))
    }

    @discardableResult
    private func run(_ arguments: [String]) throws -> Int32 {
        try SMTPTestServer.runTool(Self.postfix, ["-c", configDirectory.path] + arguments)
    }

    private func accepts() -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    func log() -> String {
        (try? String(contentsOf: logFile, encoding: .utf8)) ?? "(no log)"
    }

    /// Stops the instance; kills its master if `postfix stop` cannot.
    func stop() {
        guard !stopped else { return }
        stopped = true
        if (try? run(["stop"])) != 0,
           let text = try? String(contentsOf: directory.appendingPathComponent("queue/pid/master.pid"), encoding: .utf8),
           let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1 {
            kill(pid, SIGKILL)
        }
    }

    /// Waits until the pipe transport has taken `count` messages (Postfix logs `status=sent` for
    /// each); fails at once when it deferred or bounced one (the pipe command failed).
    func waitForPipeDeliveries(count: Int, timeout: TimeInterval = 30) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let lines = log().split(separator: "\n").filter { $0.contains("relay=eventfilter-bounce") }
            if let failed = lines.first(where: { !$0.contains("status=sent") }) {
                throw PostfixFailure(description: "the pipe did not take a bounce: \(failed)")
            }
            if lines.count >= count { return }
            guard Date() < deadline else {
                throw PostfixFailure(description: "the pipe took \(lines.count) of \(count) bounces within \(Int(timeout)) s: \(log())")
            }
            usleep(100_000)
        }
    }

    /// The messages the pipe delivered, oldest first, once there are `count` of them (or fails
    /// after `timeout` seconds, with Postfix's log).
    func waitForCaptured(count: Int, timeout: TimeInterval = 30) throws -> [Captured] {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let names = try FileManager.default.contentsOfDirectory(atPath: capturedDirectory.path)
                .filter { $0.hasSuffix(".eml") }
                .sorted { (Int($0.split(separator: "-")[0]) ?? 0) < (Int($1.split(separator: "-")[0]) ?? 0) }
            if names.count >= count {
                return try names.map { name in
                    let base = capturedDirectory.appendingPathComponent(String(name.dropLast(4)))
                    return Captured(recipient: try String(contentsOf: base.appendingPathExtension("recipient"), encoding: .utf8),
                                    bytes: Array(try Data(contentsOf: base.appendingPathExtension("eml"))))
                }
            }
            guard Date() < deadline else {
                throw PostfixFailure(description: "Postfix returned \(names.count) of \(count) bounces within \(Int(timeout)) s: \(log())")
            }
            usleep(100_000)
        }
    }
}
