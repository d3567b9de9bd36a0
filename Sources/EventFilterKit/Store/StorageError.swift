/// A store error from either backend (`DatabaseError` from SQLite, `PostgresError` from
/// PostgreSQL): what it means and what happened, on one line. Every decision outside the
/// connections reads `kind`, never a backend's result codes, so it holds for both backends.
///
///     do { try write() }
///     catch let error as any StorageError where error.kind == .retryable { /* write again */ }
///     catch let error as any StorageError { print(error.report) }   // the operator's one line
public protocol StorageError: Error, CustomStringConvertible, Sendable {
    /// What the error means to the caller.
    var kind: StorageErrorKind { get }
    /// The backend's own message, without the statement.
    var message: String { get }
}

extension DatabaseError: StorageError {}
extension PostgresError: StorageError {}

extension StorageError {
    /// The line an operator reads. A full disk is said in the same words whatever the backend
    /// (the operator does the same thing: free space, run again), followed by the backend's own
    /// description in parentheses; any other error is the backend's description.
    public var report: String {
        switch kind {
        case .diskFull:
            return "the store's disk is full: nothing more can be written until space is freed; "
                + "free space, then run the command again (\(description))"
        case .uniqueViolation, .retryable, .connectionLost, .other:
            return description
        }
    }
}
