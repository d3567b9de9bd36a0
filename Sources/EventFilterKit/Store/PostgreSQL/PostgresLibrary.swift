import CPostgreSQL

/// libpq, opened the first time a PostgreSQL store is used rather than whenever the program starts
/// (the program is not linked against it; see Sources/CPostgreSQL/PostgresLoader.c), so a run on
/// SQLite never loads it.
///
///     try PostgresLibrary.load()   // before the first PQ call
///
/// A missing library is one line: `PostgreSQL error: the PostgreSQL store needs libpq, which could
/// not be loaded: libpq.so.5: cannot open shared object file: No such file or directory`.
enum PostgresLibrary {
    /// Loads libpq once per process; later calls only repeat the first one's answer.
    static func load() throws(PostgresError) {
        if let reason = failure { throw PostgresError(kind: .other, message: reason) }
    }

    /// Why libpq cannot be used, or nil once it is loaded.
    static var failure: String? { cpq_load().map { String(cString: $0) } }
}
