import Foundation

/// `eventfilter run`: the cron entry point.
///
/// 1. creates the `ezcurrenttime` event;
/// 2. passes every due unhandled event through the handlers in notification.ini order, a batch
///    at a time: handlers return items (`EventHandler`), the `ItemSink` turns them into digest
///    rows and queued mail, committed together with the handled marks; when it reaches the
///    tick, the digest stage (`DigestRun`) sends the digests that are due;
/// 3. purges what has been handled and sent longer than `KeepDays`;
/// 4. delivers the outbox.
///
///     let report = try Filter(root: root, settings: settings, store: store).run(now: now, transport: transport)
public final class Filter {
    public struct Report: Sendable, Equatable, Codable {
        public var events = 0
        public var messagesQueued = 0
        public var digestItems = 0
        public var digestsSent = 0
        public var failedPairs = 0
        /// Problems that appeared since the previous run; `run` prints each once.
        public var newProblems: [Problem] = []
        public var delivery = Outbox.DeliveryReport()
        /// Wall-clock seconds of the two stages, for `run --verbose` (reporting only: no decision uses them).
        public var filterSeconds = 0.0
        public var deliverySeconds = 0.0
        /// The process's CPU time in each stage (`run --verbose`; reporting only).
        public var filterCPU = ProcessCPUTime()
        public var deliveryCPU = ProcessCPUTime()

        public init() {}

        /// The reports of runs that worked side by side (`run --workers N`) as one: counts added,
        /// each problem once, the seconds of the slowest, since they ran at the same time, and
        /// the CPU times added, since each worker is a process of its own.
        public static func combined(_ reports: [Report]) -> Report {
            var total = Report()
            var seen = Set<String>()
            for report in reports {
                total.events += report.events
                total.messagesQueued += report.messagesQueued
                total.digestItems += report.digestItems
                total.digestsSent += report.digestsSent
                total.failedPairs += report.failedPairs
                total.newProblems += report.newProblems.filter { seen.insert($0.key).inserted }
                total.delivery.add(report.delivery)
                total.filterSeconds = max(total.filterSeconds, report.filterSeconds)
                total.deliverySeconds = max(total.deliverySeconds, report.deliverySeconds)
                total.filterCPU = total.filterCPU + report.filterCPU
                total.deliveryCPU = total.deliveryCPU + report.deliveryCPU
            }
            return total
        }
    }

    let root: URL
    let settings: Settings
    let store: Store
    let site: SiteConfiguration
    let bounces: BounceSettings
    let monitor: MonitorSettings
    /// What `eventfilter check` warns about; reported once as problems, never a reason to stop.
    var settingsWarnings: [SettingsCheck.Finding] = []
    /// How a failure is written into the run log: the command line passes its own one-line
    /// wording, so `status` shows what the operator saw on stderr.
    public var describeError: (any Error) -> String = { "\($0)" }

    public init(root: URL, settings: Settings, store: Store) throws {
        self.root = root
        self.settings = settings
        self.store = store
        self.site = try SiteConfiguration.load(settings)
        self.bounces = try BounceSettings.load(settings)
        self.monitor = try MonitorSettings.load(settings)
    }

