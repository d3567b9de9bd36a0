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

    init(siteINI: String? = nil, notificationINI: String? = nil) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("eventfilter-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url.appendingPathComponent("settings/override"), withIntermediateDirectories: true)
        try write("settings/site.ini", siteINI ?? Self.defaultSiteINI)
        try write("settings/notification.ini", notificationINI ?? Self.stockNotificationINI)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    static let defaultSiteINI = """
        [SiteSettings]
        SiteName=Test Site
        SiteURL=https://example.com

        [MailSettings]
        Transport=file
        AdminEmail=admin@example.com
        EmailSender=notify@example.com

        """

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

    /// Runs `eventfilter --root <root> args...`, with `--now` when given.
    @discardableResult
    func run(_ arguments: [String], now: String? = nil, stdin: String? = nil, environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = Self.executable
        var args = ["--root", path]
        if let now { args += ["--now", now] }
        process.arguments = args + arguments
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "EVENTFILTER_ROOT")
        env.merge(environment) { _, new in new }
        process.environment = env
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

    /// Runs an SQL query with the sqlite3 library through the store, for asserting on rows.
    func scalar(_ sql: String) throws -> Int {
        let result = try Self.sqlite(url.appendingPathComponent("var/eventfilter.db").path, sql)
        return Int(result.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    /// The store's full SQL text (`sqlite3 -readonly .dump`), or "no store" when there is no file:
    /// equal before and after a refused command means nothing changed.
    func dump() throws -> String {
        let database = url.appendingPathComponent("var/eventfilter.db").path
        guard FileManager.default.fileExists(atPath: database) else { return "no store" }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sqlite3", "-readonly", database, ".dump"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "sqlite3 .dump failed")
        return String(decoding: data, as: UTF8.self)
    }

    /// The first column of a query's rows as text, one per line, without the final newline.
    func sqliteText(_ sql: String) throws -> String {
        let result = try Self.sqlite(url.appendingPathComponent("var/eventfilter.db").path, sql)
        return result.hasSuffix("\n") ? String(result.dropLast()) : result
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

    static func sqlite(_ database: String, _ sql: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); [print('|'.join(map(str,r))) for r in c.execute(sys.argv[2])]", database, sql]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
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
