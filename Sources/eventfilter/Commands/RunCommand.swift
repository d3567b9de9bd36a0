import EventFilterKit
import Foundation

struct RunCommand: Command {
    static let words = ["run"]
    static let abstract = "Pass every due event through the handlers, send due digests, deliver the outbox."
    static let discussion = """
        The cron entry point. Quiet when all is well. Each new problem since the previous run (a
        message failed, mail deferred too long, a handler failing or giving up, a settings warning)
        is printed once, as one line; the exit status stays 0, since the run itself completed.
        A run that fails prints a one-line error and exits non-zero. Settings that
        'eventfilter check' calls an error stop the run before anything changes.
        On SQLite, a second run started while one is working exits at once, quietly. On
        PostgreSQL any number of runs (several cron hosts, or --workers) work side by side: each
        claims its own events and messages, so nothing is done twice.

        Cron, every five minutes:
          */5 * * * *  /usr/local/bin/eventfilter --root /srv/site run
        """
    static let verbose = Flag("verbose", help: "print what the run did")
    static let dryRun = Flag("dry-run", help: "do the work in a transaction that is rolled back; nothing is kept or sent")
    static let workers = Option("workers", value: "N", help: "N runs side by side, reported as one (PostgreSQL only; default 1)",
                                parse: ValueParser.workers)
    static let parameters: [any Parameter] = [verbose, dryRun, workers]
    static let exclusive = [ExclusiveGroup([dryRun, workers])]

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        try context.requireInstallation()
        let settings = try context.settings()
        let workers = arguments[Self.workers] ?? 1
        // On SQLite one run works at a time: a second one leaves. On PostgreSQL runs share the
        // work through claims, and take no lock.
        var lock: RunLock?
        let store = try context.store()
        if !store.sharesWork {
            guard workers == 1 else {
                throw EventFilterError.usage("--workers \(workers): SQLite takes one writer at a time, so one run works at a time; "
                    + "more workers need [DatabaseSettings] Backend=postgresql")
            }
            guard let taken = try RunLock(root: context.root, store: store) else {
                if arguments[verbose] { Output.line("another run is working; nothing to do") }
                return
            }
            lock = taken
        }
        defer { withExtendedLifetime(lock) {} }
        let dryRun = arguments[Self.dryRun]
        let report: Filter.Report
        if workers > 1 {
            report = try RunWorkers(count: workers, context: context).run()
        } else {
            report = try Filter.checkedRun(root: context.root, settings: settings, store: store, now: context.now, dryRun: dryRun,
                                           describeError: ErrorReport.message) {
                try TransportFactory.make(settings: settings, root: context.root)
            }
            if try RunWorkers.handOver(report) { return }
        }
        ProblemReport.lines(for: report.newProblems).forEach(Output.line)
        if arguments[verbose] || dryRun {
            let prefix = dryRun ? "dry run: would have " : ""
            Output.line("\(prefix)handled \(report.events) events; queued \(report.messagesQueued) messages "
                + "(\(report.digestsSent) digests); held \(report.digestItems) items for digests"
                + (report.failedPairs > 0 ? "; \(report.failedPairs) handler failures (see status)" : "")
                + (arguments[verbose] ? Self.timing(report.filterSeconds, report.filterCPU) : ""))
            if !dryRun {
                Output.line("delivered \(report.delivery.sent), deferred \(report.delivery.deferred), failed \(report.delivery.failed)"
                    + Self.timing(report.deliverySeconds, report.deliveryCPU))
            }
        }
    }

    /// " in 2.10 s (CPU 1.80 s user, 0.25 s system)": wall time, then the process's CPU in the
    /// stage; the system share is the kernel's work for it (files created, the store written).
    private static func timing(_ seconds: Double, _ cpu: ProcessCPUTime) -> String {
        String(format: " in %.2f s (CPU %.2f s user, %.2f s system)", seconds, cpu.user, cpu.system)
    }
}
