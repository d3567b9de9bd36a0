import EventFilterKit
import Foundation

/// `run --workers N`: N runs of this program on this host, side by side on one PostgreSQL store
/// (each claims its own events and messages), waited for and reported as one run.
///
/// Each worker is this executable started again as a plain `run` with the same `--root` and the
/// same `--now` (so every worker decides with one time), told by `EVENTFILTER_RUN_REPORT` where
/// to write its report as JSON instead of printing it; its stderr is kept for the error line.
///
///     let report = try RunWorkers(count: 4, context: context).run()
///     // one report: counts added, each new problem once
struct RunWorkers {
    /// The environment variable naming the file a worker writes its report into.
    static let reportVariable = "EVENTFILTER_RUN_REPORT"

    let count: Int
    let context: CommandContext

    /// A worker that failed: its exit status and its one-line error.
    struct WorkerFailed: Error, CustomStringConvertible {
        let worker: Int
        let status: Int32
        let message: String
        var description: String { "worker \(worker) of the run failed (exit \(status)): \(message)" }
    }

    /// Starts the workers, waits for all of them, and returns their combined report; throws the
    /// first failure (after every worker has ended) when any worker failed.
    func run() throws -> Filter.Report {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("eventfilter-workers-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let now = context.now
        var started: [(process: Process, report: URL, errors: URL)] = []
        for index in 0..<count {
            let report = scratch.appendingPathComponent("report-\(index).json"), errors = scratch.appendingPathComponent("stderr-\(index)")
            guard FileManager.default.createFile(atPath: errors.path, contents: nil) else {
                started.forEach { $0.process.waitUntilExit() }
                throw EventFilterError.failure("cannot create \(errors.path) for worker \(index + 1)'s errors")
            }
            let process = Process()
            process.executableURL = executable
            process.arguments = ["--root", context.root.path, "--now", Timestamp.iso8601(now), "run"]
            var environment = ProcessInfo.processInfo.environment
            environment[Self.reportVariable] = report.path
            process.environment = environment
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice  // a worker writes its report to the file
            process.standardError = try FileHandle(forWritingTo: errors)
            do {
                try process.run()
            } catch {
                // The ones already started finish their work; this one's absence is the error.
                started.forEach { $0.process.waitUntilExit() }
                throw EventFilterError.failure("cannot start worker \(index + 1) of the run: \(error)")
            }
            started.append((process, report, errors))
        }
        var reports: [Filter.Report] = []
        var failure: WorkerFailed?
        for (index, worker) in started.enumerated() {
            worker.process.waitUntilExit()
            let status = worker.process.terminationReason == .exit ? worker.process.terminationStatus : 128 + worker.process.terminationStatus
            if status == 0, let data = try? Data(contentsOf: worker.report),
               let report = try? JSONDecoder().decode(Filter.Report.self, from: data) {
                reports.append(report)
            } else if failure == nil {
                let text = (try? String(contentsOf: worker.errors, encoding: .utf8)) ?? ""
                let line = text.split(whereSeparator: \.isNewline).first.map(String.init)
                    ?? (status == 0 ? "it wrote no report" : "it ended without a message")
                failure = WorkerFailed(worker: index + 1, status: status == 0 ? 1 : status,
                                       message: line.hasPrefix("eventfilter: ") ? String(line.dropFirst(13)) : line)
            }
        }
        if let failure { throw failure }
        return Filter.Report.combined(reports)
    }

    /// In a worker: writes `report` where the parent asked, if it did. True when written, and
    /// then the worker prints nothing itself.
    static func handOver(_ report: Filter.Report) throws -> Bool {
        guard let path = EnvironmentVariable.value(reportVariable), !path.isEmpty else { return false }
        try JSONEncoder().encode(report).write(to: URL(fileURLWithPath: path))
        return true
    }
}