    /// The cron entry point: refuses to start when `eventfilter check` finds an error in the
    /// settings (a missing notification.ini, no handlers, an unknown handler, a bad value), so
    /// nothing is marked handled under settings that would mail nobody. The refusal changes
    /// nothing, not even the run log (bad input changes nothing); `status --check` finds the same
    /// errors itself. It is thrown as one line.
    ///
    /// The transport is made only once the settings passed, so a bad mail setting is refused
    /// like any other; a transport that cannot be made for another reason (a mail directory that
    /// cannot be created) is a failed run, recorded for `status`.
    ///
    ///     let report = try Filter.checkedRun(root: root, settings: settings, store: store, now: now) {
    ///         try TransportFactory.make(settings: settings, root: root)
    ///     }
    public static func checkedRun(root: URL, settings: Settings, store: Store, now: Int64, dryRun: Bool = false,
                                  describeError: @escaping (any Error) -> String = { "\($0)" },
                                  transport makeTransport: () throws -> MailTransport?) throws -> Report {
        let findings = SettingsCheck(root: root, settings: settings).findings()
        let errors = findings.filter { $0.severity == .error }
        if let first = errors.first {
            let more = errors.count > 1 ? " (and \(errors.count - 1) more; see eventfilter check)" : ""
            let message = "\(first.description)\(more)"
            throw EventFilterError.failure(message)
        }
        let filter = try Filter(root: root, settings: settings, store: store)
        filter.settingsWarnings = findings.filter { $0.severity == .warning }
        filter.describeError = describeError
        let transport: MailTransport?
        do {
            transport = dryRun ? nil : try makeTransport()
        } catch {
            try? store.recordFailedRun(now: now, pid: Int64(getpid()), error: describeError(error))
            throw error
        }
        return try filter.run(now: now, transport: transport, dryRun: dryRun)
    }

    /// Runs the filter and delivery. With `dryRun`, does all the work inside a transaction that
    /// is rolled back, and delivers nothing: the report tells what a real run would do.
    public func run(now: Int64, transport: MailTransport?, dryRun: Bool = false) throws -> Report {
        let plan = try HandlerRegistry.plan(settings: settings, root: root)
        let renderer = try MailRenderer(root: root, settings: settings, site: site, now: now)
        var outbox = Outbox(store: store)
        outbox.bounceAddress = bounces.address
        let sink = ItemSink(store: store, outbox: outbox, renderer: renderer, digests: plan.digests)
        let digests = plan.digests ? DigestRun(store: store, renderer: renderer, sink: sink, handlerOrder: plan.names) : nil
        var report = Report()
        gaveUpThisRun = []
        var purging = true
        let work = {
            let tick = try self.store.addEvent(type: EventType.currentTime, params: ["time": .string(String(now))], now: now)
            try self.store.withPageCache(kibibytes: Self.pageCacheKiB) {
                // Immediate mail and digest rows are made durable before this run's delivery;
                // a run that queued neither (cron's usual no-op) skips that checkpoint.
                try self.store.checkpointingEvery(pages: DigestRun.checkpointPages,
                                                  checkpointAtEnd: { sink.committed.messagesQueued > 0 || sink.committed.digestItems > 0 }) {
                    try self.filter(plan, renderer: renderer, sink: sink, digests: digests, currentTick: tick.id, report: &report)
                }
            }
            // Deletions are remembered as long as dedupe keys, far longer than any digest waits.
            if purging {
                try self.store.purgeExpired(Store.RetentionCutoffs(kept: now - Int64(self.site.keepDays) * 86_400,
                                                                  remembered: now - Int64(self.site.keepDedupeDays) * 86_400))
            }
        }
        let clock = ContinuousClock()
        let started = clock.now
        let startedCPU = ProcessCPUTime.now()
        if dryRun {
            try store.inRolledBackTransaction(work)
            report.filterSeconds = Self.seconds(clock.now - started)
            report.filterCPU = ProcessCPUTime.now() - startedCPU
        } else {
            let (logID, previousStart) = try store.beginRunLog(now: now, pid: Int64(getpid()))
            purging = Self.purgesAt(now, previousRunStart: previousStart)
            var failure: Error?
            do {
                try work()
            } catch {
                failure = error  // still deliver what earlier runs and batches queued
            }
            report.filterSeconds = Self.seconds(clock.now - started)
            report.filterCPU = ProcessCPUTime.now() - startedCPU
            do {
                if let transport {
                    let delivering = clock.now
                    let deliveringCPU = ProcessCPUTime.now()
                    report.delivery = try outbox.deliverDue(through: transport, now: now)
                    report.deliverySeconds = Self.seconds(clock.now - delivering)
                    report.deliveryCPU = ProcessCPUTime.now() - deliveringCPU
                }
            } catch {
                failure = failure ?? error
            }
            if let failure {
                try? store.finishRunLog(logID, now: now, events: report.events, messages: sink.committed.messagesQueued,
                                        digests: sink.committed.digestsSent, delivered: report.delivery.sent, error: describeError(failure))
                throw failure
            }
            try store.finishRunLog(logID, now: now, events: report.events, messages: sink.committed.messagesQueued,
                                   digests: sink.committed.digestsSent, delivered: report.delivery.sent, error: nil)
            report.newProblems = try newProblems(runID: logID, handlers: plan.names, now: now)
        }
        report.messagesQueued = sink.committed.messagesQueued
        report.digestItems = sink.committed.digestItems
        report.digestsSent = sink.committed.digestsSent
        return report
    }

