/// What a store error means to its caller, whichever database reported it: the meaning decides
/// what to do next (report a duplicate, run the transaction again, reconnect, stop and alert).
///
///     do { try store.inTransaction { ... } }
///     catch let error as any StorageError where error.kind == .retryable { /* run it again */ }
public enum StorageErrorKind: String, Sendable, Equatable, CaseIterable {
    /// A row with the same unique key exists (PostgreSQL 23505, SQLite's UNIQUE / PRIMARY KEY).
    case uniqueViolation
    /// The transaction lost a race with another one and was rolled back; running it again from the
    /// start is safe and usually succeeds (PostgreSQL 40001 serialization failure, 40P01 deadlock;
    /// SQLite's busy and locked).
    case retryable
    /// The connection broke or could not be made; a new connection may succeed later.
    case connectionLost
    /// The server's disk is full (PostgreSQL 53100, SQLite's SQLITE_FULL): nothing more can be
    /// written until an operator frees space.
    case diskFull
    /// Anything else: a bug, a constraint other than uniqueness, bad input.
    case other
}
