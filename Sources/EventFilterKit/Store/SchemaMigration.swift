import Foundation

/// `eventfilter db migrate`: brings a store's schema to this eventfilter's version on purpose,
/// and says what it did. (Every writing command migrates too; this one lets an operator do it at a
/// chosen moment, say right after an upgrade, before cron's next run.)
///
///     let done = try SchemaMigration.apply(try StoreLocation.configured(root: root))
///     print(done.summary)    // "migrated var/eventfilter.db from schema version 9 to 11"
public struct SchemaMigration: Sendable, Equatable {
    /// The SQLite file, or the PostgreSQL connection string with its password hidden.
    public let target: String
    /// The version found: 0 for a store that did not exist.
    public let from: Int
    public let to: Int

    public var summary: String {
        if from == to { return "\(target) is up to date (schema version \(to))" }
        if from == 0 { return "created the store in \(target) (schema version \(to))" }
        return "migrated \(target) from schema version \(from) to \(to)"
    }

    public static func apply(_ location: StoreLocation) throws -> SchemaMigration {
        switch location {
        case .sqlite(let path):
            guard FileManager.default.fileExists(atPath: path) else {
                try FileManager.default.createDirectory(
                    at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
                _ = try Store(path: path, access: .readWrite)
                return SchemaMigration(target: path, from: 0, to: Migrations.all.count)
            }
            // Opened as it is first (refusing what is not a store, or a newer one), to learn its version.
            let found = try Store(path: path, access: .existing).db.scalarInt("PRAGMA user_version") ?? 0
            _ = try Store(path: path, access: .readWrite)
            return SchemaMigration(target: path, from: found, to: Migrations.all.count)
        case .postgresql(let connectionString):
            let db = try PostgresDatabase(connectionString: connectionString)
            let (from, to) = try PostgresMigrations.migrate(db)
            return SchemaMigration(target: db.target, from: from, to: to)
        }
    }
}
