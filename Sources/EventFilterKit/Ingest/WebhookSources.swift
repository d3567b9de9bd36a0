/// The webhook sources of `settings/webhooks.ini`, read strictly: a source that could never
/// verify a request is a settings error at once, not a stream of 500 answers later.
///
///     [WebhookSettings]
///     BodyLimit=1048576
///
///     [Source-panda]
///     Type=panda
///     Secret=change-me-panda-token
///     Path=/videos/
///
///     let settings = Settings(root: root)
///     let sources = try WebhookSources.load(settings: settings)     // ["panda": WebhookSource(...)]
///     let limit = try WebhookSources.bodyLimit(settings: settings)   // 1048576
///
/// Keys of a `[Source-NAME]` block: `Type` (required: kaltura, kaltura-http, panda, enablex,
/// standard), `Secret` (required), `Path` (default `/NAME/`), `ReminderLead` (seconds, default
/// 900), `MailProgress` (Panda, default disabled), `Tolerance` (Standard Webhooks, seconds,
/// default 300), `TypeField` (Standard Webhooks, the payload's type field, default `type`), and the
/// watch link of the source's type: `EntryURL` (Kaltura: `{entry_id}`, `{partner_id}`), `VideoURL`
/// (Panda: `{video_id}`), `RecordingURL` (EnableX: `{app_id}`, `{room_id}`, `{conf_num}`). An unknown key is refused, so a misspelt `Secert=` does not go unnoticed.
public enum WebhookSources {
    public static let fileName = "webhooks.ini"
    public static let sourcePrefix = "Source-"
    public static let defaultBodyLimit = 1 << 20

    /// Path names that are not sources: `/unsubscribe/<token>` is the one-click unsubscribe.
    public static let reservedNames: Set<String> = ["unsubscribe"]

    private static let knownKeys: Set<String> = [
        "Type", "Secret", "Path", "ReminderLead", "MailProgress", "Tolerance", "TypeField", "EntryURL", "VideoURL",
        "RecordingURL",
    ]

    /// Every `[Source-NAME]` block, by NAME. Throws a `SettingsError` naming the file and line
    /// (or the block) of the first problem; its message never contains a secret.
    public static func load(settings: Settings) throws -> [String: WebhookSource] {
        let file = try settings.file(fileName)
        var sources: [String: WebhookSource] = [:]
        for block in file.blockNames where block.hasPrefix(sourcePrefix) {
            let source = try source(block: block, in: file)
            sources[source.name] = source
        }
        return sources
    }

    /// `[WebhookSettings] BodyLimit`: the largest request body accepted, in bytes (default 1 MiB).
    public static func bodyLimit(settings: Settings) throws -> Int {
        let file = try settings.file(fileName)
        guard let limit = try file.int("WebhookSettings", "BodyLimit") else { return defaultBodyLimit }
        guard limit > 0, limit <= 1 << 30 else {
            throw error(file, "WebhookSettings", "BodyLimit", "[WebhookSettings] BodyLimit must be between 1 and 1073741824 bytes")
        }
        return limit
    }

    private static func source(block: String, in file: SettingsFile) throws -> WebhookSource {
        let name = String(block.dropFirst(sourcePrefix.count))
        func fail(_ key: String?, _ message: String) -> SettingsError {
            error(file, block, key, "[\(block)] \(message)")
        }
        guard Names.isName(name, allowingDot: false) else {
            throw fail(nil, "the source name may only use letters, digits, '_' and '-'")
        }
        guard !reservedNames.contains(name.lowercased()) else {
            throw fail(nil, "'\(name)' is reserved for one-click unsubscribe links; choose another source name")
        }
        if let unknown = file.keys(block).first(where: { !knownKeys.contains($0) }) {
            throw fail(unknown, "unknown key \(unknown); expected one of \(knownKeys.sorted().joined(separator: ", "))")
        }

        guard let typeText = file.string(block, "Type").map(IngestText.trim), !typeText.isEmpty else {
            throw fail("Type", "Type is missing; use one of \(typeList)")
        }
        guard let type = WebhookSourceType(rawValue: typeText.lowercased()) else {
            throw fail("Type", "Type=\(IngestText.quoted(typeText)) is not one of \(typeList)")
        }
        // Surrounding blanks in a secret are a copy-and-paste accident, never part of the secret.
        guard let secret = file.string(block, "Secret").map(IngestText.trim), !secret.isEmpty else {
            throw fail("Secret", "Secret is empty: give the \(secretMeaning(type))")
        }
        let path = file.string(block, "Path").map(IngestText.trim).flatMap { $0.isEmpty ? nil : $0 }
        let lead = try file.int(block, "ReminderLead") ?? 900
        let tolerance = try file.int(block, "Tolerance") ?? 300
        let mailProgress = try file.bool(block, "MailProgress", default: false)
        let typeField = file.string(block, "TypeField").map(IngestText.trim).flatMap { $0.isEmpty ? nil : $0 } ?? "type"

        var source = WebhookSource(
            name: name, type: type, secret: secret, pathPrefix: path, reminderLead: Int64(lead),
            mailProgress: mailProgress, toleranceSeconds: Int64(tolerance), typeField: typeField)
        if let problem = source.configurationProblem {
            throw fail(keyOf(problem), problem)
        }
        let linkKey = WebhookSource.watchLinkKey(type)
        for key in ["EntryURL", "VideoURL", "RecordingURL"] where key != linkKey?.key {
            if file.string(block, key) != nil {
                throw fail(key, "\(key) does not apply to Type=\(type.rawValue)\(linkKey.map { "; use \($0.key)" } ?? "")")
            }
        }
        if let linkKey, let text = file.string(block, linkKey.key).map(IngestText.trim), !text.isEmpty {
            do {
                source.watchLink = try LinkTemplate(text, placeholders: linkKey.placeholders)
            } catch let error as LinkTemplateError {
                throw fail(linkKey.key, "\(linkKey.key) \(error.reason)")
            }
        }
        return source
    }

    private static var typeList: String {
        WebhookSourceType.allCases.map(\.rawValue).joined(separator: ", ")
    }

    private static func secretMeaning(_ type: WebhookSourceType) -> String {
        switch type {
        case .kaltura: return "partner's admin secret"
        case .kalturaHTTP: return "secret the HTTP notification template signs with"
        case .panda: return "token the notification URL carries as ?token=..."
        case .enablex: return "HTTP Authentication user:password set in the EnableX project"
        case .standard: return "whsec_... signing secret"
        }
    }

    /// The key a configuration problem is about, so the error can point at its line.
    private static func keyOf(_ problem: String) -> String? {
        ["Secret", "Path", "ReminderLead", "TypeField"].first { problem.hasPrefix($0) } ?? (problem.contains("tolerance") ? "Tolerance" : nil)
    }

    /// An error at the line that set `key`, else at the block's earliest key, else naming the file.
    private static func error(_ file: SettingsFile, _ block: String, _ key: String?, _ message: String) -> SettingsError {
        let origin = key.flatMap { file.origin(block, $0) }
            ?? file.keys(block).compactMap { file.origin(block, $0) }.min { $0.line < $1.line }
        if let origin { return SettingsError(at: origin, message) }
        return SettingsError(file: file.files.last ?? "settings/\(fileName)", line: nil, message: message)
    }
}
