import Foundation

/// Resolves notification.ini's handler list into handlers, in processing order, like eZ's
/// `eZNotificationEventFilter::availableHandlers()`, but a name that resolves to nothing is a
/// settings error instead of a line in a debug log.
///
///     let plan = try HandlerRegistry.plan(settings: settings, root: root)
public enum HandlerRegistry {
    public struct Resolved: Sendable {
        public let name: String
        /// "built-in" or the executable's path relative to the root.
        public let location: String
        /// The notification.ini line that listed it.
        public let listedAt: SettingOrigin
    }

    static let block = "NotificationEventHandlerSettings"
    static let builtInNames = ["ezsubtree", "ezcollaborationnotification", "ezgeneraldigest"]

    /// The handlers with where each was found, for `eventfilter handlers`.
    public static func describe(settings: Settings, root: URL) throws -> [Resolved] {
        try entries(settings: settings, root: root).map { Resolved(name: $0.name, location: $0.location, listedAt: $0.origin) }
    }

    /// What a run does with notification.ini's list: the handlers, and whether the digest stage
    /// runs (`ezgeneraldigest`, a name eZ's stock notification.ini lists, turns it on).
    ///
    ///     let plan = try HandlerRegistry.plan(settings: settings, root: root)
    ///     for name in plan.names { print(name, plan.handler(named: name)?.origin ?? "the digest stage") }
    struct Plan {
        /// Every listed name, in processing order: the order of the handlers and of digest sections.
        let names: [String]
        /// The handlers, in processing order (the digest stage is not one).
        let handlers: [EventHandler]
        /// True when the digest stage runs on each tick.
        let digests: Bool

        func handler(named name: String) -> EventHandler? {
            handlers.first { $0.name == name }
        }
    }

    static func plan(settings: Settings, root: URL) throws -> Plan {
        let entries = try entries(settings: settings, root: root)
        let handlers = entries.compactMap { entry -> EventHandler? in
            switch entry.name {
            case SubtreeHandler.handlerName: return SubtreeHandler()
            case "ezcollaborationnotification": return CollaborationHandler()
            case DigestRun.handlerName: return nil
            default: return ExternalHandler(name: entry.name, executable: entry.executable!, root: root)
            }
        }
        return Plan(names: entries.map(\.name), handlers: handlers, digests: entries.contains { $0.name == DigestRun.handlerName })
    }

    private struct Entry {
        let name: String
        let location: String
        let executable: URL?
        let origin: SettingOrigin
    }

    private static func entries(settings: Settings, root: URL) throws -> [Entry] {
        let notification = try settings.file("notification.ini")
        let listed = notification.arrayWithOrigins(block, "AvailableNotificationEventTypes")
        var seen = Set<String>()
        var entries: [Entry] = []
        for (name, origin) in listed {
            guard seen.insert(name).inserted else { continue }  // listed twice (say, in an override): run once
            if builtInNames.contains(name) {
                entries.append(Entry(name: name, location: "built-in", executable: nil, origin: origin))
                continue
            }
            guard Names.isName(name, allowingDot: false) else {
                throw EventFilterError.failure("\(origin): handler name '\(name)' may only have letters, digits, '_' and '-'")
            }
            var candidates: [String] = []
            for directory in notification.array(block, "RepositoryDirectories") where !directory.isEmpty {
                candidates.append(directory.hasSuffix("/") ? directory : directory + "/")
            }
            for ext in notification.array(block, "ExtensionDirectories") where !ext.isEmpty {
                candidates.append("extension/\(ext)/notification/handler/")
            }
            let found = candidates.lazy.map { "\($0)\(name)/\(name)handler" }.first {
                FileManager.default.isExecutableFile(atPath: root.appendingPathComponent($0).path)
            }
            guard let found else {
                let looked = candidates.isEmpty ? "no RepositoryDirectories[] or ExtensionDirectories[] are set"
                    : "looked for " + candidates.map { "\($0)\(name)/\(name)handler" }.joined(separator: ", ")
                throw EventFilterError.failure("\(origin): unknown handler '\(name)': not built in and no executable found (\(looked))")
            }
            entries.append(Entry(name: name, location: found, executable: root.appendingPathComponent(found), origin: origin))
        }
        return entries
    }
}
