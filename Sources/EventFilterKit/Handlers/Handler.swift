/// A notification handler: turns events into items for subscribers (eZ's
/// `eZNotificationEventHandler`, one type per handler, resolved by name from notification.ini).
///
/// A handler reads what it needs (rules, users) and returns items; it never writes. The
/// `Filter` hands the items to the `ItemSink`, in the transaction that marks the (event,
/// handler) pair done, so they are committed together.
///
///     let outcomes = try handler.items(for: events, renderer: renderer, store: store)
///     if case .done(let items)? = outcomes[event.id] { try sink.accept(items, event: event) }
protocol EventHandler: AnyObject {
    /// The name in notification.ini (`ezsubtree`, `mycustom`).
    var name: String { get }
    /// Where it was found: "built-in" or the executable's path.
    var origin: String { get }
    /// True when the handler does slow work once for many events (an external program): the
    /// filter then gives it the whole batch before the write transaction opens, so intake never
    /// waits on it. Otherwise it gets one event at a time inside the transaction, so its reads
    /// see what earlier events of the batch wrote and a batch's items are never all in memory.
    var takesWholeBatch: Bool { get }
    /// The outcome for each of `events`: an event missing from the answer failed. Throws only
    /// for a storage error, which stops the run; any other failure is the event's outcome.
    func items(for events: [Event], renderer: MailRenderer, store: Store) throws -> [Int64: HandlerOutcome]
}

extension EventHandler {
    var takesWholeBatch: Bool { false }

    /// `items(for:)` of a handler that looks at each event alone: an error on one event (a value
    /// that cannot become mail) fails that event alone, while a storage error stops the run.
    func eachEvent(_ events: [Event], _ body: (Event) throws -> [HandlerItem]) throws -> [Int64: HandlerOutcome] {
        var outcomes: [Int64: HandlerOutcome] = [:]
        for event in events {
            do {
                outcomes[event.id] = .done(try body(event))
            } catch let error as any StorageError {
                throw error  // either backend's: the store, not the event, is at fault
            } catch {
                outcomes[event.id] = .failed("\(error)")
            }
        }
        return outcomes
    }
}

enum HandlerOutcome {
    /// Done with the event; these items go to the sink (possibly none).
    case done([HandlerItem])
    /// Not done: retried at the next run, visible in `status`. Other handlers' work is kept.
    case failed(String)
}

/// What a handler asks the sink to write for an event.
enum HandlerItem {
    /// Content for recipients: digest rows or queued mail.
    case mail(Items)
    /// `node` (and everything below it) was deleted at a time: waiting digests leave out what
    /// happened to it before.
    case nodeDeleted(node: String, at: Int64)
    /// What an earlier event put into digests no longer holds (a session's announcement, once a
    /// move or cancellation of it is mailed): it leaves every digest still waiting.
    case withdrawDigestItems(ofEvent: Int64)
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
