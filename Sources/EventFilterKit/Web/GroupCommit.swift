/// Several requests' writes under one commit: each runs in a savepoint of its own inside one
/// transaction, and one whose answer says "not stored" has its writes undone, so the commit keeps
/// exactly what the answers promise. The persistent web front answers the webhooks that arrive
/// together this way: one commit (one set of page writes to the log) for all of them instead of
/// one each, and no answer leaves before that commit.
///
///     let answers = try GroupCommit(store: store).run(requests.count,
///         { index in router.answer(requests[index], now: now).response },
///         kept: { $0.status < 300 })
///     // answers[i] is what request i gets; when `run` throws, nothing was stored and every one gets a 500
public final class GroupCommit {
    private let database: any StoreDatabase

    /// For the writes of `store`, on whichever backend it is.
    public convenience init(store: Store) {
        self.init(database: store.db)
    }

    init(database: any StoreDatabase) {
        self.database = database
    }

    /// Thrown inside a savepoint to undo it.
    private struct Undone: Error {}

    /// Calls `body` for 0..<count in one transaction, each call in its own savepoint, and returns
    /// what the calls returned once the transaction has committed. A result for which `kept` is
    /// false has its writes rolled back (the others stay). Throws when the transaction could not
    /// be begun or committed, or was lost on the way (SQLite rolls back the whole transaction
    /// after a full disk or an I/O error): then nothing was stored.
    public func run<T>(_ count: Int, _ body: (Int) -> T, kept: (T) -> Bool) throws -> [T] {
        var results: [T] = []
        results.reserveCapacity(count)
        try database.inTransaction {
            for index in 0..<count {
                var result: T?
                do {
                    try database.inSavepoint {
                        let value = body(index)
                        result = value
                        if !kept(value) { throw Undone() }
                    }
                } catch is Undone {
                    // Its writes are undone; its answer says so.
                }
                guard database.isInTransaction, let result else {
                    throw GroupCommitError("the transaction was rolled back before its commit")
                }
                results.append(result)
            }
        }
        return results
    }
}
