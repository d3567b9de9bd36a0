import Foundation

/// `eventfilter run`: the cron entry point.
///
/// 1. creates the `ezcurrenttime` event;
/// 2. passes every due unhandled event through the handlers in notification.ini order, a batch
///    at a time: a batch's items, digest rows, queued mail and handled marks commit together;
/// 3. purges what has been handled and sent longer than `KeepDays`;
/// 4. delivers the outbox.
///
///     let report = try Filter(root: root, settings: settings, store: store).run(now: now, transport: transport)
public final class Filter {
    public struct Report: Sendable, Equatable {
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
        let handlers = try HandlerRegistry.handlers(settings: settings, root: root)
        let context = try RunContext(root: root, store: store, settings: settings, site: site, now: now)
        context.outbox.bounceAddress = bounces.address
        var report = Report()
        gaveUpThisRun = []
        let work = {
            let tick = try self.store.addEvent(type: EventType.currentTime, params: ["time": .string(String(now))], now: now)
            try self.filter(handlers: handlers, context: context, currentTick: tick.id, report: &report)
            try self.store.purgeHandledEvents(before: now - Int64(self.site.keepDays) * 86_400)
            try self.store.purgeDedupeKeys(before: now - Int64(self.site.keepDedupeDays) * 86_400)
            try self.store.purgeWebhookObjects(before: now - Int64(self.site.keepDedupeDays) * 86_400)
            // Deletions are remembered as long as dedupe keys, far longer than any digest waits.
            try self.store.purgeDeletedNodes(before: now - Int64(self.site.keepDedupeDays) * 86_400)
            try context.outbox.purgeSent(before: now - Int64(self.site.keepDays) * 86_400)
            try self.store.purgeCancelledMail(before: now - Int64(self.site.keepDays) * 86_400)
            try self.store.purgeGaveUp(before: now - Int64(self.site.keepDays) * 86_400)
            try self.store.purgeBounces(before: now - Int64(self.site.keepDays) * 86_400)
        }
        let clock = ContinuousClock()
        let started = clock.now
        if dryRun {
            try store.db.inRolledBackTransaction(work)
            report.filterSeconds = Self.seconds(clock.now - started)
        } else {
            let logID = try store.beginRunLog(now: now, pid: Int64(getpid()))
            var failure: Error?
            do {
                try work()
            } catch {
                failure = error  // still deliver what earlier runs and batches queued
            }
            report.filterSeconds = Self.seconds(clock.now - started)
            do {
                if let transport {
                    let delivering = clock.now
                    report.delivery = try context.outbox.deliverDue(through: transport, now: now)
                    report.deliverySeconds = Self.seconds(clock.now - delivering)
                }
            } catch {
                failure = failure ?? error
            }
            if let failure {
                try? store.finishRunLog(logID, now: now, events: report.events, messages: context.messagesQueued,
                                        digests: context.digestsSent, delivered: report.delivery.sent, error: describeError(failure))
                throw failure
            }
            try store.finishRunLog(logID, now: now, events: report.events, messages: context.messagesQueued,
                                   digests: context.digestsSent, delivered: report.delivery.sent, error: nil)
            report.newProblems = try newProblems(runID: logID, handlers: handlers.map(\.name), now: now)
        }
        report.messagesQueued = context.messagesQueued
        report.digestItems = context.digestItems
        report.digestsSent = context.digestsSent
        return report
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
    private func filter(handlers: [EventHandler], context: RunContext, currentTick: Int64, report: inout Report) throws {
        var afterID: Int64 = 0
        while true {
            var batch = try store.dueEvents(after: afterID, now: context.now, limit: site.batchSize)
            guard let first = batch.first, let last = batch.last else { break }
            afterID = last.id
            let superseded = batch.filter { $0.type == EventType.currentTime && $0.id < currentTick }
            if !superseded.isEmpty {
                try store.db.inTransaction {
                    for tick in superseded { try store.markEventHandled(tick.id, now: context.now) }
                }
                batch.removeAll { $0.type == EventType.currentTime && $0.id < currentTick }
                guard !batch.isEmpty else { continue }
            }
            let finished = try store.finishedHandlers(from: first.id, to: last.id)

            // Outside the transaction: external programs may be slow, and ingest must not wait on them.
            // A custom handler in backoff is not started: its events wait for it.
            var skipped: [String: String] = [:]
            for handler in handlers {
                // A next attempt further ahead than the longest backoff was set by a clock (or a
                // --now) that has since gone back: the handler runs rather than wait for it.
                if let external = handler as? ExternalHandler, let backoff = try store.handlerBackoff(external.name),
                   backoff.nextAttempt > context.now, backoff.nextAttempt - context.now <= Self.longestHandlerBackoff {
                    skipped[handler.name] = backoff.lastError
                    try handler.prepare([], run: context)
                    continue
                }
                try handler.prepare(batch.filter { !(finished[$0.id]?.contains(handler.name) ?? false) }, run: context)
                if let external = handler as? ExternalHandler {
                    switch external.lastBatch {
                    case .success?: try store.recordHandlerSuccess(external.name)
                    case .failure(let failure)?:
                        try store.recordHandlerFailure(external.name, error: failure.description, stderrTail: failure.stderrTail,
                                                       now: context.now, delay: Self.handlerBackoff)
                    case nil: break
                    }
                }
            }
            // Commit at event boundaries every few thousand rows, so intake (cgi, ingest) never waits
            // long for the write lock, whatever the number of subscribers. A tick starts a
            // transaction of its own: before it, with everything earlier committed, the handlers'
            // `prepareTick` does its work in transactions of its own (the digests, user by user).
            var next = batch.startIndex
            while next < batch.endIndex {
                if batch[next].type == EventType.currentTime {
                    let done = finished[batch[next].id] ?? []
                    for handler in handlers where !done.contains(handler.name) { try handler.prepareTick(batch[next], run: context) }
                }
                try store.db.inTransaction {
                    let start = context.rowsWritten
                    repeat {
                        try process(batch[next], handlers: handlers, finished: finished[batch[next].id] ?? [], skipped: skipped,
                                    context: context, report: &report)
                        next += 1
                    } while next < batch.endIndex && context.rowsWritten - start < Self.rowsPerCommit
                        && batch[next].type != EventType.currentTime
                }
            }
        }
    }

