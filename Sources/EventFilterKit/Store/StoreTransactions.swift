/// Transactions on the store, so code outside `Store/` never reaches for the connection: the
/// run groups its writes with these, whichever database holds them.
///
///     try store.inTransaction {
///         try store.markEventHandled(id, now: now)
///     }
extension Store {
    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    /// Nested calls join the outer transaction.
    @discardableResult
    func inTransaction<T>(_ body: () throws -> T) throws -> T {
        try db.inTransaction(body)
    }

    /// Runs `body` inside the current transaction as a unit of its own: when `body` throws, its
    /// writes are undone and the transaction goes on.
    @discardableResult
    func inSavepoint<T>(_ body: () throws -> T) throws -> T {
        try db.inSavepoint(body)
    }

    /// Runs `body` in a transaction that is always rolled back (`run --dry-run`).
    func inRolledBackTransaction<T>(_ body: () throws -> T) throws -> T {
        try db.inRolledBackTransaction(body)
    }
}