    /// Whether a run starting at `now` purges: the first run of each clock hour (UTC) does, so a
    /// cron run every five minutes purges once an hour. Retention is counted in days, and what
    /// has passed it waits at most an hour more; the other runs leave the purge's tables alone,
    /// which on PostgreSQL is most of a fresh connection's work (its first statement on each
    /// table loads that table's description from the catalog). A first run, or one whose clock
    /// went back, purges too; `previousRunStart` is the last run that finished without an error,
    /// so an hour whose first run was killed or failed is purged by its next run.
    ///
    ///     Filter.purgesAt(36_000, previousRunStart: 35_700)   // true: 10:00 after 09:55
    static func purgesAt(_ now: Int64, previousRunStart: Int64?) -> Bool {
        guard let previousRunStart else { return true }
        return now / 3600 != previousRunStart / 3600
    }

    /// The problems there are now that no earlier run reported, and the events this run gave up on.
    private func newProblems(runID: Int64, handlers: [String], now: Int64) throws -> [Problem] {
        // Keyed without the line number: a line added above the same typo is not a new problem.
        var current = settingsWarnings.map { warning in
            let file = warning.place.split(separator: ":").first.map(String.init) ?? warning.place
            return Problem(kind: .settings, key: "settings:\(file):\(warning.message)", message: warning.description)
        }
        current += try store.currentHandlerProblems(handlers: handlers)
        return try store.takeNewMailProblems(deferredCutoff: now - monitor.warnDeferredAfter)
            + store.takeNewProblems(current, runID: runID, now: now) + gaveUpThisRun
    }

    /// Events a handler gave up on in this run: reported by this run alone.
    private var gaveUpThisRun: [Problem] = []

    private func giveUp(_ event: Event, handler: String, reason: String, now: Int64) throws {
        let limit = monitor.handlerGiveUpAfter
        let after = "after " + (limit % 86_400 == 0 ? "\(limit / 86_400) days" : "\(limit) s")
        try store.giveUp(event: event.id, handler: handler, error: "gave up \(after): \(reason)", now: now)
        gaveUpThisRun.append(Problem(kind: .handlerGaveUp, key: "gave-up:\(handler):\(event.id)",
                                     message: "handler \(handler) gave up on event \(event.id) \(after): \(reason)"))
    }

    /// A failing custom handler waits 5 minutes before its next attempt, doubling to an hour, so a
    /// broken program is not started every cron tick.
    static func handlerBackoff(failures: Int) -> Int64 {
        min(300 << Int64(min(max(failures - 1, 0), 20)), longestHandlerBackoff)
    }