    static let rowsPerCommit = 5_000

    /// Offers one event to every handler that has not handled it yet, each in a savepoint: a
    /// handler that throws (a value that cannot become mail, say) fails alone and is retried at the
    /// next run, while storage errors stop the run.
    private func process(_ event: Event, handlers: [EventHandler], finished: Set<String>, skipped: [String: String],
                         context: RunContext, report: inout Report) throws {
        // Intake may have moved or withdrawn a waiting event (a session's reminder, or its
        // announcement superseded by a move) since the batch was read; then it is not this run's
        // to send. Checked inside the write transaction.
        if !(try store.isStillWaiting(event.id, notBefore: event.notBefore)) { return }
        var allDone = true
        var doneNow: [String] = []
        // A custom handler still failing on an event this old gives up on it, so the event goes on.
        let due = max(event.createdAt, event.notBefore ?? event.createdAt)
        let givesUp = context.now - due >= monitor.handlerGiveUpAfter
        for handler in handlers where !finished.contains(handler.name) {
            if let reason = skipped[handler.name] {
                if givesUp {
                    try giveUp(event, handler: handler.name, reason: reason, now: context.now)
                    doneNow.append(handler.name)
                } else {
                    allDone = false
                }
                continue
            }
            let counters = context.counters
            var failure: String?
            do {
                try store.db.inSavepoint {
                    switch try handler.handle(event, run: context) {
                    case .done(let items):
                        for item in items { try context.accept(item, event: event) }
                    case .failed(let reason):
                        failure = reason
                    }
                }
            } catch let error as DatabaseError {
                throw error
            } catch {
                context.counters = counters
                failure = "\(error)"
            }
            if let failure, givesUp, handler is ExternalHandler {
                try giveUp(event, handler: handler.name, reason: failure, now: context.now)
                doneNow.append(handler.name)
            } else if let failure {
                allDone = false
                report.failedPairs += 1
                try store.markHandlerFailed(event: event.id, handler: handler.name, error: failure, now: context.now)
            } else {
                doneNow.append(handler.name)
            }
        }
        if allDone {
            try store.markEventHandled(event.id, now: context.now)
        } else {
            for name in doneNow { try store.markHandlerDone(event: event.id, handler: name, now: context.now) }
        }
        report.events += 1
    }
}
