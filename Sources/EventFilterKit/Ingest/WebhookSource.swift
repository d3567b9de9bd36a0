/// One `[Source-NAME]` block of `settings/webhooks.ini`.
///
///     let source = WebhookSource(name: "kaltura", type: .kaltura, secret: adminSecret)
///     source.pathPrefix   // "/kaltura/"
///
/// The secret never appears in `description`, `dump` or any rejection reason.
public struct WebhookSource: Sendable {
    public var name: String
    public var type: WebhookSourceType
    /// Kaltura admin secret (or template sign secret), the Panda token, EnableX `user:password`,
    /// or a Standard Webhooks `whsec_…` key.
    public var secret: String
    /// The path prefix of this source's events (`Path=`), `/NAME/` by default.
    public var pathPrefix: String
    /// How long before a scheduled session its reminder is due, in seconds (`ReminderLead=`).
    public var reminderLead: Int64
    /// Whether Panda `encoding-progress` events should mail anyone (`MailProgress=`).
    public var mailProgress: Bool
    /// Standard Webhooks: how far `webhook-timestamp` may be from now, either way.
    public var toleranceSeconds: Int64
    /// Standard Webhooks: the payload field naming the event type (`TypeField=`, default `type`).
    public var typeField: String
    /// Where people watch what this source announces: `EntryURL=` (Kaltura), `VideoURL=` (Panda),
    /// `RecordingURL=` (EnableX); nil when the mail should say where the object is instead.
    public var watchLink: LinkTemplate?

    public init(
        name: String, type: WebhookSourceType, secret: String, pathPrefix: String? = nil,
        reminderLead: Int64 = 900, mailProgress: Bool = false, toleranceSeconds: Int64 = 300,
        typeField: String = "type"
    ) {
        self.name = name
        self.type = type
        self.secret = secret
        self.pathPrefix = pathPrefix ?? "/\(name)/"
        self.reminderLead = reminderLead
        self.mailProgress = mailProgress
        self.toleranceSeconds = toleranceSeconds
        self.typeField = typeField
    }

    /// What is wrong with this configuration, in one line, or nil when it is usable.
    /// The settings loader should refuse a source with a problem; `process` answers 500 for one.
    public var configurationProblem: String? {
        guard Names.isName(name, allowingDot: false) else {
            return "source name \(IngestText.quoted(name)) may only use letters, digits, '_' and '-'"
        }
        guard !secret.isEmpty else { return "Secret is empty" }
        guard pathPrefix.hasPrefix("/") else { return "Path must start with '/'" }
        guard reminderLead >= 0 else { return "ReminderLead must not be negative" }
        guard toleranceSeconds > 0 else { return "the timestamp tolerance must be positive" }
        guard Names.isName(typeField, allowingDot: false) else {
            return "TypeField must be a JSON field name of letters, digits, '_' and '-'"
        }
        switch type {
        case .standard:
            guard let key = standardWebhooksKey, !key.isEmpty else {
                return "Secret must be a Standard Webhooks key: whsec_ followed by base64"
            }
        case .enablex:
            guard secret.contains(":") else { return "Secret must be user:password for HTTP Basic authentication" }
        case .kaltura, .kalturaHTTP, .panda:
            break
        }
        return nil
    }

    /// The settings key of a source type's watch link and the placeholders it may use.
    public static func watchLinkKey(_ type: WebhookSourceType) -> (key: String, placeholders: Set<String>)? {
        switch type {
        case .kaltura, .kalturaHTTP: return ("EntryURL", ["entry_id", "partner_id"])
        case .panda: return ("VideoURL", ["video_id"])
        case .enablex: return ("RecordingURL", ["app_id", "room_id", "conf_num"])
        case .standard: return nil
        }
    }

    /// The watch link for these values, percent-encoded; nil without a template or a value it needs.
    func watchURL(_ values: [String: String?]) -> JSONValue? {
        watchLink?.url(values.compactMapValues { $0 }).map(JSONValue.string)
    }

    /// The prefix with exactly one leading and one trailing `/`.
    var normalizedPrefix: String {
        var prefix = pathPrefix
        if !prefix.hasPrefix("/") { prefix = "/" + prefix }
        if !prefix.hasSuffix("/") { prefix += "/" }
        return prefix
    }

    /// The HMAC key of a Standard Webhooks secret: the base64 after the optional `whsec_` prefix.
    var standardWebhooksKey: [UInt8]? {
        let encoded = secret.hasPrefix("whsec_") ? String(secret.dropFirst("whsec_".count)) : secret
        return Crypto.base64Decode(encoded)
    }
}

extension WebhookSource: CustomStringConvertible, CustomReflectable {
    public var description: String {
        "WebhookSource(name: \(name), type: \(type.rawValue), pathPrefix: \(pathPrefix), secret: <redacted>)"
    }

    public var customMirror: Mirror {
        Mirror(self, children: ["name": name, "type": type, "pathPrefix": pathPrefix, "secret": "<redacted>"])
    }
}
