/// The reminder event of a session: its params and when it is due.
public struct ScheduledReminder: Sendable, Equatable {
    public static let eventType = "kaltura.schedule_reminder"
    public var params: JSONValue
    public var notBefore: Int64

    public init(params: JSONValue, notBefore: Int64) {
        self.params = params
        self.notBefore = notBefore
    }
}
