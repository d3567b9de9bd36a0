/// Kaltura HTTP event notifications (event notification templates of type HTTP).
///
/// Signed as `X-KALTURA-SIGNATURE: hex(hash(secret + body))` with `X-KALTURA-HASH-ALGO` sha1
/// (the sender's default when the header is absent), sha256 or sha512. Not an HMAC: see `events`.
///
/// Bodies: a JSON `KalturaHttpNotification` (`object`, `eventObjectType`, `eventType`,
/// `eventNotificationJobId`, `templateSystemName`, …), the same JSON form-wrapped as `data=…`,
/// plain form fields (the template's content parameters), or free text.
///
/// A schedule event with a start and an end date (a webinar, a webcast) gives the announcement
/// `kaltura.schedule_event`, due at once, and `kaltura.schedule_reminder`, due `reminderLead`
/// seconds before the start (at once when that time has passed; none when the session has already
/// ended). One cancelled (status 1) or deleted (status 3, or a deleted/erased event) gives
/// `kaltura.schedule_cancelled`. A session with an `id` carries a `ScheduleNotice`, so intake keeps
/// one announcement and one reminder per session and mails a move (`kaltura.schedule_rescheduled`)
/// or a cancellation once (`ObjectLifecycle`).
/// Both keep `start_date` and `end_date` (unix seconds) and add, for the mail, `start_time` /
/// `end_time` (ISO 8601), `start_text` / `end_text` ("Thursday 1 January 2026, 09:00 UTC") and
/// `start_clock` / `end_clock` ("09:00 UTC"); the reminder adds `lead_minutes`.
enum KalturaHTTPNotification {
    static func events(_ request: HTTPRequest, source: WebhookSource, now: Int64) throws -> [IncomingEvent] {
        try verify(request, source: source)
        // hash(secret + body) with SHA-1/SHA-2 admits length extension: whoever saw one signed body
        // can sign body + padding + more. The padding is never UTF-8 text, so requiring text refuses it.
        guard String(validating: request.body, as: UTF8.self) != nil, !request.body.contains(0) else {
            throw WebhookRejection.malformed("body is not UTF-8 text")
        }
        guard !request.body.allSatisfy({ [32, 9, 10, 13].contains($0) }) else {
            throw WebhookRejection.malformed("empty body: give the notification template payload data (JSON object data)")
        }

        if WebhookParsing.looksLikeJSONObject(request.body) {
            return try jsonEvents(WebhookParsing.jsonObject(request.body), request: request, source: source, now: now)
        }
        if let mediaType = request.mediaType, mediaType.hasPrefix("text/") {
            return [try freeTextEvent(request, source: source)]
        }
        let fields = try WebhookParsing.formFields(request.body, allowArrays: true)
        if let data = fields["data"]?.stringValue {
            let trimmed = IngestText.trim(data)
            if trimmed.hasPrefix("{") {
                let object = try WebhookParsing.jsonObject(Array(trimmed.utf8), what: "the data field")
                return try jsonEvents(object, request: request, source: source, now: now)
            }
            throw WebhookRejection.malformed(
                "the data field is not JSON; set the notification template's format to JSON (XML and PHP are not supported)")
        }
        return [try fieldsEvent(fields, request: request, source: source)]
    }

    private static func verify(_ request: HTTPRequest, source: WebhookSource) throws {
        guard let signature = request.header("X-KALTURA-SIGNATURE").map(IngestText.trim), !signature.isEmpty else {
            throw WebhookRejection.unauthenticated("missing X-KALTURA-SIGNATURE header")
        }
        let algorithm: HashAlgorithm
        switch request.header("X-KALTURA-HASH-ALGO").map({ IngestText.trim($0).lowercased() }) {
        case nil, "", "sha1", "sha-1": algorithm = .sha1
        case "sha256", "sha-256": algorithm = .sha256
        case "sha512", "sha-512": algorithm = .sha512
        case let other?:
            throw WebhookRejection.malformed(
                "unsupported X-KALTURA-HASH-ALGO \(IngestText.quoted(other)); use sha1, sha256 or sha512")
        }
        let expected = Crypto.hash(algorithm, Array(source.secret.utf8) + request.body)
        guard let presented = Crypto.hexDecode(signature), Crypto.constantTimeEqual(presented, expected) else {
            throw WebhookRejection.forbidden("X-KALTURA-SIGNATURE does not match the body and the source's secret")
        }
    }

