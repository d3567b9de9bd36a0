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

    public static func configured(root: URL, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> StoreLocation {
        let site = try Settings(root: root).file("site.ini")
        let backend = site.string("DatabaseSettings", "Backend")?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        switch backend {
        case "", "sqlite":
            return .sqlite(path: root.appendingPathComponent("var/eventfilter.db").path)
        case "postgresql":
            let fromEnvironment = environment[environmentVariable].flatMap { $0.isEmpty ? nil : $0 }
            let fromFile = site.string("DatabaseSettings", "ConnectionString").flatMap { $0.isEmpty ? nil : $0 }
            guard let connectionString = fromEnvironment ?? fromFile else {
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
