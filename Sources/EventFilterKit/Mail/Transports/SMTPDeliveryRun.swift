import Foundation

/// One `deliver` call of ``SMTPTransport``, shared by its connection threads and the calling
/// thread: which message is next, the outcomes waiting to be recorded, what the server has shown,
/// and the acceptance window.
///
/// The window: a connection sends a message's final "." (after which the server may take it)
/// only while fewer than `unrecordedLimit` messages have had theirs sent without their outcome
/// being recorded. So at every moment at most `unrecordedLimit` messages can be in the server's
/// hands with nothing in the store to say so, which is what a crash can send twice. Everything
/// before the final "." (MAIL, RCPT, DATA, the message) goes on while the previous outcomes commit.
///
/// The group: once an outcome is in, the calling thread still waits for the other messages whose
/// final "." went out (their replies are on the way), for at most as long as the last record
/// took, so that a full window commits once rather than in two commits of half a window. Waiting
/// that long delays no message's record: a reply that came in just after a commit started would
/// wait for that commit and then a whole commit of its own. On a store whose commit waits for the
/// disk (PostgreSQL with synchronous_commit on) the messages per commit are what sets the rate.
///
///     let run = SMTPDeliveryRun(messages: batch, label: "127.0.0.1:25", server: state, unrecordedLimit: 4, workers: 2)
///     // each connection's thread: while let work = run.nextMessage(worker: i) { ... run.finish(...) }; run.workerDone()
///     while let group = run.takeFinished() { try record(group); run.recorded(group) }
///
/// With `recordsOnWorkers` the connections' threads commit the outcomes instead, by group
/// commit among themselves, and the calling thread only waits for them (``waitForWorkers()``);
/// the window is the same. A thread leaves its outcome with the run (``learned(_:message:holdsSlot:)``);
/// one that has an outcome waiting and finds no commit in progress becomes the committer: it
/// takes every outcome waiting, from all connections, and commits them in one transaction with
/// its recorder (``commitWaiting(with:)``; on SQLite every thread's recorder is the same store
/// connection, see ``OutcomeRecorders``, and a group of acceptances is one write to the
/// acceptance log rather than a commit), then frees all their places. One that finds a commit in
/// progress goes on with its next envelope, and a thread waiting for a place commits what waits
/// once the commit in progress returned. So while one commit runs the replies of the other
/// connections gather for the next, and there is no hand-off to another thread. With several
/// connections and a window of several places, a lone acceptance is not committed at the next
/// envelope but waits for the final "." that needs its place (its own next one, or another
/// connection's), which commits it and whatever joined it meanwhile before its message goes out,
/// so message and "." leave in one write. With 4 connections on SQLite at the default window
/// (before acceptances went to the acceptance log), 10,000 messages made 3.1-3.2 `fcntl` calls a
/// message (`perf stat`; a commit makes 6, so about 1.9 messages a commit) against 4.6-5.2 when
/// each outcome was committed at its connection's next envelope. Since the next envelope goes
/// with the final "."
/// (``SMTPConnection``), a connection reads its "."'s reply and its next envelope's replies in
/// one wait and needs the place at once, so fewer replies gather: 5.3 `fcntl` a message (about
/// 1.1 messages a commit), in exchange for one wait and one write a message where there were
/// two (`poll` 1.0 against 2.8-2.9 a message, `sendto` 1.3 against 2.0).
///
/// All state is behind one lock with a condition for the calling thread and one for the
/// connections' threads (``SMTPRunSignals``), each woken only when what it waits for may have
/// come; unchecked Sendable for that reason.
final class SMTPDeliveryRun: @unchecked Sendable {
    struct Finished {
        let message: OutgoingMessage
        let outcome: DeliveryOutcome
        /// Its final "." was sent: it holds a place in the window until its outcome is recorded.
        let holdsSlot: Bool
    }

