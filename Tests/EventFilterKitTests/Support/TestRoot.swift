import Foundation
import XCTest

/// A fresh installation in a temporary directory, driven through the real `eventfilter`
/// executable, the way an operator (or cron) uses it.
///
///     let root = try TestRoot()
///     try root.ok("user", "add", "ann@example.com")
///     let mail = try root.mails()
final class TestRoot {
    let url: URL
    var path: String { url.path }

    /// The `eventfilter` binary built next to this test bundle.
    static let executable: URL = {
        let bundleDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [bundleDirectory, bundleDirectory.deletingLastPathComponent()].map { $0.appendingPathComponent("eventfilter") }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]
    }()

    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The test's own PostgreSQL database when the suite runs on PostgreSQL (dropped with the root).
    let postgres: TestPostgresDatabase?

    /// `postgres`: a database for a test about PostgreSQL itself, whatever the suite's backend.
    init(siteINI: String? = nil, notificationINI: String? = nil, postgres database: TestPostgresDatabase? = nil) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("eventfilter-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url.appendingPathComponent("settings/override"), withIntermediateDirectories: true)
        postgres = try database ?? (TestBackend.current == .postgresql ? try TestPostgres.server().makeDatabase() : nil)
        try write("settings/site.ini", siteINI ?? Self.defaultSiteINI)
        try write("settings/notification.ini", notificationINI ?? Self.stockNotificationINI)
        if let postgres {
            // settings/override/site.ini.append is read after site.ini.append.php, which the tests
            // write for their own settings; this file is the suite's alone, so neither loses the other.
            try write("settings/override/site.ini.append", """
                [DatabaseSettings]
                Backend=postgresql
                ConnectionString=\(postgres.connectionString)

                """)
        }
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// What every process a test starts needs in its environment besides its own: the connection
    /// string under PostgreSQL (the override file above carries it too, for web servers that
    /// clear their children's environment).
    var environment: [String: String] {
        postgres.map { ["EVENTFILTER_DATABASE": $0.connectionString] } ?? [:]
    }

    static let defaultSiteINI = """
        [SiteSettings]
        SiteName=Test Site
        SiteURL=https://example.com

        [MailSettings]
        Transport=file
        AdminEmail=admin@example.com
        EmailSender=notify@example.com

        """

    /// site.ini for delivery over SMTP to a test server on loopback: the default settings and a
    /// `[MailSettings]` section naming the server, its timeouts (nil: the product's default) and
    /// `extra` lines.
    ///
    ///     let root = try TestRoot(siteINI: TestRoot.smtpSiteINI(port: server.port, extra: ["BounceAddress=bounces@example.org"]))
    static func smtpSiteINI<Port: BinaryInteger>(port: Port, connectTimeout: Int? = 5, timeout: String? = "20", extra: [String] = []) -> String {
        var lines = ["[MailSettings]", "Transport=SMTP", "TransportServer=127.0.0.1", "TransportPort=\(port)"]
        if let connectTimeout { lines.append("TransportConnectTimeout=\(connectTimeout)") }
        if let timeout { lines.append("TransportTimeout=\(timeout)") }
        return defaultSiteINI + (lines + extra).joined(separator: "\n") + "\n\n"
    }

    /// eZ Publish's stock settings/notification.ini (kept once, in SettingsTests.swift).
    static let stockNotificationINI = EventFilterKitTests.stockNotificationINI

    func write(_ relativePath: String, _ contents: String, executable: Bool = false) throws {
        let file = url.appendingPathComponent(relativePath)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(contents.utf8).write(to: file)
        if executable {
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: file.path)
        }
    }

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// `eventfilter --root <root> [--now NOW] args...` with the root's environment, not started.
    private func command(_ arguments: [String], now: String?, environment: [String: String] = [:]) -> Process {
        let process = Process()
        process.executableURL = Self.executable
        var args = ["--root", path]
        if let now { args += ["--now", now] }
        process.arguments = args + arguments
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "EVENTFILTER_ROOT")
        env.merge(self.environment) { _, new in new }
        env.merge(environment) { _, new in new }
        process.environment = env
        return process
    }

    /// Starts `eventfilter --root <root> --now NOW args...` in the background and returns it
    /// (the test waits for it, bounded, or kills it); its stdout and stderr go to the given
    /// files (made empty first), or nowhere.
    ///
    ///     let run = try root.start(["run"], now: now)
    func start(_ arguments: [String], now: String, output: URL? = nil, errors: URL? = nil) throws -> Process {
        let process = command(arguments, now: now)
        process.standardInput = FileHandle.nullDevice
        func sink(_ file: URL?) throws -> FileHandle {
            guard let file else { return FileHandle.nullDevice }
            guard FileManager.default.createFile(atPath: file.path, contents: nil) else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: file.path])
            }
            return try FileHandle(forWritingTo: file)
        }
        process.standardOutput = try sink(output)
        process.standardError = try sink(errors)
        try process.run()
        return process
    }

    /// Runs `eventfilter --root <root> args...`, with `--now` when given.
    @discardableResult
    func run(_ arguments: [String], now: String? = nil, stdin: String? = nil, environment: [String: String] = [:]) throws -> Result {
        let process = command(arguments, now: now, environment: environment)
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ef-io-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outURL = scratch.appendingPathComponent("out"), errURL = scratch.appendingPathComponent("err")
        try Data().write(to: outURL)
        try Data().write(to: errURL)
        if let stdin {
            let inURL = scratch.appendingPathComponent("in")
            try Data(stdin.utf8).write(to: inURL)
            process.standardInput = try FileHandle(forReadingFrom: inURL)
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        try process.run()
        process.waitUntilExit()
        return Result(status: process.terminationStatus,
                      stdout: try String(contentsOf: outURL, encoding: .utf8),
                      stderr: try String(contentsOf: errURL, encoding: .utf8))
    }

    /// Runs and requires exit status 0; returns stdout.
    @discardableResult
    func ok(_ arguments: String..., now: String? = nil, stdin: String? = nil,
            file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let result = try run(arguments, now: now, stdin: stdin)
        XCTAssertEqual(result.status, 0, "eventfilter \(arguments.joined(separator: " ")) failed: \(result.stderr)", file: file, line: line)
        return result.stdout
    }

    /// The mail files the file transport wrote, oldest first.
    func mailFiles() throws -> [URL] {
        let directory = url.appendingPathComponent("var/log/mail")
        guard FileManager.default.fileExists(atPath: directory.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "eml" }
            .sorted { Int($0.deletingPathExtension().lastPathComponent) ?? 0 < Int($1.deletingPathExtension().lastPathComponent) ?? 0 }
    }

    func mails() throws -> [ParsedMail] {
        try mailFiles().map { try ParsedMail(bytes: Array(Data(contentsOf: $0)), file: $0) }
    }

    /// Runs a Python program with arguments; its stdout without the final newline.
    static func python(_ program: String, _ arguments: String...) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", program] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        return text.hasSuffix("\n") ? String(text.dropLast()) : text
    }
}

/// A received message, parsed just enough to assert on: unfolded headers and the decoded
/// text and HTML parts. Full MIME validity is checked by Python's strict parser elsewhere.
struct ParsedMail {
    let file: URL?
    let raw: [UInt8]
    let headers: [(name: String, value: String)]
    let text: String
    let html: String?

    init(bytes: [UInt8], file: URL? = nil) throws {
        self.file = file
        raw = bytes
        let decoded = try TestMIME.decode(bytes)
        headers = decoded.headers
        text = decoded.text
        html = decoded.html
    }

    func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    var to: String { header("To") ?? "" }
    var subject: String { TestMIME.decodeEncodedWords(header("Subject") ?? "") }
}