    // MARK: JSON (raw or data=)

    private static func jsonEvents(
        _ root: [String: JSONValue], request: HTTPRequest, source: WebhookSource, now: Int64
    ) throws -> [IncomingEvent] {
        // A KalturaHttpNotification wraps the object; a free-text template may post a bare object.
        let object = root["object"]?.objectValue ?? root
        let objectKind = objectKind(root["eventObjectType"], object: object)
        let eventName = eventName(root["eventType"])
        let isSchedule = objectKind == "schedule_event"

        let partnerID = WebhookParsing.text(object["partnerId"])
        let nodeField = nodeField(object, isSchedule: isSchedule)
        let nodeID = WebhookParsing.text(object[nodeField])
        var segments: [(field: String, value: String)] = []
        if let partnerID { segments.append(("partnerId", partnerID)) }
        if let nodeID { segments.append((nodeField, nodeID)) }

        var params = object
        params["path"] = .string(try WebhookParsing.path(source, segments))
        params["node_id"] = nodeID.map(JSONValue.string)
        params["partner_id"] = partnerID.map(JSONValue.string)
        params["name"] = (WebhookParsing.text(object["name"]) ?? WebhookParsing.text(object["summary"])).map(JSONValue.string)
        params["thumbnail_url"] = WebhookParsing.text(object["thumbnailUrl"]).map(JSONValue.string)
        params["download_url"] = WebhookParsing.text(object["downloadUrl"]).map(JSONValue.string)
        params["object_type"] = objectKind.map(JSONValue.string)
        params["event"] = eventName.map(JSONValue.string)
        // KalturaEntryStatus 2 is READY (a schedule event's status 2 means ACTIVE, so entries only).
        let isReady = objectKind == "entry" && WebhookParsing.text(object["status"]) == "2"
        if isReady { params["ready"] = .string("true") }
        let entryID = objectKind == "entry" ? WebhookParsing.text(object["id"]) : WebhookParsing.text(object["entryId"])
        params["entry_id"] = entryID.map(JSONValue.string)
        // Only ever the source's own template, never a field the sender chose.
        params["watch_url"] = entryID.flatMap { source.watchURL(["entry_id": $0, "partner_id": partnerID]) }
        for (from, to) in [("templateSystemName", "template_system_name"), ("templateName", "template_name"),
                           ("templateId", "template_id"), ("eventNotificationJobId", "event_notification_job_id")]
        {
            if let value = WebhookParsing.text(root[from]) { params[to] = .string(value) }
        }

        let jobID = WebhookParsing.text(root["eventNotificationJobId"])
        let jobSequence = jobID.flatMap { Int64($0) }
        let announcementKey = jobID.map { "kaltura-http:\(source.name):job:\($0)" }
            ?? WebhookParsing.bodyHashKey(source, request.body)

        let start = WebhookParsing.unixTime(object["startDate"])
        let end = WebhookParsing.unixTime(object["endDate"])
        if isSchedule, let start { params["start_date"] = .number(Double(start)) }
        if isSchedule, let end { params["end_date"] = .number(Double(end)) }
        let sessionID = isSchedule ? WebhookParsing.text(object["id"]) : nil
        let live = isLive(object, eventName: eventName)

        if let sessionID, !live {
            // Intake decides whether anyone was told of the session and so needs telling it is off.
            ReadableTime.addDerivedTimes(to: &params, fields: [("start_date", "start"), ("end_date", "end")])
            let notice = ScheduleNotice(objectID: sessionID, start: start, end: end, cancelled: true, sequence: jobSequence)
            return [IncomingEvent(
                type: cancelledType, params: .object(params), dedupeKey: announcementKey, lifecycle: .schedule(notice))]
        }
        guard isSchedule, let start, let end, live else {
            let type = "kaltura." + ([objectKind, eventName].compactMap { $0 }.joined(separator: "_"))
            let gone = eventName == "deleted" || eventName == "erased"
            let lifecycle = isReady && !gone ? entryID.map { LifecycleNotice.ready(objectType: "entry", objectID: $0) } : nil
            return [IncomingEvent(
                type: type == "kaltura." ? "kaltura.http_notification" : type,
                params: .object(params), dedupeKey: announcementKey, lifecycle: lifecycle)]
        }

        ReadableTime.addDerivedTimes(to: &params, fields: [("start_date", "start"), ("end_date", "end")])
        var reminder: ScheduledReminder?
        if now < end {
            var reminderParams = params
            reminderParams["reminder"] = .bool(true)
            reminderParams["lead_seconds"] = .number(Double(source.reminderLead))
            reminderParams["lead_minutes"] = .number(Double(source.reminderLead / 60))
            reminder = ScheduledReminder(params: .object(reminderParams), notBefore: start - source.reminderLead)
        }
        if let sessionID {
            // One announcement and one reminder per session; intake moves or withdraws them as it changes.
            let notice = ScheduleNotice(objectID: sessionID, start: start, end: end, reminder: reminder, sequence: jobSequence)
            return [IncomingEvent(
                type: announcementType, params: .object(params), dedupeKey: announcementKey, lifecycle: .schedule(notice))]
        }
        var events = [IncomingEvent(type: announcementType, params: .object(params), dedupeKey: announcementKey)]
        if let reminder {
            events.append(IncomingEvent(
                type: ScheduledReminder.eventType, params: reminder.params, notBefore: reminder.notBefore,
                dedupeKey: announcementKey + ":reminder"))
        }
        return events
    }

