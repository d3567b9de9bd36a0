import Foundation

/// The settings of one installation, read the way eZ Publish reads them, and cached for the
/// life of a run (settings do not change under a running job).
///
/// For an INI name `X`, the files are read in this order; a later file replaces scalars and
/// appends to arrays (`Key[]` clears first):
///
/// 1. `settings/X`, then `settings/X.append.php`
/// 2. for each of site.ini's `ActiveExtensions[]`, **last-listed first** (so the first-listed
///    extension wins, as in eZ): `extension/<ext>/settings/X`, `X.append.php`, `X.append`
/// 3. `settings/override/X`, `X.append.php`, `X.append`
///
///     let settings = Settings(root: URL(fileURLWithPath: "/srv/eventfilter"))
///     let site = try settings.file("site.ini")
///     let siteURL = site.string("SiteSettings", "SiteURL") ?? "http://localhost"
///     let handlers = try settings.file("notification.ini")
///         .array("NotificationEventHandlerSettings", "AvailableNotificationEventTypes")
public final class Settings {
    public let root: URL
    private var cache: [String: SettingsFile] = [:]
    private var cachedExtensions: [String]?
    /// site.ini from `settings/` and `settings/override/` alone, read to find the extensions: with
    /// no extension active it is the whole of site.ini, so it is not read a second time.
    private var siteWithoutExtensions: SettingsFile?

    public init(root: URL) {
        self.root = root
    }

    /// The merged view of `name` (`"site.ini"`; `"site"` means the same). A name no file
    /// provides gives an empty `SettingsFile`, so every lookup answers its default.
    public func file(_ name: String) throws -> SettingsFile {
        let iniName = try Self.iniName(name)
        if let cached = cache[iniName] { return cached }
        let extensions = try activeExtensions()
        if iniName == "site.ini", extensions.isEmpty, let siteWithoutExtensions {
            cache[iniName] = siteWithoutExtensions
            return siteWithoutExtensions
        }
        var directories = ["settings/override"]
        directories.insert(contentsOf: extensions.reversed().map { "extension/\($0)/settings" }, at: 0)
        let merged = try read(iniName, base: "settings", overrideDirectories: directories)
        cache[iniName] = merged
        return merged
    }

    /// site.ini's `[ExtensionSettings] ActiveExtensions[]`, in the order listed (duplicates
    /// dropped). Only `settings/` and `settings/override/` are read for it, since the list
    /// decides which extension directories are read at all.
    public func activeExtensions() throws -> [String] {
        if let cachedExtensions { return cachedExtensions }
        let site = try read("site.ini", base: "settings", overrideDirectories: ["settings/override"])
        var names: [String] = []
        for (name, origin) in site.arrayWithOrigins("ExtensionSettings", "ActiveExtensions") {
            guard Self.isPlainName(name) else {
                throw SettingsError(at: origin, "ActiveExtensions[] entry \"\(name.prefix(60))\" is not an extension directory name (letters, digits, '_', '-', '.')")
            }
            if !names.contains(name) { names.append(name) }
        }
        cachedExtensions = names
        siteWithoutExtensions = site
        return names
    }

    // MARK: Reading

    /// Parses every existing candidate into one document, in merge order.
    private func read(_ iniName: String, base: String, overrideDirectories: [String]) throws -> SettingsFile {
        // eZ's order inside an override directory: X, X.append.php, X.append.
        var candidates = ["\(base)/\(iniName)", "\(base)/\(iniName).append.php"]
        for directory in overrideDirectories {
            candidates += ["\(directory)/\(iniName)", "\(directory)/\(iniName).append.php", "\(directory)/\(iniName).append"]
        }
        var document = INIDocument()
        var files: [String] = []
        for relative in candidates {
            guard let data = try contents(of: relative) else { continue }
            try INIParser.parse(data, file: relative, into: &document)
            files.append(relative)
        }
        return SettingsFile(name: iniName, files: files, document: document)
    }

    /// The bytes of a settings file, `nil` when there is none.
    private func contents(of relative: String) throws -> Data? {
        let url = root.appendingPathComponent(relative)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else { return nil }
        if isDirectory.boolValue {
            throw SettingsError(file: relative, line: nil, message: "is a directory, expected a settings file")
        }
        do {
            return try Data(contentsOf: url)
        } catch {
            throw SettingsError(file: relative, line: nil, message: "cannot read: \(error.localizedDescription)")
        }
    }

    private static func iniName(_ name: String) throws -> String {
        let iniName = name.hasSuffix(".ini") ? name : name + ".ini"
        guard isPlainName(iniName) else {
            throw SettingsError(file: name, line: nil, message: "not a settings file name (expected something like notification.ini)")
        }
        return iniName
    }

    /// A single path component that cannot climb out of its directory.
    private static func isPlainName(_ name: String) -> Bool {
        guard !name.isEmpty, !name.hasPrefix(".") else { return false }
        return name.unicodeScalars.allSatisfy { scalar in
            switch scalar {
            case "A"..."Z", "a"..."z", "0"..."9", "_", "-", ".": return true
            default: return false
            }
        }
    }
}