    static let longestHandlerBackoff: Int64 = 3600

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// `currentTick` is this run's `ezcurrenttime` event. An older one still waiting (a handler
    /// failed on it) has nothing left to do: this run's tick covers everything due up to a later
    /// time. So it is marked handled unseen, and failing handlers do not pile up one tick per run.
    private func filter(_ plan: HandlerRegistry.Plan, renderer: MailRenderer, sink: ItemSink, digests: DigestRun?,
                        currentTick: Int64, report: inout Report) throws {
        let now = renderer.now
        var afterID: Int64 = 0
        // Started once a run has committed a full transaction (a cron run with little to do never
        // pays for its thread and connection); ended before the run's last checkpoint.
        var checkpointer: BackgroundCheckpointer?
        defer { checkpointer?.stopAndWait() }
        while true {
            // Claimed: runs sharing a PostgreSQL store each filter other events (ClaimStore.swift).
            var batch = try store.claimDueEvents(after: afterID, now: now, limit: site.batchSize)
            guard let first = batch.first, let last = batch.last else { break }
            afterID = last.id
            let superseded = batch.filter { $0.type == EventType.currentTime && $0.id < currentTick }
            if !superseded.isEmpty {
                try store.inTransaction {
                    for tick in superseded { try store.markEventHandled(tick.id, now: now) }
                }
                batch.removeAll { $0.type == EventType.currentTime && $0.id < currentTick }
                guard !batch.isEmpty else { continue }
            }
            let finished = try store.finishedHandlers(from: first.id, to: last.id)

            // Outside the transaction: external programs may be slow, and ingest must not wait on them.
            // A custom handler in backoff is not started: its events wait for it.
            var outcomes = Outcomes()
            for handler in plan.handlers where handler.takesWholeBatch {
                // A next attempt further ahead than the longest backoff was set by a clock (or a
                // --now) that has since gone back: the handler runs rather than wait for it.
                if let backoff = try store.handlerBackoff(handler.name),
                   backoff.nextAttempt > now, backoff.nextAttempt - now <= Self.longestHandlerBackoff {
                    outcomes.skipped[handler.name] = backoff.lastError
                    continue
                }
                outcomes.batch[handler.name] = try handler.items(
                    for: batch.filter { !(finished[$0.id]?.contains(handler.name) ?? false) }, renderer: renderer, store: store)
                if let external = handler as? ExternalHandler {
                    switch external.lastBatch {
                    case .success?: try store.recordHandlerSuccess(external.name)
                    case .failure(let failure)?:
                        try store.recordHandlerFailure(external.name, error: failure.description, stderrTail: failure.stderrTail,
                                                       now: now, delay: Self.handlerBackoff)
                    case nil: break
                    }
                }
            }
            // Commit at event boundaries every few thousand rows, so intake (cgi, ingest) never waits
            // long for the write lock, whatever the number of subscribers. A tick starts a
            // transaction of its own: before it, with everything earlier committed, the digest
            // stage does its work in transactions of its own (one per user).
            var next = batch.startIndex
            while next < batch.endIndex {
                if batch[next].type == EventType.currentTime, let digests,
                   !(finished[batch[next].id] ?? []).contains(DigestRun.handlerName) {
                    outcomes.digests[batch[next].id] = try digests.sendDigests(dueAt: batch[next])
                }
                // Within it each path node's readers are read once, and the handled marks are
                // written together at its end (Store: cachingSubscribers, deferringHandledMarks).
                // On PostgreSQL the next events are locked and their readers read a few at a
                // time (`Store.readAhead`), not in round trips of their own one by one.
                try sink.inTransaction {
                    try store.deferringHandledMarks(now: now) {
                        try store.cachingSubscribers {
                            try store.readingAhead {
                                var readUpTo = next
                                repeat {
                                    if next >= readUpTo {
                                        readUpTo = min(next + Self.eventsReadAhead, batch.endIndex)
                                        try store.readAhead(batch[next..<readUpTo].filter { $0.type != EventType.currentTime })
                                    }
                                    try process(batch[next], plan: plan, finished: finished[batch[next].id] ?? [], outcomes: &outcomes,
                                                renderer: renderer, sink: sink, report: &report)
                                    next += 1
                                } while next < batch.endIndex && sink.pending.rows < Self.rowsPerCommit
                                    && batch[next].type != EventType.currentTime
                            }
                        }
                    }
                }
                if checkpointer == nil, sink.committed.rows >= Self.rowsPerCommit {
                    checkpointer = try store.checkpointingBeside()
                }
            }
        }
    }

    static let rowsPerCommit = 5_000