    private let signals = SMTPRunSignals()
    private let messages: [OutgoingMessage]
    private let label: String
    private let unrecordedLimit: Int
    private var state: SMTPServerState
    private var next = 0
    private var finished: [Finished] = []
    private var slotsHeld = 0
    /// Places held by messages in `finished` (their replies are in, not yet taken for recording).
    private var finishedSlots = 0
    /// How long the calling thread may wait for the rest of a group: the last record's duration.
    private var groupPatience: TimeInterval = 0
    /// When the calling thread took the group being recorded (to measure the record).
    private var groupTakenAt: Date?
    /// The calling thread waits for the rest of a group: wake it only once every message whose
    /// final "." went out has its reply (or a worker ends), not for each reply.
    private var callerWaitsForAll = false
    private var cancelled = false
    private var workersRunning: Int
    /// Several connections share a window of several places: a commit can then gather the
    /// outcomes of several connections, so a lone acceptance waits for the final "." that needs
    /// its place rather than being committed at once (``commitWaiting(with:)``), and that final
    /// "." commits it before the message goes out (``tryAcquireSlot(committing:)``). With one
    /// connection, or one place, no group can hold more than one acceptance: each is committed
    /// while the server reads the next envelope, which hides the commit behind that round trip.
    private let groupsAtTheFinalDot: Bool
    /// Connections' threads waiting in ``acquireSlot(until:committing:)`` or ``waitForFreeSlot(committing:)``.
    private var placeWaiters = 0
    /// The workers record on a store whose commits cost its server real work (PostgreSQL): a
    /// commit waits until every message holding a place has its outcome in (``groupComplete``),
    /// so a full window commits once, as the calling thread's groups do, but with no hand-off.
    private let gathersWholeWindow: Bool
    /// True unless `gathersWholeWindow` and a message holding a place still waits for its reply
    /// (which comes, or its timeout does, and its thread then commits the group).
    private var groupComplete: Bool { !gathersWholeWindow || unrecordedSlots == slotsHeld }
    /// `gathersWholeWindow`: how long a thread waiting for a place waits for the rest of the
    /// window's replies before it commits the outcomes that are in: the last commit's duration
    /// (at least 100 ms, at most a second), as the calling thread waits for the rest of a group.
    /// One reply slow to come (a server scanning a message for seconds) must not hold every
    /// other message's place until it comes, or its timeout does.
    private var wholeWindowPatience: TimeInterval { min(1, max(0.1, lastCommitTook)) }
    /// How long a final "." that finds the window full and a commit in progress waits for that
    /// commit (``tryAcquireSlot(committing:)``) before its message goes without it: twice the
    /// last commit's duration, at least a millisecond (a thread's wake-up on a busy machine), at
    /// most 100 ms, so a store that stalls (another process holding its lock) holds no message
    /// back longer than that; the message then waits for its place as before, with the
    /// message's timeout in view.
    private var commitInProgressPatience: TimeInterval { min(0.1, max(0.001, 2 * lastCommitTook)) }
    /// How long the last commit on a connection's thread took (0 before the first); both
    /// patiences above follow from it.
    private var lastCommitTook: TimeInterval = 0
    /// The connections' threads record the outcomes (``learned(_:message:holdsSlot:)``,
    /// ``commitWaiting(with:)``) rather than handing them to the calling thread (``finish(_:verdict:holdsSlot:)``).
    let recordsOnWorkers: Bool
    /// The first record that failed on a connection's thread; the run was cut off by it.
    private var recordingFailure: (any Error)?
    /// Outcomes the connections' threads learned and no commit has taken yet (`recordsOnWorkers`).
    private var unrecorded: [(message: OutgoingMessage, outcome: DeliveryOutcome)] = []
    /// Places in the window held by messages in `unrecorded`.
    private var unrecordedSlots = 0
    /// A connection's thread is committing a group (there is one committer at a time).
    private var committing = false

