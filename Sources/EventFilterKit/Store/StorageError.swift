/// A store error from either backend (`DatabaseError` from SQLite, `PostgresError` from
/// PostgreSQL): what it means and what happened, on one line. Every decision outside the
/// connections reads `kind`, never a backend's result codes, so it holds for both backends.
///
///     do { try write() }
///     catch let error as any StorageError where error.kind == .retryable { /* write again */ }
public protocol StorageError: Error, CustomStringConvertible, Sendable {
    /// What the error means to the caller.
    var kind: StorageErrorKind { get }
    /// The backend's own message, without the statement.
    var message: String { get }
}

extension DatabaseError: StorageError {}
extension PostgresError: StorageError {}
