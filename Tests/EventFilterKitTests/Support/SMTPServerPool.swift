import Foundation

/// The real SMTP servers (Tests/Support/smtp_server.py) of one end-to-end test, with a scratch
/// folder of its own for their files and the test's; `stop()` in the test's tearDown stops them
/// all and removes the folder.
///
///     override func setUpWithError() throws { pool = try SMTPServerPool("ef-delivery") }
///     override func tearDown() { pool.stop() }
///     let server = try pool.start()            // any free port
///     let secure = try pool.start(port: 0, ["--auth", "mailer:s3cret"])
final class SMTPServerPool {
    let scratch: URL
    private var servers: [SMTPTestServer] = []

    init(_ name: String) throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    /// Starts a server on `port` (0: any free port), each in a folder of its own.
    func start(port: Int = 0, _ arguments: [String] = []) throws -> SMTPTestServer {
        let server = try SMTPTestServer.start(port: port, directory: scratch.appendingPathComponent("server\(servers.count)"),
                                              arguments: arguments)
        servers.append(server)
        return server
    }

    func stop() {
        servers.forEach { $0.stop() }
        servers = []
        try? FileManager.default.removeItem(at: scratch)
    }
}
