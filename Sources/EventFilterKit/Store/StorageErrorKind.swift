import CSQLite

/// What a store error means to its caller, whichever database reported it: the meaning decides
/// what to do next (report a duplicate, run the transaction again, reconnect, stop and alert).
///
///     do { try store.inTransaction { ... } }
///     catch let error as PostgresError where error.kind == .retryable { /* run it again */ }
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

extension DatabaseError {
    /// The backend-neutral meaning of this SQLite error.
    public var kind: StorageErrorKind {
        switch code {
        case SQLITE_CONSTRAINT:
            // Only a duplicate key is a unique violation; NOT NULL, CHECK and foreign keys are not.
            // SQLITE_CONSTRAINT_UNIQUE and _PRIMARYKEY are macros Swift does not import:
            // the primary code with 8 and 6 in the second byte.
            let unique = SQLITE_CONSTRAINT | (8 << 8), primaryKey = SQLITE_CONSTRAINT | (6 << 8)
            return extendedCode == unique || extendedCode == primaryKey ? .uniqueViolation : .other
        case SQLITE_BUSY, SQLITE_LOCKED: return .retryable
        case SQLITE_FULL: return .diskFull
        default: return .other
        }
    }
}