    /// Commits a group of outcomes in one transaction on the calling connection thread's own
    /// store connection; throws when the store did not take them.
    typealias Commit = ([(message: OutgoingMessage, outcome: DeliveryOutcome)]) throws -> Void

    init(messages: [OutgoingMessage], label: String, server: SMTPServerState, unrecordedLimit: Int, workers: Int,
         recordsOnWorkers: Bool = false, gathersWholeWindow: Bool = false) {
        self.messages = messages
        self.label = label
        self.state = server
        self.unrecordedLimit = max(1, unrecordedLimit)
        self.workersRunning = workers
        self.groupsAtTheFinalDot = workers > 1 && self.unrecordedLimit > 1
        self.recordsOnWorkers = recordsOnWorkers
        self.gathersWholeWindow = recordsOnWorkers && gathersWholeWindow
    }

    /// What a connection's thread does next.
    enum Work {
        /// Sends the message.
        case send(OutgoingMessage)
        /// Records these outcomes of the messages left alone (delivery was suspended), together in
        /// one commit; only when the workers record their own outcomes. The first thread to see
        /// the suspension takes every message left, so a dead server costs the store one commit
        /// per batch rather than one per message (each waits for the disk on PostgreSQL).
        case recordLeft([(message: OutgoingMessage, outcome: DeliveryOutcome)])
    }

    /// What the run learned about the server (read after every worker is done).
    var server: SMTPServerState {
        signals.lock()
        defer { signals.unlock() }
        return state
    }

    // MARK: The connections' threads

    /// The next message for worker `worker`, or nil when there is none (or the run was cut off).
    /// Until one session has got past AUTH only worker 0 works (a wrong password costs one failed
    /// login per run). Once delivery is suspended, messages are finished as not tried here,
    /// without contacting the server.
    func nextMessage(worker: Int) -> Work? {
        signals.lock()
        defer { signals.unlock() }
        while worker > 0 && !state.sessionWorked && state.suspendedReason == nil && next < messages.count && !cancelled {
            signals.waitAsWorker()
        }
        while next < messages.count && !cancelled {
            let message = messages[next]
            next += 1
            if let reason = state.suspendedReason {
                if recordsOnWorkers {
                    let left = messages[(next - 1)...].map { (message: $0, outcome: notTried($0, because: reason)) }
                    next = messages.count
                    return .recordLeft(left)
                }
                finished.append(Finished(message: message, outcome: notTried(message, because: reason), holdsSlot: false))
                if !callerWaitsForAll { signals.wakeCaller() }
                continue
            }
            state.transfersStarted += 1
            return .send(message)
        }
        return nil
    }

    /// The next message, to go with the final "." being sent (``SMTPConnection``'s pipelined
    /// envelope): only while messages go to the server (the session worked, delivery is not
    /// suspended, the run not cut off); nil otherwise (the connection then takes its next message
    /// as usual). The connection checks its addresses before it carries its envelope, outside
    /// this lock.
    func nextMessageToPipeline() -> OutgoingMessage? {
        signals.lock()
        defer { signals.unlock() }
        guard next < messages.count, !cancelled, state.sessionWorked, state.suspendedReason == nil else { return nil }
        let message = messages[next]
        next += 1
        state.transfersStarted += 1
        return message
    }

    /// The verdict on a message taken to go with a final "." whose connection ended before its
    /// envelope was answered, when delivery is now suspended: not tried. Nil while delivery goes
    /// on (the message is then sent on a new connection).
    func untried(_ message: OutgoingMessage) -> SMTPVerdict? {
        signals.lock()
        defer { signals.unlock() }
        guard let reason = state.suspendedReason else { return nil }
        state.transfersStarted -= 1
        return SMTPVerdict(outcome: notTried(message, because: reason), sessionFailure: nil, sessionWorked: false)
    }