    static let announcementType = "kaltura.schedule_event"
    static let rescheduledType = "kaltura.schedule_rescheduled"
    static let cancelledType = "kaltura.schedule_cancelled"

    /// The field naming the node the object belongs under: a session's live entry, an asset's or
    /// cue point's entry, else the object itself.
    private static func nodeField(_ object: [String: JSONValue], isSchedule: Bool) -> String {
        if isSchedule, WebhookParsing.text(object["templateEntryId"]) != nil { return "templateEntryId" }
        if WebhookParsing.text(object["entryId"]) != nil { return "entryId" }
        return "id"
    }

    /// A schedule event that still takes place: not deleted, not cancelled (KalturaScheduleEventStatus
    /// 1 CANCELLED, 3 DELETED).
    private static func isLive(_ object: [String: JSONValue], eventName: String?) -> Bool {
        if eventName == "deleted" || eventName == "erased" { return false }
        let status = WebhookParsing.text(object["status"])
        return status != "1" && status != "3"
    }

    /// `entry`, `category`, `schedule_event`, … from `eventObjectType` (a number, or a plugin's
    /// `scheduleEventNotifications.ScheduleEvent`), else from the object's `objectType`.
    private static func objectKind(_ eventObjectType: JSONValue?, object: [String: JSONValue]) -> String? {
        if let raw = WebhookParsing.text(eventObjectType) {
            if let known = objectKinds[raw] { return known }
            if let dot = raw.lastIndex(of: "."), let kind = snakeCase(String(raw[raw.index(after: dot)...])) {
                return kind
            }
        }
        guard var className = WebhookParsing.text(object["objectType"]) else { return nil }
        if className.hasPrefix("Kaltura") { className.removeFirst("Kaltura".count) }
        if className.hasSuffix("ScheduleEvent") { return "schedule_event" }
        return snakeCase(className)
    }

