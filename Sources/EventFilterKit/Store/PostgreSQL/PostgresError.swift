/// An error reported by PostgreSQL or by libpq, on one line, with the server's SQLSTATE code when
/// there is one and its backend-neutral meaning.
///
///     do { try db.execute("INSERT INTO account(email) VALUES ($1)", ["ann@example.com"]) }
///     catch let error as PostgresError where error.kind == .uniqueViolation {
///         print(error.sqlState!)   // "23505"
///     }
///
/// The description never includes the server's DETAIL field (it can echo the values of a row,
/// a token among them) or a connection password; both stay out of logs.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    /// What the error means to the caller.
    public let kind: StorageErrorKind
    /// The five-character SQLSTATE ("23505"); nil for errors raised by libpq itself (a refused
    /// connection, a lost socket) or by this wrapper.
    public let sqlState: String?
    /// The primary message, on one line.
    public let message: String
    /// The server's DETAIL field, on one line; kept out of `description`.
    public let detail: String?
    /// The constraint a constraint violation names, when the server reported it.
    public let constraint: String?
    /// The statement that failed (its text only: every value is a bound parameter).
    public let sql: String?

    public init(kind: StorageErrorKind? = nil, sqlState: String? = nil, message: String,
                detail: String? = nil, constraint: String? = nil, sql: String? = nil) {
        self.kind = kind ?? Self.kind(forSQLState: sqlState)
        self.sqlState = sqlState
        self.message = Self.oneLine(message)
        self.detail = detail.map(Self.oneLine)
        self.constraint = constraint
        self.sql = sql
    }

    public var description: String {
        var text = "PostgreSQL error" + (sqlState.map { " \($0)" } ?? "") + ": " + message
        if let sql { text += " (in: \(Self.oneLine(sql).prefix(200)))" }
        return text
    }

    /// The meaning of an SQLSTATE code (PostgreSQL's "Appendix A. Error Codes"): the class is the
    /// first two characters.
    public static func kind(forSQLState sqlState: String?) -> StorageErrorKind {
        guard let sqlState else { return .other }
        switch sqlState {
        case "23505": return .uniqueViolation
        case "40001", "40P01": return .retryable          // serialization_failure, deadlock_detected
        case "53100": return .diskFull                     // disk_full
        // admin_shutdown, crash_shutdown, cannot_connect_now: the server ended this session.
        case "57P01", "57P02", "57P03": return .connectionLost
        // Class 08 is connection exceptions, except a protocol violation, which is a bug here.
        case "08P01": return .other
        default: return sqlState.hasPrefix("08") ? .connectionLost : .other
        }
    }

    /// `text` with every run of whitespace (libpq ends lines with "\n", indents hints with a tab)
    /// made one space, so an error is one line in a log or on stderr.
    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: { $0.isWhitespace || $0.isNewline }).joined(separator: " ")
    }
}
