/// A verified notification, ready to be stored as an unhandled event.
///
///     IncomingEvent(type: "panda.video-encoded", params: ["video_id": "v1", "path": "/panda/v1/"],
///                   notBefore: nil, dedupeKey: "panda:panda:sha256:…")
public struct IncomingEvent: Sendable, Equatable {
    /// e.g. `kaltura.entry_add`, `panda.video-encoded`, `enablex.recording`.
    public var type: String
    /// A JSON object. Always has `path` (source prefix + the sender's hierarchy).
    public var params: JSONValue
    /// Unix seconds before which the event must not be handled (reminders); nil for at once.
    public var notBefore: Int64?
    /// Storing a second event with the same key must store nothing (sender retries).
    public var dedupeKey: String
    /// What the notification says about an object the sender keeps notifying about; intake
    /// compares it with what subscribers were already told (see `ObjectLifecycle`).
    public var lifecycle: LifecycleNotice?

    public init(
        type: String, params: JSONValue, notBefore: Int64? = nil, dedupeKey: String, lifecycle: LifecycleNotice? = nil
    ) {
        self.type = type
        self.params = params
        self.notBefore = notBefore
        self.dedupeKey = dedupeKey
        self.lifecycle = lifecycle
    }
}
