import Foundation

/// Where an installation keeps its store: site.ini's `[DatabaseSettings]`.
///
///     [DatabaseSettings]
///     Backend=postgresql                       # sqlite (the default) or postgresql
///     ConnectionString=host=/run/postgresql dbname=eventfilter
///
/// The environment variable `EVENTFILTER_DATABASE` replaces `ConnectionString`, so a password
/// need not be written in a file. With SQLite the store is `var/eventfilter.db`.
///
///     switch try StoreLocation.configured(root: root) { case .sqlite(let path): ...; case .postgresql(let target): ... }
public enum StoreLocation: Sendable, Equatable {
    case sqlite(path: String)
    case postgresql(connectionString: String)

    /// The environment variable that overrides `[DatabaseSettings] ConnectionString`.
    public static let environmentVariable = "EVENTFILTER_DATABASE"

    /// The PostgreSQL connection string the installation names, whichever backend it uses now:
    /// `EVENTFILTER_DATABASE`, else `[DatabaseSettings] ConnectionString`; nil when neither is set.
    public static func configuredConnectionString(root: URL, environment: [String: String]? = nil) throws -> String? {
        try configuredConnectionString(settings: Settings(root: root), environment: environment)
    }

    /// The same, from settings already read (a process reads its settings once).
    public static func configuredConnectionString(settings: Settings, environment: [String: String]? = nil) throws -> String? {
        // nil: the process's own environment, this one variable read from it.
        let fromEnvironment = (environment.map { $0[environmentVariable] } ?? EnvironmentVariable.value(environmentVariable))
            .flatMap { $0.isEmpty ? nil : $0 }
        let fromFile = try settings.file("site.ini").string("DatabaseSettings", "ConnectionString").flatMap { $0.isEmpty ? nil : $0 }
        return fromEnvironment ?? fromFile
    }

    /// The SQLite store of an installation: `var/eventfilter.db`.
    public static func sqlitePath(root: URL) -> String {
        root.appendingPathComponent("var/eventfilter.db").path
    }

    public static func configured(root: URL, environment: [String: String]? = nil) throws -> StoreLocation {
        try configured(settings: Settings(root: root), environment: environment)
    }

    /// The same, from settings already read (a process reads its settings once).
    public static func configured(settings: Settings, environment: [String: String]? = nil) throws -> StoreLocation {
        let root = settings.root
        let site = try settings.file("site.ini")
        let backend = site.string("DatabaseSettings", "Backend")?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        switch backend {
        case "", "sqlite":
            return .sqlite(path: sqlitePath(root: root))
        case "postgresql":
            guard let connectionString = try configuredConnectionString(settings: settings, environment: environment) else {
                throw EventFilterError.failure(
                    "site.ini [DatabaseSettings] Backend=postgresql needs ConnectionString= or the environment variable \(environmentVariable)")
            }
            return .postgresql(connectionString: connectionString)
        default:
            throw EventFilterError.failure(
                "site.ini [DatabaseSettings] Backend must be sqlite or postgresql, not '\(Store.printable(backend))'")
        }
    }
}
