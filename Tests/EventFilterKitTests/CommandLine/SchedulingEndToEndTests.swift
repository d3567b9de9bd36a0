import Foundation
import XCTest

/// The README's two ways to schedule `eventfilter run`, taken from README.md itself: the cron line
/// runs under cron's bare environment, and the systemd service and timer verify and run.
final class SchedulingEndToEndTests: XCTestCase {
    private static let installedBinary = "/usr/local/bin/eventfilter"
    private static let installedRoot = "/srv/eventfilter"

    private var readme: String {
        get throws { try String(contentsOf: TestRoot.repository.appendingPathComponent("README.md"), encoding: .utf8) }
    }

    /// The fenced blocks of README.md with the given info string (```cron, ```ini).
    private func blocks(_ language: String) throws -> [String] {
        let parts = try readme.components(separatedBy: "```\(language)\n").dropFirst()
        return parts.compactMap { $0.components(separatedBy: "\n```").first }
    }

    /// The README's text with this machine's binary and a test root in place of the installed ones.
    private func substituted(_ text: String, _ root: TestRoot) -> String {
        text.replacingOccurrences(of: Self.installedBinary, with: TestRoot.executable.path)
            .replacingOccurrences(of: Self.installedRoot, with: root.path)
    }

    private func run(_ executable: String, _ arguments: [String]) throws -> TestRoot.Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let stdout = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return TestRoot.Result(status: process.terminationStatus, stdout: stdout, stderr: stderr)
    }

    /// A subscriber and one event under their node: a working run mails one message.
    private func publish(_ root: TestRoot, node: Int) throws {
        if try root.run(["user", "add", "ann@example.com"]).status == 0 {
            try root.ok("subscribe", "ann@example.com", "2")
        }
        try root.ok("event", "add", "ezpublish", "node_id=\(node)", "path=/1/2/\(node)/", "name=Scheduled \(node)")
    }

    func testCronLineRunsUnderCronsBarePath() throws {
        let entries = try blocks("cron").flatMap { $0.split(separator: "\n") }.filter { !$0.hasPrefix("#") && !$0.isEmpty }
        XCTAssertEqual(entries.count, 1, "one cron entry in README.md")
        let entry = String(try XCTUnwrap(entries.first))
        // Five time fields, then the command as cron hands it to /bin/sh.
        let fields = entry.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
        XCTAssertEqual(fields.count, 6, entry)
        XCTAssertEqual(fields.prefix(5).joined(separator: " "), "*/5 * * * *")
        let command = String(fields[5]).trimmingCharacters(in: .whitespaces)
        XCTAssertTrue(command.hasPrefix(Self.installedBinary + " "), "the binary by its absolute path: \(command)")

        let root = try TestRoot()
        try publish(root, node: 5)
        let result = try run("/usr/bin/env", ["-i", "PATH=/usr/bin:/bin", "/bin/sh", "-c", substituted(command, root)])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout + result.stderr, "", "quiet on success, so cron mails nothing")
        XCTAssertEqual(try root.mails().map(\.subject), ["[Test Site] Item \"Scheduled 5\" was published"])
    }

    func testSystemdServiceAndTimerVerifyAndTheServiceRuns() throws {
        let units = try blocks("ini").filter { $0.hasPrefix("# /etc/systemd/system/eventfilter.") }
        let service = try XCTUnwrap(units.first { $0.hasPrefix("# /etc/systemd/system/eventfilter.service\n") }, "README has the service")
        let timer = try XCTUnwrap(units.first { $0.hasPrefix("# /etc/systemd/system/eventfilter.timer\n") }, "README has the timer")
        XCTAssertTrue(timer.contains("\nOnCalendar=*:0/5\n"), "every five minutes, like the cron line")

        let root = try TestRoot()
        let directory = root.url.appendingPathComponent("units")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let serviceFile = directory.appendingPathComponent("eventfilter.service")
        let timerFile = directory.appendingPathComponent("eventfilter.timer")
        try Data(substituted(service, root).utf8).write(to: serviceFile)
        try Data(substituted(timer, root).utf8).write(to: timerFile)
        let verify = try run("/usr/bin/env", ["systemd-analyze", "verify", serviceFile.path, timerFile.path])
        XCTAssertEqual(verify.status, 0, verify.stderr)
        XCTAssertEqual(verify.stderr, "", "no warning about either unit")

        // ExecStart as written (systemd splits it on spaces and runs it without a shell, with a
        // clean environment).
        let execStart = try XCTUnwrap(service.split(separator: "\n").first { $0.hasPrefix("ExecStart=") })
        let words = substituted(String(execStart.dropFirst("ExecStart=".count)), root).split(separator: " ").map(String.init)
        XCTAssertEqual(words.first, TestRoot.executable.path)
        try publish(root, node: 6)
        let result = try run("/usr/bin/env", ["-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] + words)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(try root.mails().map(\.subject), ["[Test Site] Item \"Scheduled 6\" was published"])
    }
}
