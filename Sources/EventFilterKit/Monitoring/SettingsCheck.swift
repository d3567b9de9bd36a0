import Foundation

/// `eventfilter check`: everything in an installation's settings that would make a run do the
/// wrong thing, as `file:line: problem` findings. Errors stop `run` (it marks nothing handled
/// under settings that would mail nobody); warnings (an unknown key, most often a typo) are
/// printed by `check` and reported once by `run`.
///
///     for finding in SettingsCheck(root: root, settings: Settings(root: root)).findings() {
///         print(finding)   // settings/site.ini:12: unknown key ActiveExtension in [ExtensionSettings]
///     }
public final class SettingsCheck {
    /// One problem: `settings/site.ini:13: [MailSettings] MaxConnections must be 1-64, got 100`.
    ///
    ///     let errors = findings.filter { $0.severity == .error }
    public struct Finding: Sendable, Equatable, CustomStringConvertible {
        public enum Severity: Sendable { case error, warning }
        public let severity: Severity
        /// `file:line` or `file`, relative to the root.
        public let place: String
        public let message: String

        /// `place: message`, or the message alone when it names its setting itself (an SMTP
        /// configuration problem says which key to change).
        public var description: String { place.isEmpty ? message : "\(place): \(message)" }
    }

    let root: URL
    let settings: Settings
    private var findings_: [Finding] = []

    public init(root: URL, settings: Settings) {
        self.root = root
        self.settings = settings
    }

    /// The errors alone, as one line each: what makes `run` refuse to start.
    public func errors() -> [String] {
        findings().filter { $0.severity == .error }.map(\.description)
    }

    /// Every finding, errors and warnings in file order per check.
    public func findings() -> [Finding] {
        findings_ = []
        checkEveryFileParses()
        guard !findings_.contains(where: { $0.severity == .error }) else { return findings_ }
        checkRequiredFiles()
        checkExtensions()
        checkKeys()
        checkValues()
        checkHandlers()
        checkTemplates()
        return findings_
    }

    /// A problem two checks find (a malformed line, by the parse of its file and again by a loader
    /// that reads it) is listed once.
    private func addError(_ place: String, _ message: String) {
        let finding = Finding(severity: .error, place: place, message: message)
        if !findings_.contains(finding) { findings_.append(finding) }
    }

    private func addWarning(_ place: String, _ message: String) {
        let finding = Finding(severity: .warning, place: place, message: message)
        if !findings_.contains(finding) { findings_.append(finding) }
    }

    /// An error thrown by a loader, split into its place and message when it has one.
    private func record(_ thrown: Error, default place: String) {
        if let settingsError = thrown as? SettingsError {
            addError(settingsError.line.map { "\(settingsError.file):\($0)" } ?? settingsError.file, settingsError.message)
        } else if let located = locate("\(thrown)") ?? Self.splitPlace("\(thrown)") ?? locateTrailingKey("\(thrown)") {
            addError(located.place, located.message)
        } else if thrown is EventFilterError {
            addError(place, "\(thrown)")
        } else {
            addError("", "\(thrown)")
        }
    }

    /// `path:line: message` (what HandlerRegistry and templates say) into its place and message.
    static func splitPlace(_ text: String) -> (place: String, message: String)? {
        guard let separator = text.range(of: ": ") else { return nil }
        let place = text[..<separator.lowerBound]
        guard let colon = place.lastIndex(of: ":"), !place[place.index(after: colon)...].isEmpty,
              place[place.index(after: colon)...].allSatisfy(\.isNumber), !place.contains(" ") else { return nil }
        return (String(place), String(text[separator.upperBound...]))
    }

    /// Loaders name a setting as `site.ini [MailSettings] MaxConnections ...`; that setting's
    /// file and line make the finding actionable.
    private func locate(_ message: String) -> (place: String, message: String)? {
        let words = message.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
        guard words.count == 4, words[0].hasSuffix(".ini"), words[1].hasPrefix("["), words[1].hasSuffix("]") else { return nil }
        let block = String(words[1].dropFirst().dropLast())
        let key = String(words[2].prefix { $0 != "=" && $0 != ":" })
        guard let file = try? settings.file(words[0]), let origin = file.origin(block, key) else { return nil }
        return (origin.description, message.hasPrefix(words[0] + " ") ? String(message.dropFirst(words[0].count + 1)) : message)
    }

    /// The SMTP settings' errors end with the site.ini key that holds the mistake, as
    /// `SMTP port 99999 is not between 1 and 65535 (TransportPort)`: that key's line.
    private func locateTrailingKey(_ message: String) -> (place: String, message: String)? {
        guard message.hasSuffix(")"), let open = message.lastIndex(of: "(") else { return nil }
        let key = String(message[message.index(after: open)..<message.index(before: message.endIndex)])
        guard SettingsSchema.known["site.ini"]?["MailSettings"]?.contains(key) == true,
              let origin = (try? settings.file("site.ini"))?.origin("MailSettings", key) else { return nil }
        return (origin.description, message)
    }

