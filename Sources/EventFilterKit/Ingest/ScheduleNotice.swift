/// A scheduled session's state in one notification, and the reminder it calls for.
///
///     ScheduleNotice(objectID: "4711", start: 1_767_258_000, end: 1_767_261_600,
///                    reminder: ScheduledReminder(params: params, notBefore: 1_767_257_100))
public struct ScheduleNotice: Sendable, Equatable {
    public var objectID: String
    public var start: Int64?
    public var end: Int64?
    /// Cancelled or deleted: no reminder may go out.
    public var cancelled: Bool
    /// The reminder this state calls for; nil when cancelled or already over.
    public var reminder: ScheduledReminder?
    /// The sender's order of its notifications (Kaltura's increasing `eventNotificationJobId`): an
    /// older one arriving late (a retry) must not undo a newer one.
    public var sequence: Int64?

    public init(
        objectID: String, start: Int64?, end: Int64?, cancelled: Bool = false, reminder: ScheduledReminder? = nil,
        sequence: Int64? = nil
    ) {
        self.objectID = objectID
        self.start = start
        self.end = end
        self.cancelled = cancelled
        self.reminder = reminder
        self.sequence = sequence
    }
}
