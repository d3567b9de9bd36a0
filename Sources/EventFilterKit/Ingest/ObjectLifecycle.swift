/// Stores a request's events against what subscribers were already told about the objects they
/// concern, inside intake's transaction.
///
///     let lifecycle = ObjectLifecycle(store: store, source: source, now: now)
///     let results = try store.inTransaction { try lifecycle.store(events) }
///
/// A scheduled session is one thing with one reminder: a new start moves the waiting reminder to
/// the new start − `ReminderLead` and mails one `kaltura.schedule_rescheduled` naming both times;
/// a cancellation withdraws the reminder and mails one `kaltura.schedule_cancelled`. Subscribers
/// hear of each change once, measured against what they know: a notice not yet mailed is
/// withdrawn when the next change comes (a session announced and cancelled between two runs mails
/// nobody; moved twice, one mail names the first and the last time); a move or cancellation names
/// the notice it supersedes, whose announcement leaves the digests it waits in when it is mailed. A notification
/// that changes nothing a subscriber reads is stored with `quiet` (kept, mailed to nobody), and so
/// is one older than the last applied (Kaltura numbers its notification jobs increasingly). Media
/// that is ready is announced once: later notifications of the same ready object are quiet.
/// Events without a `LifecycleNotice` are stored as they are.
final class ObjectLifecycle {
    private let store: Store
    private let source: WebhookSource
    private let now: Int64

    init(store: Store, source: WebhookSource, now: Int64) {
        self.store = store
        self.source = source
        self.now = now
    }

    /// Stores a request's events in order, inside the caller's transaction, first taking the
    /// objects they concern for this transaction alone: a notification taken twice at once (a
    /// retry reaching two hosts) is then applied once, and two about one object one after the other.
    func store(_ events: [IncomingEvent]) throws -> [Store.AddResult] {
        try store.lockWebhookObjects(events.compactMap { event in
            switch event.lifecycle {
            case .schedule(let session)?: return (source.name, Self.sessionType, session.objectID)
            case .ready(let type, let id)?: return (source.name, type, id)
            case nil: return nil
            }
        })
        return try events.flatMap(store)
    }

    func store(_ event: IncomingEvent) throws -> [Store.AddResult] {
        guard let notice = event.lifecycle else { return [try add(event)] }
        // The sender's retry of a notification already stored changes nothing.
        if let stored = try store.eventID(dedupeKey: event.dedupeKey) {
            return [.duplicate(stored)] + (try store.eventID(dedupeKey: reminderKey(event)).map { [.duplicate($0)] } ?? [])
        }
        switch notice {
        case .schedule(let session): return try schedule(event, session)
        case .ready(let type, let id): return try ready(event, type: type, id: id)
        }
    }

    // MARK: Scheduled sessions

    static let sessionType = "schedule_event"

    private func schedule(_ event: IncomingEvent, _ session: ScheduleNotice) throws -> [Store.AddResult] {
        let known = try store.webhookObject(source: source.name, type: Self.sessionType, id: session.objectID)
            ?? (try legacySession(session.objectID))
        var state = known ?? WebhookObject(source: source.name, objectType: Self.sessionType, objectID: session.objectID)
        if let sequence = session.sequence, let last = known?.sequence, sequence < last {
            // Older than what was applied (a late retry): kept for the record, changes nothing.
            var stale = event
            Self.quiet(&stale)
            return [try add(stale)]
        }
        let wasLive = known.map { !$0.cancelled && $0.startDate != nil } ?? false
        let live = !session.cancelled && session.start != nil
        let unchanged = live ? wasLive && known?.startDate == session.start : known?.cancelled == true

        var notice = event
        var noticeKept = false
        // The notice this one supersedes: an announcement may still wait in digests, naming a time
        // that is no longer true; handling this notice takes it out of them.
        var supersedes = known?.noticeEventID
        if unchanged {
            Self.quiet(&notice)  // a re-send, or a change to something the mail does not show
            noticeKept = true  // the session's last notice stays as it is
        } else {
            // What subscribers know: the current state, or, while its notice has not gone out yet,
            // what they knew before it; that notice is withdrawn so they hear of the change once.
            var told = wasLive ? known?.startDate : nil
            if let pending = known?.noticeEventID, try store.withdrawWaitingEvent(pending, now: now) {
                told = known?.toldStart
                supersedes = try store.supersededNotice(of: pending)
            }
            switch (told, session.start) {
            case (nil, _):
                // First news (or back after a cancellation) announces; a cancellation of a session
                // nobody was told of tells nobody.
                if !live { Self.quiet(&notice) }
            case (let before?, let start?) where live && before == start:
                Self.quiet(&notice)  // moved and moved back before anyone heard
            case (let before?, _) where live:
                notice.type = KalturaHTTPNotification.rescheduledType
                setTime(&notice, "old_start", before)
                supersede(&notice, supersedes)
            case (let before?, _):
                // Name the time subscribers know is off, whatever the sender's notice says.
                setTime(&notice, "start", before)
                if session.end == nil, let end = known?.endDate { setTime(&notice, "end", end) }
                supersede(&notice, supersedes)
            }
            state.toldStart = told
        }
        var results = [try add(notice)]
        // A quiet notice (a change undone before anyone heard of it) leaves the one before it current.
        if !noticeKept { state.noticeEventID = Self.isQuiet(notice) ? supersedes : results[0].id }

        // Exactly one reminder: the waiting one moves; a new one only when none is waiting and the
        // session is new, back, or at a new start.
        let waiting = known?.reminderEventID
        if live, let reminder = session.reminder {
            if let waiting, try store.moveWaitingEvent(waiting, notBefore: reminder.notBefore, params: reminder.params) {
                state.reminderEventID = waiting
            } else if !wasLive || known?.startDate != session.start {
                let added = try addReminder(reminder, key: reminderKey(event))
                results.append(added)
                state.reminderEventID = added.id
            }
        } else {
            // Cancelled, or over: no reminder may go out.
            if let waiting { _ = try store.withdrawWaitingEvent(waiting, now: now) }
            state.reminderEventID = nil
        }

        state.sequence = session.sequence ?? state.sequence
        state.cancelled = !live
        state.startDate = session.start ?? state.startDate
        state.endDate = session.end ?? state.endDate
        try store.saveWebhookObject(state, now: now)
        return results
    }