    /// Takes a place in the window if one is free at once. With `commit` (the workers record), a
    /// full window whose places are held by outcomes waiting for a commit, and no commit in
    /// progress, first commits them on this thread: the message and its final "." then go out
    /// in one write, where otherwise the "." went alone once a place came (one more send, and
    /// one more wake-up of the server, a message; 4 connections at the default window sent 96%
    /// of the "."s alone). A full window with a commit in progress is waited out the same way,
    /// for at most `commitInProgressPatience`, unless commits gather whole windows: that commit
    /// took this connection's own last outcome (one place each at the default window), so the
    /// place it frees is what the "." would wait for after its message anyway; with commits of
    /// 5 ms, 25-54 of 60 "."s over 4 connections went alone without this wait. A failed commit
    /// cuts the run off (no place is taken then).
    func tryAcquireSlot(committing commit: Commit? = nil) -> Bool {
        signals.lock()
        defer { signals.unlock() }
        if groupsAtTheFinalDot, !gathersWholeWindow, slotsHeld >= unrecordedLimit, commit != nil, committing, !cancelled {
            let due = Date(timeIntervalSinceNow: commitInProgressPatience)
            while committing && slotsHeld >= unrecordedLimit && !cancelled && signals.waitAsWorker(until: due) {}
        }
        if groupsAtTheFinalDot, slotsHeld >= unrecordedLimit, let commit, !committing, unrecordedSlots > 0, groupComplete, !cancelled {
            _ = commitLocked(with: commit)
        }
        guard slotsHeld < unrecordedLimit && !cancelled else { return false }
        slotsHeld += 1
        return true
    }

    enum SlotWait { case acquired, cancelled, expired }

    /// Called just before a message's final "." is sent: waits for a place in the window until
    /// `deadline`. `.cancelled` when the run was cut off meanwhile (the message must then not be
    /// completed); `.expired` when no place came in time (the transfer is given up and the
    /// message tried again once a place is free, see ``waitForFreeSlot(committing:)``).
    /// With `commit` (the workers record), a thread waiting here commits the outcomes waiting
    /// whenever no other commit is in progress: the places it waits for are theirs.
    func acquireSlot(until deadline: Date = .distantFuture, committing commit: Commit? = nil) -> SlotWait {
        signals.lock()
        defer { signals.unlock() }
        guard waitForPlaceLocked(until: deadline, committing: commit) else { return cancelled ? .cancelled : .expired }
        slotsHeld += 1
        return .acquired
    }

    /// Waits, with no transfer open, until the window has a free place; false when the run was
    /// cut off meanwhile. With `commit`, commits the outcomes waiting as ``acquireSlot(until:committing:)``.
    func waitForFreeSlot(committing commit: Commit? = nil) -> Bool {
        signals.lock()
        defer { signals.unlock() }
        return waitForPlaceLocked(until: .distantFuture, committing: commit)
    }

    /// With `signals` held: waits until the window has a free place (true), or the run was cut
    /// off or `deadline` passed (false). With `commit`, commits the outcomes waiting whenever no
    /// other commit is in progress: with `gathersWholeWindow` once the rest of the window's
    /// replies are in or `wholeWindowPatience` has passed, so one slow reply holds no other place.
    private func waitForPlaceLocked(until deadline: Date, committing commit: Commit?) -> Bool {
        placeWaiters += 1
        defer { placeWaiters -= 1 }
        var restOfWindowDue: Date?
        while slotsHeld >= unrecordedLimit && !cancelled {
            if let commit, !committing, !unrecorded.isEmpty {
                let due = restOfWindowDue ?? Date(timeIntervalSinceNow: wholeWindowPatience)
                if groupComplete || Date() >= due {
                    restOfWindowDue = nil
                    _ = commitLocked(with: commit)
                    continue
                }
                restOfWindowDue = due
                _ = signals.waitAsWorker(until: min(deadline, due))
            } else {
                _ = signals.waitAsWorker(until: deadline)
            }
            if Date() >= deadline && slotsHeld >= unrecordedLimit && !cancelled { return false }
        }
        return !cancelled
    }

