import EventFilterKit
import Foundation

struct BackupCommand: Command {
    static let words = ["backup"]
    static let abstract = "Write a consistent copy of the store to FILE while runs and intake go on writing."
    static let file = Argument("FILE", help: "the copy to create; it must not exist yet", parse: ValueParser.path)
    static let parameters: [any Parameter] = [file]
    static let discussion = """
        Uses SQLite's online backup API: one snapshot, however busy the store. The copy is one
        self-contained database file; restore it with every writer stopped (see README.md, Backups).
        Never copy var/eventfilter.db with cp: committed data waits in eventfilter.db-wal.
        A PostgreSQL store is copied the same way, one snapshot written as an SQLite store file
        (load it into PostgreSQL again with db copy --to).
        """

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let destination = arguments[file]
        // Elsewhere '-' means standard input; a copy named '-' in the current directory would surprise.
        guard destination != "-" else { throw EventFilterError.usage("FILE: '-' is not a file name; give the path of the copy") }
        // A copy is taken of the store as it is: a backup before an upgrade must be the old store.
        let size = try context.store(.existing).backup(to: destination)
        Output.line("backed up the store to \(destination) (\(size) bytes)")
    }
}
