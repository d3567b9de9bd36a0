import Foundation

/// The next batch, claimed and read on a thread of its own while the calling thread delivers the
/// current one, on the store connection the calling thread leaves idle meanwhile (its recorders
/// commit on another): the SMTP connections then start the next batch as soon as the current one
/// is done, rather than idling through the claim and the read.
///
/// The claim is the one a batch always takes (`claimDueOutbox`), so a run cut off before it
/// delivers the batch leaves it as every claim is left: free when the run's session ends, and
/// at once when a delivery cut off by a failed record gives its claims back
/// (`Store.releaseOutboxClaims()`, called by `Outbox`) while the run lives on.
///
///     let ahead = ClaimedAhead { try outbox.claimBatch(after: last, now: now) }
///     try deliver(current)
///     let next = try ahead.batch()
///
/// Unchecked Sendable: `result` is written on the claiming thread before `done` is signalled and
/// read only after waiting for it, which orders the two.
final class ClaimedAhead: @unchecked Sendable {
    private let claim: () throws -> [OutboxMessage]
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<[OutboxMessage], any Error>?
    private var waited = false

    /// Starts `claim` on a thread of its own; nothing else may use its store connection until
    /// ``batch()`` returns.
    init(_ claim: @escaping () throws -> [OutboxMessage]) {
        self.claim = claim
        Thread { [self] in
            result = Result { try self.claim() }
            done.signal()
        }.start()
    }

    /// The batch claimed (empty when none was due), once the claim is done; throws its error.
    func batch() throws -> [OutboxMessage] {
        if !waited {
            done.wait()
            waited = true
        }
        return try result!.get()
    }
}
