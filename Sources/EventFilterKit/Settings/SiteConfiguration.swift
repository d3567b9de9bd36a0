import Foundation

/// The settings a run needs, read once from site.ini and notification.ini and checked, so a bad
/// value stops the run before anything changes.
public struct SiteConfiguration: Sendable {
    public var siteName: String
    /// e.g. "https://example.com"; links in mail start with it.
    public var siteURL: String
    /// The From header: `[MailSettings] EmailSender` of notification.ini, else site.ini's, else `AdminEmail`.
    public var sender: Mailbox
    /// `[MailSettings] EmailReplyTo`: the `Reply-To` of every message, when set.
    public var replyTo: Mailbox?
    /// The right-hand side of generated Message-IDs and thread ids.
    public var messageIDDomain: String
    /// `[SiteSettings] UnsubscribeURL`: when set, every message gets RFC 8058 one-click headers.
    public var unsubscribeURL: String?
    /// Where a user changes their notification settings (footer link).
    public var settingsURL: String
    /// `[SiteSettings] FollowSecret`: the key of the signed "Keep me updated" links a site makes
    /// (HMAC-SHA256); nil turns signed links off.
    public var followSecret: String? = nil
    /// `[SubtreeHandlerSettings] NotifyAuthor=enabled` sends authors their own changes.
    public var notifyAuthor: Bool
    /// `[EventFilterSettings] BatchSize`: events per batch and transaction.
    public var batchSize: Int
    /// `[EventFilterSettings] KeepDays`: handled events and sent mail are purged after this.
    public var keepDays: Int
    /// `[EventFilterSettings] HandlerTimeout`: seconds a custom handler may run per batch.
    public var handlerTimeout: Double
    /// `[EventFilterSettings] KeepDedupeDays`: how long a dedupe key refuses a replay (90).
    public var keepDedupeDays: Int
    /// `[GeneralDigestSettings] MaxItems`: items shown per group of a digest (50), newest first.
    public var digestMaxItems: Int = 50

    public static func load(_ settings: Settings) throws -> SiteConfiguration {
        let site = try settings.file("site.ini")
        let notification = try settings.file("notification.ini")
        let siteName = nonEmpty(site.string("SiteSettings", "SiteName")) ?? "eventfilter"
        var siteURL = nonEmpty(site.string("SiteSettings", "SiteURL")) ?? "http://localhost"
        if !siteURL.contains("://") { siteURL = "http://" + siteURL }  // eZ stores SiteURL without a scheme
        while siteURL.hasSuffix("/") { siteURL.removeLast() }

        // The first set of these is the sender; a bad one is named by its own file and key, so
        // `eventfilter check` can point at its line.
        let candidates = [("notification.ini", notification, "EmailSender"), ("site.ini", site, "EmailSender"), ("site.ini", site, "AdminEmail")]
        guard let (fileName, _, key, senderAddress) = candidates.lazy
            .compactMap({ name, file, key in nonEmpty(file.string("MailSettings", key)).map { (name, file, key, $0) } }).first else {
            throw EventFilterError.failure("site.ini [MailSettings]: set EmailSender or AdminEmail, the address notifications come from")
        }
        let sender: Mailbox
        do {
            sender = try Mailbox(address: senderAddress, name: siteName)
        } catch {
            throw EventFilterError.failure("\(fileName) [MailSettings] \(key) '\(senderAddress)': \(error)")
        }
        var replyTo: Mailbox?
        if let address = nonEmpty(site.string("MailSettings", "EmailReplyTo")) {
            // The same check as every address: a dot-atom local part and a host name, ASCII only,
            // so the value can be written into the header as it is.
            do {
                replyTo = try Mailbox(address: address)
            } catch {
                throw EventFilterError.failure("site.ini [MailSettings] EmailReplyTo: \(error)")
            }
        }
        let host = Self.host(of: siteURL)
        let domain = host.isEmpty ? String(senderAddress.split(separator: "@").last ?? "localhost") : host

        let unsubscribe = nonEmpty(site.string("SiteSettings", "UnsubscribeURL"))
        if let unsubscribe, !unsubscribe.lowercased().hasPrefix("https://") && !unsubscribe.lowercased().hasPrefix("http://") {
            throw EventFilterError.failure("site.ini [SiteSettings] UnsubscribeURL must be an http(s) URL, got '\(unsubscribe)'")
        }
        try rejectLineBreaks(unsubscribe ?? "", "site.ini [SiteSettings] UnsubscribeURL")
        try rejectLineBreaks(siteURL, "site.ini [SiteSettings] SiteURL")

        let batchSize = try notification.int("EventFilterSettings", "BatchSize") ?? 500
        let keepDays = try notification.int("EventFilterSettings", "KeepDays") ?? 7
        let timeout = try notification.int("EventFilterSettings", "HandlerTimeout") ?? 60
        let keepDedupeDays = try notification.int("EventFilterSettings", "KeepDedupeDays") ?? 90
        guard batchSize > 0, keepDays >= 0, timeout > 0, keepDedupeDays >= keepDays else {
            throw EventFilterError.failure("notification.ini [EventFilterSettings]: BatchSize and HandlerTimeout must be positive, "
                + "KeepDays not negative, KeepDedupeDays at least KeepDays")
        }
        let maxItems = try notification.int("GeneralDigestSettings", "MaxItems") ?? 50
        guard (1...10_000).contains(maxItems) else {
            throw EventFilterError.failure("notification.ini [GeneralDigestSettings] MaxItems must be 1 to 10000, got \(maxItems)")
        }
        var configuration = SiteConfiguration(
            siteName: siteName, siteURL: siteURL, sender: sender, replyTo: replyTo, messageIDDomain: domain,
            unsubscribeURL: unsubscribe,
            settingsURL: nonEmpty(site.string("SiteSettings", "SettingsURL")) ?? siteURL + "/notification/settings",
            notifyAuthor: try notification.bool("SubtreeHandlerSettings", "NotifyAuthor", default: false),
            batchSize: batchSize, keepDays: keepDays, handlerTimeout: Double(timeout), keepDedupeDays: keepDedupeDays)
        configuration.digestMaxItems = maxItems
        configuration.followSecret = nonEmpty(site.string("SiteSettings", "FollowSecret"))
        return configuration
    }

    /// The host of `url` as URLComponents reads it. An `http(s)://` URL whose authority is plain
    /// ASCII (letters, digits, `.`, `-`, an optional `:port`) is read here: URLComponents runs
    /// every host through ICU's IDNA code, whose set-up cost every process about 0.1 ms at start.
    /// Anything else goes to URLComponents.
    static func host(of url: String) -> String {
        var rest = Substring(url)
        for scheme in ["https://", "http://"] where rest.lowercased().hasPrefix(scheme) {
            rest = rest.dropFirst(scheme.count)
            let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
            let host = authority.prefix { $0 != ":" }
            let port = authority.dropFirst(host.count)
            let plainHost = !host.isEmpty && host.utf8.allSatisfy {
                ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z"))
                    || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-")
            }
            let plainPort = port.isEmpty || (port.count > 1 && port.dropFirst().utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
            if plainHost && plainPort && !host.lowercased().contains("xn--") { return String(host) }
        }
        return URLComponents(string: url)?.host ?? ""
    }

    private static func nonEmpty(_ value: String?) -> String? {
        guard let value = value?.trimmingWhitespace, !value.isEmpty else { return nil }
        return value
    }

    private static func rejectLineBreaks(_ value: String, _ name: String) throws {
        if value.contains(where: { $0 == "\r" || $0 == "\n" }) {
            throw EventFilterError.failure("\(name) contains a line break")
        }
    }
}
