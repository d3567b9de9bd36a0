/// Standard Webhooks v1 (standardwebhooks.com; also Svix with the `webhook-` header names).
///
/// `webhook-signature` is a space-separated list of `v1,<base64 HMAC-SHA256>` entries (several
/// during key rotation; any one matching passes; other versions such as `v1a` are ignored). The
/// signed content is `webhook-id + "." + webhook-timestamp + "." + body`, keyed with the base64
/// part of the `whsec_…` secret. A timestamp more than `toleranceSeconds` from now either way is
/// refused (401), which stops replays of old captured requests; `webhook-id` is the dedupe key,
/// which stops replays inside the window.
///
/// The event type is `<source name>.<payload type>` (source `billing`, `{"type": "invoice.paid"}`
/// → `billing.invoice.paid`), and the params are the payload's `data` object plus `path`. The
/// specification leaves the payload free, so the field is the source's `TypeField` (default
/// `type`), and a message without it is `<source name>.message` whose params are the whole payload
/// (`{"test": 2432232314}` → `billing.message` with `test`).
enum StandardWebhook {
    /// The type of a message whose payload has no type field: `<source name>.message`.
    static let untypedMessage = "message"

    static func events(_ request: HTTPRequest, source: WebhookSource, now: Int64) throws -> [IncomingEvent] {
        func header(_ name: String) throws -> String {
            guard let value = request.header(name).map(IngestText.trim), !value.isEmpty else {
                throw WebhookRejection.unauthenticated("missing \(name) header")
            }
            return value
        }
        let id = try header("webhook-id")
        let timestampText = try header("webhook-timestamp")
        let signatures = try header("webhook-signature")

        // A "." in the id would let "id.ts.body" be re-split into another id, timestamp and body.
        // Byte by byte: the signed text is bytes, and Foundation's String search costs more than the HMAC.
        guard id.utf8.count <= 256, !id.utf8.contains(UInt8(ascii: ".")), !hasControlCharacter(id) else {
            throw WebhookRejection.malformed("webhook-id must be at most 256 characters without '.' or control characters")
        }
        guard timestampText.utf8.count <= 15, timestampText.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
            let timestamp = Int64(timestampText)
        else {
            throw WebhookRejection.malformed("webhook-timestamp must be unix seconds")
        }
        let skew = now > timestamp ? now - timestamp : timestamp - now
        guard skew <= source.toleranceSeconds else {
            throw WebhookRejection.unauthenticated(
                "webhook-timestamp is \(skew) seconds from now, outside the \(source.toleranceSeconds)-second window")
        }

        // Split on bytes (space and comma are single ASCII bytes in UTF-8): splitting the text
        // into Characters cost more than the HMAC.
        let candidates = Array(signatures.utf8).split(separator: UInt8(ascii: " ")).compactMap { entry -> [UInt8]? in
            guard let comma = entry.firstIndex(of: UInt8(ascii: ",")), entry[..<comma].elementsEqual("v1".utf8) else { return nil }
            // An undecodable entry is kept as empty bytes so it simply fails to match.
            return Crypto.base64Decode(String(decoding: entry[(comma + 1)...], as: UTF8.self)) ?? []
        }
        guard !candidates.isEmpty else {
            throw WebhookRejection.unauthenticated("webhook-signature has no v1 signature")
        }
        let key = source.standardWebhooksKey ?? []
        let signedPrefix = Array("\(id).\(timestampText).".utf8)
        let expected = HMACKey.shared(.sha256, key: key)?.mac(signedPrefix, request.body)
            ?? Crypto.hmac(.sha256, key: key, data: signedPrefix + request.body)
        // Compare every candidate, so the time taken does not tell which one matched.
        let matches = candidates.reduce(false) { found, candidate in Crypto.constantTimeEqual(candidate, expected) || found }
        guard matches else { throw WebhookRejection.forbidden("webhook-signature does not match") }

        let payload = try WebhookParsing.jsonObject(request.body)
        let field = source.typeField
        let type: String
        switch payload[field] {
        case nil, .null?:
            // The specification requires only the signature: an untyped message is still genuine.
            type = untypedMessage
        case .string(let named)? where Names.isName(named) && !named.hasPrefix(".") && !named.hasSuffix("."):
            type = named
        case .string(let named)?:
            throw WebhookRejection.malformed("unusable \(field) \(IngestText.quoted(named))")
        default:
            throw WebhookRejection.malformed("the \(field) field is not a string")
        }
        var params: [String: JSONValue]
        switch payload["data"] {
        case .object(let data)?: params = data
        case nil, .null?:
            // A typed envelope without data carries nothing else; an untyped message is its own data.
            params = payload[field] == nil || payload[field] == .null ? payload : [:]
            params.removeValue(forKey: field)
        default: throw WebhookRejection.malformed("data is not a JSON object")
        }
        params["path"] = .string(source.normalizedPrefix)
        return [IncomingEvent(type: "\(source.name).\(type)", params: .object(params), dedupeKey: "standard:\(source.name):\(id)")]
    }

    /// True when `text` holds a control character (Unicode's general category Cc); for ASCII
    /// text, a byte below 0x20 or 0x7F, checked without decoding scalars.
    static func hasControlCharacter(_ text: String) -> Bool {
        if text.utf8.allSatisfy({ $0 < 0x80 }) {
            return text.utf8.contains { $0 < 0x20 || $0 == 0x7F }
        }
        return text.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }
}
