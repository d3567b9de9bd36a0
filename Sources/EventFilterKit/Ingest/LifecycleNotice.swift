/// What one notification says about an object whose life the sender reports step by step: a
/// scheduled session that may move or be cancelled, or media that becomes ready.
///
///     IncomingEvent(type: "kaltura.schedule_event", params: params, dedupeKey: key,
///                   lifecycle: .schedule(ScheduleNotice(objectID: "4711", start: start, end: end)))
public enum LifecycleNotice: Sendable, Equatable {
    /// A scheduled session as the sender sees it now.
    case schedule(ScheduleNotice)
    /// Media that is ready to watch: announced once per (source, type, id).
    case ready(objectType: String, objectID: String)
}
