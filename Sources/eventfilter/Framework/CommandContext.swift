import EventFilterKit
import Foundation

/// What every command may need, opened on first use.
///
///     let store = try context.store()      // fails with one line when --root is no installation
///     let now = context.now                // --now, else the clock
final class CommandContext {
    let root: URL
    private let nowOverride: Int64?
    private var openedStore: Store?
    private var loadedSettings: Settings?

    init(root: URL, now: Int64?) {
        self.root = root
        self.nowOverride = now
    }

    var now: Int64 { nowOverride ?? Timestamp.now() }

    /// The `--now` given on the command line, if any: passed on to processes this one starts.
    var fixedNow: Int64? { nowOverride }

    /// A root is an installation when it has `settings/`: a mistyped `--root` is an error, not a
    /// new empty store that reports "nothing queued" to a monitoring check.
    func requireInstallation() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.appendingPathComponent("settings").path, isDirectory: &isDirectory),
              isDirectory.boolValue else {
            throw EventFilterError.failure("\(root.path) is not an eventfilter installation: it has no settings/ directory")
        }
    }

    func store(_ access: Store.Access = .readWrite) throws -> Store {
        if let openedStore { return openedStore }
        try requireInstallation()
        // The settings the command reads anyway: site.ini is read once per process.
        let store = try Store(root: root, access: access, settings: try settings())
        openedStore = store
        return store
    }

    func settings() throws -> Settings {
        if let loadedSettings { return loadedSettings }
        try requireInstallation()
        let settings = Settings(root: root)
        loadedSettings = settings
        return settings
    }
}
