import Dispatch
import Synchronization

/// What parallel delivery workers and the calling thread share: which message is next, and the
/// outcomes the calling thread has not reported yet.
///
/// Workers call ``nextMessage()`` and ``post(_:_:)``; the calling thread blocks in
/// ``waitForNews()``, which wakes on every posted outcome and every finished worker.
final class DeliveryBoard: Sendable {
    struct News {
        var outcomes: [(index: Int, outcome: DeliveryOutcome)]
        var allWorkersFinished: Bool
        var connectionsOpened: Int
        /// Messages no worker took (only when every worker failed to start).
        var neverStarted: Range<Int>
    }

    private struct State {
        var next = 0
        var stopped = false
        var outcomes: [(index: Int, outcome: DeliveryOutcome)] = []
        var runningWorkers: Int
        var connectionsOpened = 0
    }

    let messages: [OutgoingMessage]
    private let state: Mutex<State>
    private let news = DispatchSemaphore(value: 0)

    init(messages: [OutgoingMessage], workers: Int) {
        self.messages = messages
        state = Mutex(State(runningWorkers: workers))
    }

    /// The index of the next message to send, or nil when all are taken or delivery stopped.
    func nextMessage() -> Int? {
        let count = messages.count
        return state.withLock { state -> Int? in
            guard !state.stopped, state.next < count else { return nil }
            defer { state.next += 1 }
            return state.next
        }
    }

    func post(_ index: Int, _ outcome: DeliveryOutcome) {
        state.withLock { $0.outcomes.append((index, outcome)) }
        news.signal()
    }

    func workerFinished(connectionsOpened: Int) {
        state.withLock {
            $0.runningWorkers -= 1
            $0.connectionsOpened += connectionsOpened
        }
        news.signal()
    }

    /// Workers finish the message in hand and take no more.
    func stop() {
        state.withLock { $0.stopped = true }
    }

    /// Blocks until something happened, then takes every outcome posted so far.
    func waitForNews() -> News {
        news.wait()
        let count = messages.count
        return state.withLock { state in
            let taken = state.outcomes
            state.outcomes.removeAll()
            return News(
                outcomes: taken, allWorkersFinished: state.runningWorkers == 0,
                connectionsOpened: state.connectionsOpened,
                neverStarted: state.stopped ? count..<count : min(state.next, count)..<count)
        }
    }
}
