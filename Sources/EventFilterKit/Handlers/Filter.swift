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

    public init(root: URL, settings: Settings, store: Store) throws {
        self.root = root
        self.settings = settings
        self.store = store
        self.site = try SiteConfiguration.load(settings)
        self.bounces = try BounceSettings.load(settings)
    }

    /// Runs the filter and delivery. With `dryRun`, does all the work inside a transaction that
    /// is rolled back, and delivers nothing: the report tells what a real run would do.
    public func run(now: Int64, transport: MailTransport?, dryRun: Bool = false) throws -> Report {
        let handlers = try HandlerRegistry.handlers(settings: settings, root: root)
        let context = try RunContext(root: root, store: store, settings: settings, site: site, now: now)
        context.outbox.bounceAddress = bounces.address
        var report = Report()
        let work = {
            let tick = try self.store.addEvent(type: EventType.currentTime, params: ["time": .string(String(now))], now: now)
            try self.filter(handlers: handlers, context: context, currentTick: tick.id, report: &report)
            try self.store.purgeHandledEvents(before: now - Int64(self.site.keepDays) * 86_400)
            try self.store.purgeDedupeKeys(before: now - Int64(self.site.keepDedupeDays) * 86_400)
            try self.store.purgeWebhookObjects(before: now - Int64(self.site.keepDedupeDays) * 86_400)
            // Deletions are remembered as long as dedupe keys, far longer than any digest waits.
            try self.store.purgeDeletedNodes(before: now - Int64(self.site.keepDedupeDays) * 86_400)
            try context.outbox.purgeSent(before: now - Int64(self.site.keepDays) * 86_400)
            try self.store.purgeBounces(before: now - Int64(self.site.keepDays) * 86_400)
        }
        let clock = ContinuousClock()
        let started = clock.now
        if dryRun {
            try store.db.inRolledBackTransaction(work)
            report.filterSeconds = Self.seconds(clock.now - started)
        } else {
            let logID = try store.beginRunLog(now: now)
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
                                        digests: context.digestsSent, delivered: report.delivery.sent, error: "\(failure)")
                throw failure
            }
            try store.finishRunLog(logID, now: now, events: report.events, messages: context.messagesQueued,
                                   digests: context.digestsSent, delivered: report.delivery.sent, error: nil)
        }
        report.messagesQueued = context.messagesQueued
        report.digestItems = context.digestItems
        report.digestsSent = context.digestsSent
        return report
    }

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
            for handler in handlers {
                try handler.prepare(batch.filter { !(finished[$0.id]?.contains(handler.name) ?? false) }, run: context)
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
                        try process(batch[next], handlers: handlers, finished: finished[batch[next].id] ?? [], context: context,
                                    report: &report)
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
    private func process(_ event: Event, handlers: [EventHandler], finished: Set<String>, context: RunContext,
                         report: inout Report) throws {
        // Intake may have moved or withdrawn a waiting event (a session's reminder) since the batch
        // was read; then it is not this run's to send. Checked inside the write transaction.
        if let notBefore = event.notBefore, !(try store.isStillWaiting(event.id, notBefore: notBefore)) { return }
        var allDone = true
        var doneNow: [String] = []
        for handler in handlers where !finished.contains(handler.name) {
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
            if let failure {
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

/// Keeps two overlapping runs apart: the second one finds the lock taken and leaves quietly.
/// The lock is an `flock` on `var/eventfilter.lock`, released by the kernel if the run dies.
public final class RunLock {
    private let descriptor: Int32

    /// Nil when another run holds the lock.
    public init?(root: URL) throws {
        let directory = root.appendingPathComponent("var")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("eventfilter.lock").path
        // Read-only is enough for flock, so a cron user who may only read the file can still lock it.
        let fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw EventFilterError.failure("cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            return nil
        }
        descriptor = fd
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
