import EventFilterKit
import Foundation

struct DatabaseMigrateCommand: Command {
    static let words = ["db", "migrate"]
    static let abstract = "Bring the store's schema up to this version of eventfilter, and say what was done."
    static let discussion = """
        Works on the store site.ini's [DatabaseSettings] selects (SQLite's var/eventfilter.db, or
        PostgreSQL). Every writing command migrates too; this one does it at a moment you choose.
        """

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        try context.requireInstallation()
        Output.line(try SchemaMigration.apply(try StoreLocation.configured(root: context.root)).summary)
    }
}

struct DatabaseCopyCommand: Command {
    static let words = ["db", "copy"]
    static let abstract = "Copy the SQLite store (var/eventfilter.db) into an empty PostgreSQL database, or back."
    static let to = Option("to", value: "CONNECTION",
                           help: "the PostgreSQL database: a libpq connection string or postgresql:// URI "
                               + "(default: EVENTFILTER_DATABASE, else site.ini's ConnectionString)",
                           parse: ValueParser.string)
    static let from = Option("from", value: "CONNECTION",
                             help: "the other way: copy the PostgreSQL store into a new var/eventfilter.db, which must not exist",
                             parse: ValueParser.string)
    static let parameters: [any Parameter] = [to, from]
    static let exclusive = [ExclusiveGroup([to, from])]
    static let discussion = """
        Every table and row, ids kept, in one transaction; the target must have no tables at all.
        Stop cron and intake first, then set [DatabaseSettings] Backend=postgresql. With --from,
        the PostgreSQL store becomes a new var/eventfilter.db (then set Backend=sqlite).
        """

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        try context.requireInstallation()
        if let source = arguments[from] {
            return Output.line(try StoreCopy.postgreSQLToSQLite(from: source, path: StoreLocation.sqlitePath(root: context.root)).summary)
        }
        guard let target = try arguments[to] ?? StoreLocation.configuredConnectionString(root: context.root) else {
            throw EventFilterError.usage(
                "db copy needs the target: --to CONNECTION, \(StoreLocation.environmentVariable), or site.ini [DatabaseSettings] ConnectionString")
        }
        let copy = try StoreCopy.sqliteToPostgreSQL(path: StoreLocation.sqlitePath(root: context.root), to: target)
        Output.line(copy.summary)
    }
}
