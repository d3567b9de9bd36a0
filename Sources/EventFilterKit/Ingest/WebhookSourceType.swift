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
