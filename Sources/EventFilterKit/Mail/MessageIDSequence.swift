import Synchronization

/// The unique parts of generated Message-IDs and MIME boundaries: random bits drawn once per
/// process (one `getrandom` call per run, where two per message cost 200,000 system calls for
/// 100,000 messages) followed by a counter. The random part keeps ids of different runs and
/// hosts apart, as a per-message draw did; the counter keeps the ids of one run apart.
///
/// The counter is written as fixed-width hex digits after the random part, so the ids one run
/// generates sort in the order they were made: the outbox's unique index on `message_id` then
/// grows at its end, where random ids touched a random leaf page for every message (a read and
/// a write of a page nobody else needed once the index outgrew the page cache).
///
///     let next = MessageIDSequence.shared.next()   // (random: (r0, r1), counter: 41)
///     // Message-ID: <22 hex digits of r0 and r1, then 0000000029.1700000000@example.com>
final class MessageIDSequence: Sendable {
    /// The process's sequence; its random part is drawn on first use.
    static let shared = MessageIDSequence()

    /// Drawn from the system's generator when the sequence is made.
    let random: (UInt64, UInt64)
    private let counter = Atomic<UInt64>(0)

    init() {
        var generator = SystemRandomNumberGenerator()
        random = (generator.next(), generator.next())
    }

    /// The next unique value: the process's random bits and a counter no other call of this
    /// process gets. Safe from any thread.
    func next() -> (random: (UInt64, UInt64), counter: UInt64) {
        (random, counter.wrappingAdd(1, ordering: .relaxed).oldValue)
    }
}