    /// A message's attempt ended (or it was refused before any attempt).
    func finish(_ message: OutgoingMessage, verdict: SMTPVerdict, holdsSlot: Bool) {
        signals.lock()
        defer { signals.unlock() }
        learnLocked(verdict)
        if cancelled {
            // Nobody records it any more; it stays queued and is sent at the next run.
            if holdsSlot {
                slotsHeld -= 1
                signals.wakeWorkers()
            }
        } else {
            finished.append(Finished(message: message, outcome: verdict.outcome, holdsSlot: holdsSlot))
            if holdsSlot { finishedSlots += 1 }
            if !callerWaitsForAll || slotsHeld <= finishedSlots { signals.wakeCaller() }
        }
    }

    /// The workers record the outcomes: what the server showed by `verdict` (a session that
    /// worked, a failure that suspends the run) is learned at once, so the other connections stop
    /// or start at once, and the outcome of `message` waits for the next commit, keeping its
    /// place in the window (`holdsSlot`) until that commit returned. False when the run was cut
    /// off: the outcome is then not recorded (its message stays queued and goes at the next run)
    /// and its place is free.
    func learned(_ verdict: SMTPVerdict, message: OutgoingMessage, holdsSlot: Bool) -> Bool {
        signals.lock()
        defer { signals.unlock() }
        learnLocked(verdict)
        guard !cancelled else {
            if holdsSlot {
                slotsHeld -= 1
                signals.wakeWorkers()
            }
            return false
        }
        unrecorded.append((message, verdict.outcome))
        if holdsSlot { unrecordedSlots += 1 }
        return true
    }

    /// Commits every outcome waiting, in one transaction with `commit`, unless another thread's
    /// commit is in progress (the outcomes then wait for the next one) or none waits. False when
    /// this thread's commit failed: the run is then cut off with that failure.
    func commitWaiting(with commit: Commit) -> Bool {
        signals.lock()
        defer { signals.unlock() }
        guard !committing, !unrecorded.isEmpty, groupComplete else { return true }
        // A lone acceptance, with no thread waiting for a place, waits for the final "." that
        // needs its place, while the other connections' replies join it (the type's note on groups).
        if groupsAtTheFinalDot && unrecordedSlots == 1 && unrecorded.count == 1 && placeWaiters == 0 { return true }
        return commitLocked(with: commit)
    }

    /// A worker's last act: commits what still waits (its own outcome, or one another thread left
    /// while a commit was in progress), waiting for a commit in progress first, so nothing learned
    /// is left unrecorded when the last worker ends.
    func commitTheRest(with commit: Commit) {
        signals.lock()
        defer { signals.unlock() }
        while !unrecorded.isEmpty {
            if committing {
                signals.waitAsWorker()
            } else {
                _ = commitLocked(with: commit)
            }
        }
    }

    /// With `signals` held and no commit in progress: takes every outcome waiting and commits
    /// them with `commit` with the lock released (the other connections go on meanwhile), then
    /// frees their places. A failure cuts the run off before the places free, so no final "."
    /// goes out on a place whose outcome was not recorded.
    private func commitLocked(with commit: Commit) -> Bool {
        committing = true
        let group = unrecorded
        let slots = unrecordedSlots
        unrecorded.removeAll(keepingCapacity: true)
        unrecordedSlots = 0
        signals.unlock()
        let started = Date()
        var failure: (any Error)?
        do {
            try commit(group)
        } catch {
            failure = error
        }
        let took = -started.timeIntervalSinceNow
        signals.lock()
        lastCommitTook = took
        if let failure { cutOffLocked(by: failure) }
        slotsHeld -= slots
        committing = false
        signals.wakeWorkers()
        return failure == nil
    }

