/// A notification handler: turns an event into items for subscribers (eZ's
/// `eZNotificationEventHandler`, one type per handler, resolved by name from notification.ini).
///
/// `handle` runs inside the batch's transaction: what it returns is committed together with the
/// mark that this (event, handler) pair is done. Slow work (running an external program)
/// belongs in `prepare`, which runs before the transaction opens; long work on a tick that
/// commits in pieces, in `prepareTick`.
protocol EventHandler: AnyObject {
    /// The name in notification.ini (`ezsubtree`, `mycustom`).
    var name: String { get }
    /// Where it was found: "built-in" or the executable's path.
    var origin: String { get }
    func prepare(_ events: [Event], run: RunContext) throws
    /// For an `ezcurrenttime` event: runs just before the event's transaction, when every earlier
    /// event of the batch is committed, outside any transaction, so long work can commit in
    /// pieces of its own (the digests, one transaction per user). `handle` then reports the outcome.
    func prepareTick(_ tick: Event, run: RunContext) throws
    func handle(_ event: Event, run: RunContext) throws -> HandlerOutcome
}

extension EventHandler {
    func prepare(_ events: [Event], run: RunContext) throws {}
    func prepareTick(_ tick: Event, run: RunContext) throws {}
}

enum HandlerOutcome {
    /// Done with the event; these items go to the sink (possibly none).
    case done([Items])
    /// Not done: retried at the next run, visible in `status`. Other handlers' work is kept.
    case failed(String)
}

/// One piece of content for several recipients.
struct Items {
    enum Delivery {
        /// Each recipient's own setting: digest when they have a schedule, else at once.
        case recipientSetting
        /// At once, even for digest users (collaboration mail).
        case immediate
    }

    var content: RenderedContent
    var recipients: [Recipient]
    var delivery: Delivery
}

/// Subject and bodies, rendered once per event. Times in them are placeholders
/// (`LocalTimeText`), written in each recipient's zone when the message is composed.
struct RenderedContent {
    var handler: String
    /// The full subject line, `[SiteName] what happened`.
    var subject: String
    var text: String
    var html: String?
    /// The stable Message-ID-like thread id of the node, for In-Reply-To and References.
    var thread: String?
    /// The item's one line in a digest; nil: the subject stands for it, without a link.
    var line: DigestLine? = nil
    /// What happened, without the site's prefix: the digest line of an item without a name.
    var headline: String? = nil
}

/// What a digest shows of an item: its name, link and time, and what it is grouped and
/// collapsed by.
struct DigestLine {
    /// The event type: digests group by handler and by the type's source (`kaltura`, `ezpublish`).
    var source: String
    /// Items of one node collapse to the latest in a digest.
    var nodeID: String?
    /// The node ids of the event's path: the rules that still cover it, and deleted nodes.
    var path: [String]
    var name: String
    var url: String?
    var happenedAt: Int64
}

/// Who receives an item. `userID` is nil for an address that is not a known user (a custom
/// handler may mail anyone); such a recipient always gets mail at once.
struct Recipient {
    var userID: Int64?
    var email: String
    var name: String
    var timezone: String
    var digest: DigestSchedule?
    /// The rule's one-click unsubscribe token (subtree or collaboration rule), when the item came
    /// from one; a digest carries the user's digest token here.
    var unsubscribeToken: String?
    /// What that token stops, for the footer: `"News" and everything below it`.
    var unsubscribeSubject: String? = nil
    /// The user's own token: "stop all notifications" (every rule and the digest).
    var stopAllToken: String? = nil
}
