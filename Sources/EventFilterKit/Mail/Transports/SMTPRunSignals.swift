import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One lock with two condition variables: one the calling thread of an ``SMTPDeliveryRun``
/// waits on (outcomes to record, workers ending), one its connections' threads wait on (a place
/// in the window, the first session's login, the run cut off). With a single condition every
/// outcome woke every connection waiting for a place as well as the caller, and every record woke
/// the caller too; each needless wake-up is a futex call and a context switch, per message.
///
///     let signals = SMTPRunSignals()
///     signals.lock(); defer { signals.unlock() }
///     while nothingToDo { signals.waitAsCaller() }   // a worker: signals.wakeCaller()
///
/// Unchecked Sendable: the pthread objects are the synchronisation.
final class SMTPRunSignals: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let callerCondition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let workersCondition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(callerCondition, nil)
        pthread_cond_init(workersCondition, nil)
    }

    deinit {
        pthread_cond_destroy(workersCondition)
        pthread_cond_destroy(callerCondition)
        pthread_mutex_destroy(mutex)
        workersCondition.deallocate()
        callerCondition.deallocate()
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }

    /// Only the run's calling thread waits here, so one signal is enough.
    func wakeCaller() { pthread_cond_signal(callerCondition) }
    func wakeWorkers() { pthread_cond_broadcast(workersCondition) }

    /// With the lock held: releases it until woken (or spuriously), then holds it again.
    func waitAsCaller() { pthread_cond_wait(callerCondition, mutex) }
    func waitAsWorker() { pthread_cond_wait(workersCondition, mutex) }

    /// As the untimed waits; false once `deadline` has passed.
    func waitAsCaller(until deadline: Date) -> Bool { wait(on: callerCondition, until: deadline) }
    func waitAsWorker(until deadline: Date) -> Bool { wait(on: workersCondition, until: deadline) }

    private func wait(on condition: UnsafeMutablePointer<pthread_cond_t>, until deadline: Date) -> Bool {
        // pthread_cond_timedwait's default clock is the wall clock, which is what Date counts in.
        let seconds = max(0, deadline.timeIntervalSince1970)
        var time = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1_000_000_000))
        return pthread_cond_timedwait(condition, mutex, &time) != ETIMEDOUT
    }
}
