import Foundation

/// site.ini `[MailSettings] BounceAddress` and `BounceDisableAfter`: where bounces go, and how
/// many hard bounces disable an address.
///
/// With a bounce address set, every message leaves with its own envelope sender (VERP), e.g.
/// `bounces+42-1f0c9a7e2b5d8c31@example.org` for outbox message 42, so a bounce names the
/// message it is about whatever the remote server writes in it.
///
///     let bounces = try BounceSettings.load(settings)
///     bounces.address       // "bounces@example.org", or nil: envelope sender = From address
///     bounces.disableAfter  // 3
public struct BounceSettings: Sendable, Equatable {
    /// The bare address bounces are delivered to (its local part gets `+<id>-<mac>`), or nil.
    public var address: String?
    /// Hard (5.x.x) bounces that disable an address.
    public var disableAfter: Int
    /// `[MailSettings] DebugSending=enabled` (staging): every message went to one test address, so
    /// a bounce says nothing about its recipient. It is recorded on the message but not counted.
    public var debugSending: Bool

    public init(address: String?, disableAfter: Int = 3, debugSending: Bool = false) {
        self.address = address
        self.disableAfter = disableAfter
        self.debugSending = debugSending
    }

    public static func load(_ settings: Settings) throws -> BounceSettings {
        let site = try settings.file("site.ini")
        let text = site.string("MailSettings", "BounceAddress")?.trimmingWhitespace ?? ""
        var address: String?
        if !text.isEmpty {
            do {
                address = try Mailbox(address: text).address
            } catch {
                throw EventFilterError.failure("site.ini [MailSettings] BounceAddress '\(text.prefix(80))': \(error)")
            }
        }
        let disableAfter = try site.int("MailSettings", "BounceDisableAfter") ?? 3
        guard disableAfter >= 1 else {
            throw EventFilterError.failure("site.ini [MailSettings] BounceDisableAfter must be at least 1, got \(disableAfter)")
        }
        return BounceSettings(address: address, disableAfter: disableAfter,
                              debugSending: try site.bool("MailSettings", "DebugSending", default: false))
    }
}
