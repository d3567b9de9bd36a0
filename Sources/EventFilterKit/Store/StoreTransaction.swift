/// Transactions over the store, for code outside `Store/` that groups several store calls into
/// one unit: all of them commit, or none does.
///
///     try store.inTransaction {
///         let token = try store.issueSettingsToken(userID: user.id, now: now)
///         try Outbox(store: store).enqueue(recipient: user.email, ...)
///     }
///
/// The connection stays inside `Store/`: callers see only the unit of work, whatever backend
/// runs it.
extension Store {
    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    /// Nested calls join the outer transaction.
    @discardableResult
    func inTransaction<T>(_ body: () throws -> T) throws -> T {
        try db.inTransaction(body)
    }

    /// Runs `body` inside the current transaction as a unit of its own: when it throws, its
    /// writes are undone and the transaction goes on.
    @discardableResult
    func inSavepoint<T>(_ body: () throws -> T) throws -> T {
        try db.inSavepoint(body)
    }

    /// Runs `body` in a transaction that is always rolled back (a dry run keeps nothing).
    func inRolledBackTransaction<T>(_ body: () throws -> T) throws -> T {
        try db.inRolledBackTransaction(body)
    }
}