    /// `added`, `changed`, `deleted`, … from `eventType` (EventNotificationEventType).
    private static func eventName(_ eventType: JSONValue?) -> String? {
        guard let raw = WebhookParsing.text(eventType) else { return nil }
        if let known = eventNames[raw] { return known }
        if let dot = raw.lastIndex(of: ".") {
            let name = raw[raw.index(after: dot)...].lowercased()
            return Names.isName(name, allowingDot: false) ? name : nil
        }
        return Names.isName(raw, allowingDot: false) ? "event_\(raw.lowercased())" : nil
    }

    /// `LiveStreamScheduleEvent` → `live_stream_schedule_event`; nil unless letters and digits.
    private static func snakeCase(_ name: String) -> String? {
        guard !name.isEmpty, name.utf8.count <= 60, Names.isName(name, allowingDot: false),
            !name.contains("_"), !name.contains("-")
        else { return nil }
        var out = ""
        for scalar in name.unicodeScalars {
            if scalar.properties.isUppercase, !out.isEmpty { out += "_" }
            out += String(scalar).lowercased()
        }
        return out
    }

    private static let objectKinds: [String: String] = [
        "1": "entry", "2": "category", "3": "asset", "4": "flavor_asset", "5": "thumb_asset", "8": "user",
        "9": "access_control", "10": "batch_job", "11": "bulk_upload_result", "12": "category_user",
        "14": "conversion_profile", "15": "flavor_params", "16": "flavor_params_conversion_profile",
        "17": "flavor_params_output", "18": "generic_syndication_feed", "19": "user_to_user_role", "20": "partner",
        "21": "permission", "22": "permission_item", "23": "permission_to_permission_item", "24": "scheduler",
        "25": "scheduler_config", "26": "scheduler_status", "27": "scheduler_worker", "28": "storage_profile",
        "29": "syndication_feed", "31": "thumb_params", "32": "thumb_params_output", "33": "upload_token",
        "34": "user_login_data", "35": "user_role", "36": "widget", "37": "category_entry", "38": "live_stream",
        "39": "server_node", "40": "entry_server_node", "41": "reach_profile", "42": "entry_vendor_task",
    ]

    private static let eventNames: [String: String] = [
        "1": "batch_job_status", "2": "added", "3": "changed", "4": "copied", "5": "created", "6": "data_changed",
        "7": "deleted", "8": "erased", "9": "ready_for_replacement", "10": "saved", "11": "updated",
        "12": "replaced", "13": "ready_for_index",
    ]

    // MARK: Form fields and free text

    /// A "fields" template: its content parameters as form fields.
    private static func fieldsEvent(
        _ fields: [String: JSONValue], request: HTTPRequest, source: WebhookSource
    ) throws -> IncomingEvent {
        var segments: [(field: String, value: String)] = []
        if let partner = WebhookParsing.text(fields["partner_id"]) { segments.append(("partner_id", partner)) }
        if let entry = WebhookParsing.text(fields["entry_id"]) { segments.append(("entry_id", entry)) }
        var params = fields
        params["path"] = .string(try WebhookParsing.path(source, segments))
        if let entry = WebhookParsing.text(fields["entry_id"]) { params["node_id"] = .string(entry) }
        let named = [fields["notification_type"], fields["event_type"]].lazy
            .compactMap { WebhookParsing.text($0)?.lowercased() }
            .first { Names.isName($0, allowingDot: false) }
        return IncomingEvent(
            type: "kaltura.\(named ?? "http_notification")", params: .object(params),
            dedupeKey: WebhookParsing.bodyHashKey(source, request.body))
    }

    /// A free-text template: the text itself is the only parameter.
    private static func freeTextEvent(_ request: HTTPRequest, source: WebhookSource) throws -> IncomingEvent {
        IncomingEvent(
            type: "kaltura.http_notification",
            params: ["text": .string(String(decoding: request.body, as: UTF8.self)), "path": .string(source.normalizedPrefix)],
            dedupeKey: WebhookParsing.bodyHashKey(source, request.body))
    }
}
