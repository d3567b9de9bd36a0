/// Why a request is refused; thrown inside the per-source parsers, turned into a verdict by `process`.
struct WebhookRejection: Error {
    let status: Int
    let reason: String

    static func malformed(_ reason: String) -> WebhookRejection { WebhookRejection(status: 400, reason: reason) }
    static func unauthenticated(_ reason: String) -> WebhookRejection { WebhookRejection(status: 401, reason: reason) }
    static func forbidden(_ reason: String) -> WebhookRejection { WebhookRejection(status: 403, reason: reason) }
}