    /// Events locked and read ahead at once on PostgreSQL: a transaction of 5,000 rows may end
    /// after the first of them (an event with 5,000 readers), and the rest are then locked a
    /// little early, until that transaction commits.
    static let eventsReadAhead = 16

    /// SQLite's page cache while the filter runs (`Store.withPageCache`): 16 MiB, within the
    /// run's memory bound of 64 MB with room for a batch's items.
    static let pageCacheKiB = 16_384

    /// What was decided for a batch before its transactions: whole-batch handlers' outcomes by
    /// handler and event, the handlers in backoff (with their last error), the digests' outcome
    /// per tick.
    private struct Outcomes {
        var batch: [String: [Int64: HandlerOutcome]] = [:]
        var skipped: [String: String] = [:]
        var digests: [Int64: HandlerOutcome] = [:]
    }

    /// The outcome of handler `name` for `event`: asked now (one event, inside the transaction) or
    /// taken from what was decided before the transaction.
    private func outcome(of name: String, for event: Event, plan: HandlerRegistry.Plan, outcomes: inout Outcomes,
                         renderer: MailRenderer) throws -> HandlerOutcome {
        let missing = HandlerOutcome.failed("\(name) was not given event \(event.id)")
        if name == DigestRun.handlerName, plan.digests {
            guard event.type == EventType.currentTime else { return .done([]) }
            return outcomes.digests.removeValue(forKey: event.id) ?? missing
        }
        guard let handler = plan.handler(named: name) else { return missing }
        if handler.takesWholeBatch { return outcomes.batch[name]?[event.id] ?? missing }
        return try handler.items(for: [event], renderer: renderer, store: store)[event.id] ?? missing
    }

    /// Offers one event to every handler that has not handled it yet; the items of each go to the
    /// sink all or nothing (`ItemSink.accept`): a handler that fails (a value that cannot become
    /// mail, say) fails alone and is retried at the next run, while storage errors stop the run.
    private func process(_ event: Event, plan: HandlerRegistry.Plan, finished: Set<String>, outcomes: inout Outcomes,
                         renderer: MailRenderer, sink: ItemSink, report: inout Report) throws {
        let now = renderer.now
        // Intake may have moved or withdrawn a waiting event (a session's reminder, or its
        // announcement superseded by a move) since the batch was read; then it is not this run's
        // to send. Checked inside the write transaction.
        if !(try store.isStillWaiting(event.id, notBefore: event.notBefore)) { return }
        var allDone = true
        var doneNow: [String] = []
        // A custom handler still failing on an event this old gives up on it, so the event goes on.
        let due = max(event.createdAt, event.notBefore ?? event.createdAt)
        let givesUp = now - due >= monitor.handlerGiveUpAfter
        for name in plan.names where !finished.contains(name) {
            if let reason = outcomes.skipped[name] {
                if givesUp {
                    try giveUp(event, handler: name, reason: reason, now: now)
                    doneNow.append(name)
                } else {
                    allDone = false
                }
                continue
            }
            var failure: String?
            switch try outcome(of: name, for: event, plan: plan, outcomes: &outcomes, renderer: renderer) {
            case .done(let items):
                do {
                    try sink.accept(items, event: event)
                } catch let error as any StorageError {
                    throw error
                } catch {
                    failure = "\(error)"
                }
            case .failed(let reason):
                failure = reason
            }
            if let failure, givesUp, plan.handler(named: name) is ExternalHandler {
                try giveUp(event, handler: name, reason: failure, now: now)
                doneNow.append(name)
            } else if let failure {
                allDone = false
                report.failedPairs += 1
                try store.markHandlerFailed(event: event.id, handler: name, error: failure, now: now)
            } else {
                doneNow.append(name)
            }
        }
        if allDone {
            try store.markEventHandled(event.id, now: now)
        } else {
            for name in doneNow { try store.markHandlerDone(event: event.id, handler: name, now: now) }
        }
        report.events += 1
    }
}
