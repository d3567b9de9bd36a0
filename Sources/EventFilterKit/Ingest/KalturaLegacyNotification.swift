/// Kaltura's legacy server notifications (KMC > Settings > Integration > Notification URL).
///
/// The sender (kaltura/server `KAsyncNotifierParamsUtils`) POSTs form fields and signs them with
/// `sig = md5(adminSecret + k1 + v1 + k2 + v2 …)` over every field but `sig`, keys sorted bytewise
/// (PHP `ksort`). A multi-notification prefixes each notification's fields with `notN_` and adds
/// `multi_notification=true` and `number_of_notifications`, under one top-level `sig`.
///
/// The receiver rule of Kaltura's own `KalturaNotificationClient` is kept: in a single notification
/// whose `signed_fields` lists more than one name, only the listed fields (plus
/// `multi_notification` and `number_of_notifications`) are signed. Fields outside the list are
/// then unauthenticated, so they are dropped rather than stored.
enum KalturaLegacyNotification {
    static func events(_ request: HTTPRequest, source: WebhookSource) throws -> [IncomingEvent] {
        if let mediaType = request.mediaType, mediaType != "application/x-www-form-urlencoded" {
            throw WebhookRejection.malformed(
                "expected an application/x-www-form-urlencoded body, got \(IngestText.quoted(mediaType))")
        }
        let fields = try WebhookParsing.formFields(request.body, allowArrays: false).compactMapValues(\.stringValue)
        guard let sig = fields["sig"], !sig.isEmpty else { throw WebhookRejection.unauthenticated("missing sig field") }

        let isMulti = fields["multi_notification"] == "true"
        let signedNames = signedFieldNames(fields, isMulti: isMulti)
        let expected = signature(secret: source.secret, fields: fields, signedNames: signedNames)
        guard let presented = Crypto.hexDecode(sig), Crypto.constantTimeEqual(presented, expected) else {
            throw WebhookRejection.forbidden("sig does not match these fields and the source's admin secret")
        }

        let control: Set<String> = ["sig", "signed_fields", "multi_notification", "number_of_notifications"]
        let trusted = fields.filter { signedNames?.contains($0.key) ?? true }.filter { !control.contains($0.key) }
        let notifications = isMulti ? try split(trusted, count: fields["number_of_notifications"]) : [trusted]
        return try notifications.enumerated().map { offset, notification in
            try event(notification, label: isMulti ? "notification \(offset + 1)" : "notification", source: source)
        }
    }

    /// The names covered by `sig`, or nil when every field is.
    static func signedFieldNames(_ fields: [String: String], isMulti: Bool) -> Set<String>? {
        guard !isMulti, let list = fields["signed_fields"] else { return nil }
        // PHP explode(','): "a,b," gives three entries; the sender's list always ends with a comma.
        let names = list.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard names.count > 1 else { return nil }
        return Set(names).union(["multi_notification", "number_of_notifications"])
    }

    /// md5(secret + concatenation of name + value over the signed fields but `sig`, sorted bytewise).
    static func signature(secret: String, fields: [String: String], signedNames: Set<String>?) -> [UInt8] {
        var signed = Array(secret.utf8)
        let names = fields.keys
            .filter { $0 != "sig" && (signedNames?.contains($0) ?? true) }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        for name in names {
            signed += Array(name.utf8)
            signed += Array(fields[name]!.utf8)
        }
        return Crypto.hash(.md5, signed)
    }

    /// Splits `notN_field` names into one dictionary per N, in N order. Unprefixed fields (other
    /// than the control fields) are shared by every notification unless it has its own.
    private static func split(_ fields: [String: String], count: String?) throws -> [[String: String]] {
        var byIndex: [Int: [String: String]] = [:]
        var shared: [String: String] = [:]
        for (name, value) in fields {
            if let (index, field) = prefixed(name) {
                byIndex[index, default: [:]][field] = value
            } else {
                shared[name] = value
            }
        }
        guard let count, let expected = Int(count), expected > 0 else {
            throw WebhookRejection.malformed("multi-notification without a valid number_of_notifications")
        }
        guard byIndex.count == expected else {
            throw WebhookRejection.malformed(
                "number_of_notifications is \(expected) but the body holds \(byIndex.count) notifications")
        }
        return byIndex.keys.sorted().map { shared.merging(byIndex[$0]!) { _, own in own } }
    }

