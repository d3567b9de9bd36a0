/// Several requests' writes under one commit, and one whose answer says "not stored" has its
/// writes undone (in a savepoint of its own), so the commit keeps exactly what the answers
/// promise. The persistent web front answers the webhooks that arrive together this way: one
/// commit (one set of page writes to the log) for all of them instead of one each, and no
/// answer leaves before that commit.
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

    /// Thrown inside a savepoint to undo it, or inside the transaction to start again with savepoints.
    private struct Undone: Error {}

    /// Calls `body` for 0..<count in one transaction, each call in its own savepoint, and returns
    /// what the calls returned once the transaction has committed. A result for which `kept` is
    /// false has its writes rolled back (the others stay). Throws when the transaction could not
    /// be begun or committed, or was lost on the way (SQLite rolls back the whole transaction
    /// after a full disk or an I/O error): then nothing was stored.
    ///
    /// Every call is first made without a savepoint, since as a rule all are kept: a savepoint
    /// and its release cost each call about as much as the storing. When one is not kept, the
    /// whole transaction is rolled back and the calls are made again, each in its savepoint:
    /// the commit holds the same rows either way.
    public func run<T>(_ count: Int, _ body: (Int) -> T, kept: (T) -> Bool) throws -> [T] {
        do {
            return try database.inTransaction {
                var results: [T] = []
                results.reserveCapacity(count)
                for index in 0..<count {
                    let result = body(index)
                    // Not kept (its writes may be half done): start again with savepoints.
                    guard kept(result) else { throw Undone() }
                    guard database.isInTransaction else {
                        throw GroupCommitError("the transaction was rolled back before its commit")
                    }
                    results.append(result)
                }
                return results
            }
        } catch is Undone {
            return try runInSavepoints(count, body, kept: kept)
        }
    }

    /// `run` with each call in a savepoint of its own.
    private func runInSavepoints<T>(_ count: Int, _ body: (Int) -> T, kept: (T) -> Bool) throws -> [T] {
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
