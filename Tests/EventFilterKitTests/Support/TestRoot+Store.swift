import Foundation
import XCTest

/// Reading and changing the store behind the program's back, the same way on either backend:
/// the SQL goes through the `sqlite3` or `psql` command-line client, never through the code under
/// test. Write the SQL portably (the table `"user"` quoted, no SQLite-only functions).
///
///     XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox WHERE state = 'sent'"), 2)
///     let before = try root.dump()
///     ...
///     XCTAssertEqual(try root.dump(), before, "a refused command changes nothing")
extension TestRoot {
    /// NULL, as the clients print it.
    static let null = "NULL"

    /// A failed query, with the client's message.
    struct QueryError: Error, CustomStringConvertible {
        let description: String
    }

    var databasePath: String { url.appendingPathComponent("var/eventfilter.db").path }

    /// The rows of a query, each a list of its values as text (NULL as `TestRoot.null`; a
    /// PostgreSQL boolean as `t` or `f`).
    func rows(_ sql: String) throws -> [[String]] {
        let unit = "\u{1f}", record = "\u{1e}"
        let output: String
        if let postgres {
            output = try Self.client(postgres.server.binDirectory.appendingPathComponent("psql").path,
                                     ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-P", "null=\(Self.null)",
                                      "-F", unit, "-R", record, "-d", postgres.connectionString, "-c", sql])
        } else {
            guard FileManager.default.fileExists(atPath: databasePath) else {
                throw QueryError(description: "no store at \(databasePath) for: \(sql)")
            }
            output = try Self.client("/usr/bin/sqlite3", ["-readonly", "-batch", "-noheader", "-nullvalue", Self.null,
                                                          "-separator", unit, "-newline", record, databasePath, sql])
        }
        // psql ends the output with a newline instead of the last record separator.
        let trimmed = output.hasSuffix("\n") ? String(output.dropLast()) : output
        return trimmed.split(separator: Character(record), omittingEmptySubsequences: false)
            .filter { !$0.isEmpty }
            .map { $0.split(separator: Character(unit), omittingEmptySubsequences: false).map(String.init) }
    }

    /// The first value of the first row as a number (a boolean as 1 or 0, as SQLite stores it);
    /// -1 when there is no row or the value is not a number.
    func scalar(_ sql: String) throws -> Int {
        guard let value = try rows(sql).first?.first else { return -1 }
        switch value {
        case "t": return 1
        case "f": return 0
        default: return Int(value) ?? -1
        }
    }

    /// The first column of a query's rows, one per line.
    func text(_ sql: String) throws -> String {
        try rows(sql).map { $0.first ?? "" }.joined(separator: "\n")
    }

    /// SQL giving the bytes of `expression` (a BLOB or bytea column) in hex, on this backend.
    func hexSQL(_ expression: String) -> String {
        postgres != nil ? "encode(\(expression), 'hex')" : "hex(\(expression))"
    }

    /// The first column of a query's rows, each parsed as a JSON object (the events' `params`).
    func jsonObjects(_ sql: String) throws -> [[String: Any]] {
        try rows(sql).map { row in
            let object = try JSONSerialization.jsonObject(with: Data((row.first ?? "").utf8))
            guard let dictionary = object as? [String: Any] else {
                throw QueryError(description: "not a JSON object: \(row.first ?? "")")
            }
            return dictionary
        }
    }

    /// Changes the store behind the program's back (a damaged or hand-edited row), committed.
    func execute(_ sql: String, file: StaticString = #filePath, line: UInt = #line) throws {
        if let postgres {
            try Self.client(postgres.server.binDirectory.appendingPathComponent("psql").path,
                            ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", postgres.connectionString, "-c", sql])
        } else {
            try Self.client("/usr/bin/sqlite3", ["-batch", databasePath, sql])
        }
    }

    /// Makes every `operation` (`INSERT`, `UPDATE`) on `table` fail, for the rows matching
    /// `condition` (SQL on `NEW`) if given, as a full disk or a broken store would: a trigger
    /// named `broken`, until `repairWrites(on:)`.
    ///
    ///     try root.breakWrites("INSERT", on: "event", when: "NEW.type = 'kaltura.entry_delete'")
    func breakWrites(_ operation: String, on table: String, when condition: String? = nil) throws {
        try execute(BrokenWrites.breaking(operation, on: table, when: condition, postgres: postgres != nil))
    }

    /// Removes what `breakWrites` made.
    func repairWrites(on table: String) throws {
        try execute(BrokenWrites.repairing(on: table, postgres: postgres != nil))
    }

    /// Every row of every table, by table and column names, rows sorted: equal before and after
    /// a refused command means nothing changed. "no store" while there is no table (no file).
    /// Counters that a rolled-back insert may still advance (PostgreSQL's sequences, SQLite's
    /// sqlite_sequence) are left out: no one sees them; so are the tables in `except`.
    func dump(except: Set<String> = []) throws -> String {
        let columnsSQL: String
        if postgres != nil {
            columnsSQL = """
                SELECT c.table_name, c.column_name FROM information_schema.columns c
                JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
                WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
                ORDER BY c.table_name, c.ordinal_position
                """
        } else {
            guard FileManager.default.fileExists(atPath: databasePath) else { return "no store" }
            columnsSQL = """
                SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
                WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
                ORDER BY m.name, p.cid
                """
        }
        var tables: [(name: String, columns: [String])] = []
        for row in try rows(columnsSQL) where row.count == 2 && !except.contains(row[0]) {
            if tables.last?.name == row[0] { tables[tables.count - 1].columns.append(row[1]) } else { tables.append((row[0], [row[1]])) }
        }
        guard !tables.isEmpty else { return "no store" }
        // One query for all rows (a client started per table would make every dump slow): each
        // row as one line of text, its values joined by " | ", NULL as NULL, bytes in hex.
        let selects = tables.map { table in
            let values = table.columns.map { column in
                let value = postgres != nil ? "\"\(column)\"::text"
                    : "CASE typeof(\"\(column)\") WHEN 'blob' THEN 'x' || hex(\"\(column)\") ELSE \"\(column)\" END"
                return "coalesce(\(value), '\(Self.null)')"
            }.joined(separator: " || ' | ' || ")
            return "SELECT '\(table.name)', \(values) FROM \"\(table.name)\""
        }
        var rowsByTable: [String: [String]] = [:]
        for row in try rows(selects.joined(separator: " UNION ALL ")) where row.count == 2 {
            rowsByTable[row[0], default: []].append("  " + row[1])
        }
        var lines: [String] = []
        for table in tables {
            lines.append("\(table.name)(\(table.columns.joined(separator: ", ")))")
            // Sorted here: PostgreSQL cannot order some types (json), and row order is no change.
            lines += (rowsByTable[table.name] ?? []).sorted()
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A command line that prints every row of the store (for scripts that check "nothing
    /// changed" themselves): `sqlite3 .dump`, or `pg_dump` of the rows.
    var dumpCommand: [String] {
        if let postgres {
            // A fixed key for psql's \restrict line, which pg_dump otherwise makes anew each time
            // (so two dumps of the same rows would differ).
            return [postgres.server.binDirectory.appendingPathComponent("pg_dump").path, "--data-only", "--no-owner",
                    "--no-privileges", "--restrict-key=eventfiltertests", "-d", postgres.connectionString]
        }
        return ["/usr/bin/sqlite3", "-readonly", databasePath, ".dump"]
    }

    /// Runs a database client; its stdout. Throws with its stderr when it fails.
    @discardableResult
    static func client(_ program: String, _ arguments: [String]) throws -> String {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ef-sql-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outURL = scratch.appendingPathComponent("out"), errURL = scratch.appendingPathComponent("err")
        try Data().write(to: outURL)
        try Data().write(to: errURL)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        try process.run()
        process.waitUntilExit()
        let output = try String(contentsOf: outURL, encoding: .utf8)
        guard process.terminationStatus == 0 else {
            let message = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
            throw QueryError(description: "\((program as NSString).lastPathComponent) failed (exit \(process.terminationStatus)): \(message.trimmingCharacters(in: .whitespacesAndNewlines)); SQL: \(arguments.last ?? "")")
        }
        return output
    }
}