    /// A session announced before intake kept sessions: its reminder is still waiting under the
    /// key of that time (`kaltura-http:NAME:schedule:ID:START:reminder`), and tells its start.
    private func legacySession(_ id: String) throws -> WebhookObject? {
        guard let (reminderID, params) = try store.waitingEvent(dedupeKeyPrefix: "kaltura-http:\(source.name):schedule:\(id):"),
            let start = WebhookParsing.unixTime(params["start_date"])
        else { return nil }
        var session = WebhookObject(source: source.name, objectType: Self.sessionType, objectID: id)
        session.startDate = start
        session.endDate = WebhookParsing.unixTime(params["end_date"])
        session.reminderEventID = reminderID
        return session
    }

    private func addReminder(_ reminder: ScheduledReminder, key: String) throws -> Store.AddResult {
        try store.addEvent(
            type: ScheduledReminder.eventType, params: reminder.params, notBefore: reminder.notBefore, dedupeKey: key, now: now)
    }

    private func reminderKey(_ event: IncomingEvent) -> String { event.dedupeKey + ":reminder" }

    private static func isQuiet(_ event: IncomingEvent) -> Bool { event.params["quiet"] == .bool(true) }

    /// Stored and kept, mailed to nobody.
    private static func quiet(_ event: inout IncomingEvent) {
        guard var params = event.params.objectValue else { return }
        params["quiet"] = .bool(true)
        event.params = .object(params)
    }

    /// `supersedes_event`: the session's earlier notice, whose digest items go when this one is handled.
    private func supersede(_ event: inout IncomingEvent, _ id: Int64?) {
        guard let id, var params = event.params.objectValue else { return }
        params[Self.supersedesParam] = .string(String(id))
        event.params = .object(params)
    }

    static let supersedesParam = "supersedes_event"

    private func setTime(_ event: inout IncomingEvent, _ name: String, _ seconds: Int64) {
        guard var params = event.params.objectValue else { return }
        params["\(name)_date"] = .number(Double(seconds))
        ReadableTime.addDerivedTimes(to: &params, fields: [("\(name)_date", name)])
        event.params = .object(params)
    }

    // MARK: Ready media

    private func ready(_ event: IncomingEvent, type: String, id: String) throws -> [Store.AddResult] {
        var state = try store.webhookObject(source: source.name, type: type, id: id)
            ?? WebhookObject(source: source.name, objectType: type, objectID: id)
        var notice = event
        if state.readyAt != nil {
            Self.quiet(&notice)  // already announced as ready
        } else {
            state.readyAt = now
            try store.saveWebhookObject(state, now: now)
        }
        return [try add(notice)]
    }

    private func add(_ event: IncomingEvent) throws -> Store.AddResult {
        try store.addEvent(
            type: event.type, params: event.params, notBefore: event.notBefore, dedupeKey: event.dedupeKey, now: now)
    }
}