    /// `not12_entry_id` → (12, "entry_id").
    private static func prefixed(_ name: String) -> (Int, String)? {
        let bytes = Array(name.utf8)
        guard bytes.count > 4, bytes.starts(with: Array("not".utf8)) else { return nil }
        var cursor = 3
        while cursor < bytes.count, bytes[cursor] >= 48, bytes[cursor] <= 57 { cursor += 1 }
        guard cursor > 3, cursor <= 12, cursor + 1 < bytes.count, bytes[cursor] == UInt8(ascii: "_"),
            let index = Int(String(decoding: bytes[3..<cursor], as: UTF8.self))
        else { return nil }
        return (index, String(decoding: bytes[(cursor + 1)...], as: UTF8.self))
    }

    private static func event(_ fields: [String: String], label: String, source: WebhookSource) throws -> IncomingEvent {
        func required(_ name: String) throws -> String {
            guard let value = fields[name], !value.isEmpty else {
                throw WebhookRejection.malformed("\(label) has no \(name)")
            }
            return value
        }
        let notificationID = try required("notification_id")
        let partnerID = try required("partner_id")
        let typeName = try typeName(required("notification_type"), label: label)

        // The object the notification is about: its id is the last level of the path.
        let objectField = ["entry_id", "kshow_id", "user_id", "job_id"].first { !(fields[$0] ?? "").isEmpty }
        var segments = [(field: "partner_id", value: partnerID)]
        if let objectField { segments.append((objectField, fields[objectField]!)) }

        var params = fields.mapValues(JSONValue.string)
        params["path"] = .string(try WebhookParsing.path(source, segments))
        if let objectField { params["node_id"] = .string(fields[objectField]!) }
        // KalturaEntryStatus 2 is READY: the mail can say the media can be watched, once.
        var lifecycle: LifecycleNotice?
        if objectField == "entry_id", let entryID = fields["entry_id"] {
            params["watch_url"] = source.watchURL(["entry_id": entryID, "partner_id": partnerID])
            if fields["status"] == "2" {
                params["ready"] = .string("true")
                if !typeName.contains("delete") { lifecycle = .ready(objectType: "entry", objectID: entryID) }
            }
        } else {
            params["watch_url"] = nil  // only ever the source's own template, never a sender's field
        }
        return IncomingEvent(
            type: "kaltura.\(typeName)", params: .object(params),
            dedupeKey: "kaltura:\(partnerID):\(notificationID)", lifecycle: lifecycle)
    }

    /// The sender sends names (`entry_add`); the numeric ids of `kNotificationJobData` are mapped
    /// to the same names in case a proxy or old server sends those.
    private static func typeName(_ raw: String, label: String) throws -> String {
        let name = numericTypes[raw] ?? raw.lowercased()
        guard Names.isName(name, allowingDot: false) else {
            throw WebhookRejection.malformed("\(label) has an unusable notification_type \(IngestText.quoted(raw))")
        }
        return name
    }

    private static let numericTypes: [String: String] = [
        "1": "entry_add", "2": "entry_update_permissions", "3": "entry_delete", "4": "entry_block",
        "5": "entry_update", "6": "entry_update_thumbnail", "7": "entry_update_moderation", "8": "entry_reported",
        "11": "kshow_add", "12": "kshow_update_info", "13": "kshow_delete", "14": "kshow_update_permissions",
        "15": "kshow_rank", "16": "kshow_block", "21": "user_add", "26": "user_banned",
        "30": "job_started", "31": "job_succeeded", "32": "job_failed", "33": "job_similar_exists", "99": "test",
    ]
}