    /// What `verdict` showed about the server, taken in with `signals` held. Until a session got
    /// past AUTH the other connections wait in `nextMessage` for this, so they are woken by any
    /// verdict then, also one that showed nothing about the session (an address no envelope can
    /// carry): they must see that the messages ran out.
    private func learnLocked(_ verdict: SMTPVerdict) {
        let workersWait = !state.sessionWorked
        if verdict.sessionWorked { state.sessionWorked = true }
        if state.suspendedReason == nil { state.suspendedReason = verdict.sessionFailure }
        if workersWait { signals.wakeWorkers() }
    }

    /// A worker's record failed: the run is cut off (no message starts or completes any more)
    /// and `error`, if it is the first, is what the run throws.
    func recordFailed(_ error: any Error) {
        signals.lock()
        cutOffLocked(by: error)
        signals.wakeWorkers()
        signals.unlock()
    }

    /// With `signals` held: a record failed, so the run is cut off; the first such failure (not
    /// one after the run was already cut off) is what it throws.
    private func cutOffLocked(by error: any Error) {
        if recordingFailure == nil && !cancelled { recordingFailure = error }
        cancelled = true
    }

    /// The calling thread of a run whose workers record: waits until every worker is done and
    /// returns the record failure that cut the run off, if any.
    func waitForWorkers() -> (any Error)? {
        signals.lock()
        defer { signals.unlock() }
        while workersRunning > 0 { signals.waitAsCaller() }
        return recordingFailure
    }

    func workerDone() {
        signals.lock()
        workersRunning -= 1
        signals.wakeCaller()
        signals.unlock()
    }

    // MARK: The calling thread

    /// Waits for finished messages and takes them all; nil once every worker is done and every
    /// outcome was taken. Once one is in, waits up to the last record's duration for the other
    /// messages whose final "." went out (see the type's note on groups).
    func takeFinished() -> [Finished]? {
        signals.lock()
        defer { signals.unlock() }
        while finished.isEmpty && workersRunning > 0 { signals.waitAsCaller() }
        guard !finished.isEmpty else { return nil }
        if groupPatience > 0 && slotsHeld > finishedSlots {
            let deadline = Date(timeIntervalSinceNow: groupPatience)
            callerWaitsForAll = true
            while slotsHeld > finishedSlots && workersRunning > 0 && !cancelled && signals.waitAsCaller(until: deadline) {}
            callerWaitsForAll = false
        }
        groupTakenAt = Date()
        finishedSlots = 0
        defer { finished.removeAll(keepingCapacity: true) }
        return finished
    }

    /// `group` is recorded: its places in the window are free.
    func recorded(_ group: [Finished]) {
        let freed = group.reduce(0) { $0 + ($1.holdsSlot ? 1 : 0) }
        signals.lock()
        if let groupTakenAt {
            // At most a second: a store that once stalled must not hold every later group back.
            groupPatience = min(1, -groupTakenAt.timeIntervalSinceNow)
        }
        slotsHeld -= freed
        if freed > 0 { signals.wakeWorkers() }
        signals.unlock()
    }

    /// After recording failed: no message starts or completes any more, and this waits for the
    /// workers to end their current attempts (bounded by the SMTP timeout). Messages that finish
    /// meanwhile are not reported; they stay queued.
    func cutOff() {
        signals.lock()
        cancelled = true
        finished.removeAll()
        finishedSlots = 0
        signals.wakeWorkers()
        while workersRunning > 0 { signals.waitAsCaller() }
        signals.unlock()
    }

    /// A message left alone because the server failed earlier in the run. An address that could
    /// never be sent stays a permanent failure: that needs no server to know.
    private func notTried(_ message: OutgoingMessage, because reason: String) -> DeliveryOutcome {
        let prefix = "smtp \(label): "
        if let problem = SMTPEnvelope.problem(sender: message.sender, recipient: message.recipient) {
            return .permanentFailure(prefix + problem)
        }
        return .temporaryFailure(prefix + "not tried (delivery suspended for this run): \(reason)")
    }
}