    // MARK: The checks

    /// Each file on its own, so every malformed line is listed, not just the first.
    private func checkEveryFileParses() {
        var directories = ["settings", "settings/override"]
        if let extensions = try? settings.activeExtensions() {
            directories += extensions.map { "extension/\($0)/settings" }
        }
        for directory in directories {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(directory).path)) ?? []
            for name in names.sorted() where name.hasSuffix(".ini") || name.hasSuffix(".ini.append.php") || name.hasSuffix(".ini.append") {
                let relative = "\(directory)/\(name)"
                guard let data = FileManager.default.contents(atPath: root.appendingPathComponent(relative).path) else {
                    addError(relative, "cannot read")
                    continue
                }
                var document = INIDocument()
                do { try INIParser.parse(data, file: relative, into: &document) } catch { record(error, default: relative) }
            }
        }
        do { _ = try settings.activeExtensions() } catch { record(error, default: "settings/site.ini") }
    }

    /// site.ini and notification.ini must exist and say something: without them a run would
    /// mark every event handled and mail nobody.
    private func checkRequiredFiles() {
        for name in ["site.ini", "notification.ini"] {
            guard let file = try? settings.file(name) else { continue }
            if file.files.isEmpty {
                addError("settings/\(name)", "missing: a run needs it")
            } else if file.blockNames.allSatisfy({ file.keys($0).isEmpty }) {
                addError(file.files.first!, "has no settings: a run needs it")
            }
        }
    }

    private func checkExtensions() {
        guard let site = try? settings.file("site.ini") else { return }
        for (name, origin) in site.arrayWithOrigins("ExtensionSettings", "ActiveExtensions") where !name.isEmpty {
            var isDirectory: ObjCBool = false
            let path = root.appendingPathComponent("extension/\(name)").path
            if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) || !isDirectory.boolValue {
                // A warning: the run works without it, but a typo here silently drops an extension's settings.
                addWarning(origin.description, "ActiveExtensions[] names extension '\(name)', but there is no directory extension/\(name)")
            }
        }
    }

    /// Unknown keys and blocks: a typo means a setting silently not applied.
    private func checkKeys() {
        for name in SettingsSchema.files {
            guard let blocks = SettingsSchema.known[name], let file = try? settings.file(name) else { continue }
            for block in file.blockNames where !SettingsSchema.isCheckedByLoader(block: block, of: name) {
                let keys = file.keys(block)
                guard let known = SettingsSchema.keys(in: block, of: name, blocks: blocks) else {
                    // A block a letter away from one eventfilter reads is a typo even in a file shared
                    // with eZ Publish ([MailSetting]): its settings would silently not apply. (Two
                    // letters would take eZ's own [FileSettings] for [SiteSettings].)
                    let open = SettingsSchema.openFiles.contains(name)
                    let near = blocks.keys.filter { Self.editDistance($0, block) <= (open ? 1 : 2) }.sorted()
                    if !open || !near.isEmpty, let key = keys.first, let origin = file.origin(block, key) {
                        let hint = near.isEmpty ? "" : " (did you mean \(near.map { "[\($0)]" }.joined(separator: " or "))?)"
                        addWarning(origin.description, "unknown block [\(block)] in \(name)\(hint)")
                    }
                    continue
                }
                for key in keys where !known.contains(key) {
                    let place = file.origin(block, key)?.description ?? name
                    let elsewhere = blocks.filter { $0.value.contains(key) }.map { "[\($0.key)]" }.sorted()
                    let near = known.filter { Self.editDistance($0, key) <= 2 }.sorted()
                    let hint = !elsewhere.isEmpty ? " (it belongs in \(elsewhere.joined(separator: ", ")))"
                        : !near.isEmpty ? " (did you mean \(near.joined(separator: " or "))?)" : ""
                    addWarning(place, "unknown key \(key) in [\(block)]\(hint)")
                }
            }
        }
    }

    /// The values, through the same loaders a run uses.
    private func checkValues() {
        do { _ = try SiteConfiguration.load(settings) } catch { record(error, default: "settings/site.ini") }
        do { _ = try MonitorSettings.load(settings) } catch { record(error, default: "settings/notification.ini") }
        do { _ = try TransportFactory.validate(settings: settings, root: root) } catch { record(error, default: "settings/site.ini") }
        do { _ = try StoreLocation.configured(settings: settings) } catch { record(error, default: "settings/site.ini") }
        checkSendmailProgram()
        if let webhooks = try? settings.file(WebhookSources.fileName), !webhooks.files.isEmpty {
            do {
                _ = try WebhookSources.load(settings: settings)
                _ = try WebhookSources.bodyLimit(settings: settings)
            } catch { record(error, default: "settings/webhooks.ini") }
        }
    }

    private func checkHandlers() {
        do {
            let handlers = try HandlerRegistry.describe(settings: settings, root: root)
            for handler in handlers where handler.location != "built-in" {
                checkInterpreter(of: handler.location)
            }
            // An empty or missing notification.ini is reported already, as such.
            if handlers.isEmpty, let notification = try? settings.file("notification.ini"), !notification.files.isEmpty,
               !notification.blockNames.allSatisfy({ notification.keys($0).isEmpty }) {
                let place = notification.origin("NotificationEventHandlerSettings", "AvailableNotificationEventTypes")?.description
                    ?? notification.files.last!
                addError(place, "no handlers: [NotificationEventHandlerSettings] AvailableNotificationEventTypes[] lists none, so events would go to nobody")
            }
        } catch {
            record(error, default: "settings/notification.ini")
        }
    }

    /// With `Transport=sendmail`, a program that is not there defers every message until the
    /// queue gives up: a warning, since the run itself works (and the program may be installed yet).
    private func checkSendmailProgram() {
        guard let site = try? settings.file("site.ini"),
              site.string("MailSettings", "Transport")?.trimmingCharacters(in: .whitespaces).lowercased() == "sendmail" else { return }
        let configured = site.string("MailSettings", "SendmailPath")?.trimmingCharacters(in: .whitespaces) ?? ""
        let path = configured.isEmpty ? "/usr/sbin/sendmail" : configured
        guard !FileManager.default.isExecutableFile(atPath: path) else { return }
        let place = site.origin("MailSettings", configured.isEmpty ? "Transport" : "SendmailPath")?.description ?? "settings/site.ini"
        addWarning(place, "[MailSettings] SendmailPath \(path) does not exist or is not executable: every message would be deferred")
    }

    /// A script's `#!` line must name an interpreter that exists, or every run fails to start it.
    /// A warning: the run goes on, and the handler's failure is reported like any other.
    private func checkInterpreter(of relativePath: String) {
        guard let handle = FileHandle(forReadingAtPath: root.appendingPathComponent(relativePath).path) else { return }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 512)) ?? Data()
        guard head.starts(with: Data("#!".utf8)) else { return }
        let line = String(decoding: head.dropFirst(2).prefix { $0 != 10 }, as: UTF8.self)
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let interpreter = words.first else {
            return addWarning("\(relativePath):1", "the #! line names no interpreter")
        }
        if (interpreter as NSString).lastPathComponent == "env", let program = words.dropFirst().first(where: { !$0.hasPrefix("-") }) {
            let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
            let found = program.contains("/") ? FileManager.default.isExecutableFile(atPath: program)
                : path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(program)") }
            if !found { addWarning("\(relativePath):1", "the #! line runs \(program), which is not in PATH (\(path))") }
        } else if !FileManager.default.isExecutableFile(atPath: interpreter) {
            addWarning("\(relativePath):1", "the #! line names \(interpreter), which does not exist or is not executable")
        }
    }

    /// Template overrides in active extensions: each must be a subject or body file and parse.
    private func checkTemplates() {
        guard let extensions = try? settings.activeExtensions() else { return }
        for ext in extensions {
            let directory = "extension/\(ext)/templates"
            guard let enumerator = FileManager.default.enumerator(atPath: root.appendingPathComponent(directory).path) else { continue }
            var files: [String] = []
            while let next = enumerator.nextObject() as? String { files.append(next) }
            for relative in files.sorted() {
                let path = "\(directory)/\(relative)"
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: root.appendingPathComponent(path).path, isDirectory: &isDirectory),
                      !isDirectory.boolValue else { continue }
                let file = (relative as NSString).lastPathComponent
                guard SettingsSchema.templateFiles.contains(file) else {
                    addWarning(path, "not a template eventfilter reads (expected \(SettingsSchema.templateFiles.sorted().joined(separator: ", ")))")
                    continue
                }
                guard let data = FileManager.default.contents(atPath: root.appendingPathComponent(path).path),
                      let source = String(data: data, encoding: .utf8) else {
                    addError(path, "cannot read the template as UTF-8")
                    continue
                }
                do { _ = try Template(source: source, name: path) } catch {
                    let text = "\(error)"
                    if let located = Self.splitPlace(text) {
                        addError(located.place, located.message)
                    } else {
                        addError(path, text.hasPrefix(path + ": ") ? String(text.dropFirst(path.count + 2)) : text)
                    }
                }
            }
        }
    }

    /// Levenshtein distance, for "did you mean" on short setting names.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.lowercased()), b = Array(b.lowercased())
        guard !a.isEmpty else { return b.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where j <= b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
