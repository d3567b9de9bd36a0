/// How a webhook source signs or authenticates what it sends (`Type=` in `settings/webhooks.ini`).
///
///     WebhookSourceType(rawValue: "kaltura-http")   // .kalturaHTTP
public enum WebhookSourceType: String, Sendable, CaseIterable {
    /// Kaltura legacy server notifications: form POSTs signed with an md5 `sig` field.
    case kaltura
    /// Kaltura HTTP event notifications: `X-KALTURA-SIGNATURE` over secret + body.
    case kalturaHTTP = "kaltura-http"
    /// Panda (pandastream): unsigned form POSTs, authenticated by a per-source token.
    case panda
    /// EnableX video: raw JSON behind HTTP Basic authentication.
    case enablex
    /// Any sender that signs with Standard Webhooks (HMAC-SHA256, `whsec_` keys).
    case standard
}

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

/// The outcome of verifying one request.
///
///     if let refusal = verdict.rejectionResponse(for: source) { answer(refusal) }
public enum WebhookVerdict: Sendable, Equatable {
    /// Genuine: store these events (one request may carry several), then answer 200.
    case accepted([IncomingEvent])
    /// Refused: answer `status` with `reason` (one line, no secrets) and store nothing.
    case rejected(status: Int, reason: String)

    /// The answer to send for a rejection, with the headers its status calls for; nil when accepted
    /// (the caller answers 200 once the events are stored, or 500 when storing failed).
    public func rejectionResponse(for source: WebhookSource?) -> HTTPResponse? {
        guard case .rejected(let status, let reason) = self else { return nil }
        var headers: [HTTPHeader] = []
        if status == 401, source?.type == .enablex {
            // RFC 9110 §11.6.1: a 401 names the scheme to use; only EnableX uses HTTP authentication.
            headers.append(HTTPHeader("WWW-Authenticate", "Basic realm=\"eventfilter\", charset=\"UTF-8\""))
        }
        return HTTPResponse(status: status, body: reason, headers: headers)
    }
}
