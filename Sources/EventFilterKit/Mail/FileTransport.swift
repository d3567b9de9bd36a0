import CPosix
import Foundation

/// Writes each message as `<directory>/<outbox id>.eml` (eZ's `file` transport, made useful:
/// one whole RFC 5322 message per file).
///
/// A batch is written, then made durable with one `syncfs`, then reported: a crash before the
/// report rewrites the same files at the next run, which is harmless, so the outbox may commit
/// a file batch's outcomes together (`redeliveryIsIdempotent`). A batch whose sync fails (the disk
/// reported a write error) is deferred, never recorded sent.
///
/// The outbox overlaps batches (`start`, then `PendingBatch.finish`): a batch's files are written
/// on the transport's writing thread while the outbox reads the next batch from the store (on
/// PostgreSQL two round trips, which left the disk idle), and its `syncfs` waits for the disk on
/// the syncing thread while the next batch is written; a batch is reported only once its own
/// sync returned. (Its properties never change after `init`: the threads share nothing else.)
///
///     let transport = try FileTransport(directory: root.appendingPathComponent("var/log/mail"))
///     let pending = transport.start(batch)          // being written, then synced
///     let outcomes = pending.finish()               // synced: one outcome per message, in order
public final class FileTransport: MailTransport, @unchecked Sendable {
    public let directory: URL
    public var redeliveryIsIdempotent: Bool { true }

    /// `directory`'s path with a trailing slash: each file's path is this and its name, joined as
    /// bytes (a URL built per file cost more than writing the file's bytes).
    private let prefix: String
    /// Writes the batches' files, one batch after another, in the order they were started.
    private let writes = DispatchQueue(label: "eventfilter file transport writes")
    /// Runs the batches' syncs one after another, in the order they were written.
    private let syncs = DispatchQueue(label: "eventfilter file transport syncs")

    /// A batch whose files are written and then synced on the transport's threads; its
    /// outcomes are known once that sync returned.
    ///
    ///     let pending = transport.start(messages)   // returns at once; written, then synced
    ///     readNextBatch()                           // meanwhile the files are written and synced
    ///     for (message, outcome) in zip(messages, pending.finish()) { record(message, outcome) }
    public final class PendingBatch: @unchecked Sendable {
        /// One per message, in the batch's order; nil until written (and synced, for those written).
        /// Set by the transport's threads before they signal `done`; read only after waiting for it.
        fileprivate var outcomes: [DeliveryOutcome?]
        fileprivate var written: [(index: Int, path: String)] = []
        fileprivate var problem: String?
        private let done = DispatchSemaphore(value: 0)

        fileprivate init(count: Int) {
            outcomes = Array(repeating: nil, count: count)
        }

        fileprivate func signal() { done.signal() }

        /// Waits for the writes and the sync and returns each message's outcome, in the batch's
        /// order: written and synced is accepted; a file that could not be written, or a batch
        /// whose sync failed, is a temporary failure (written again at the next attempt). Call it once.
        public func finish() -> [DeliveryOutcome] {
            done.wait()
            for (index, path) in written {
                outcomes[index] = problem.map { .temporaryFailure($0) } ?? .accepted("written to \(path)")
            }
            return outcomes.map { $0! }
        }
    }

    public init(directory: URL) throws {
        self.directory = directory
        let path = directory.path
        prefix = path.hasSuffix("/") ? path : path + "/"
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    public func deliver(_ messages: [OutgoingMessage], report: (OutgoingMessage, DeliveryOutcome) throws -> Void) throws {
        for (message, outcome) in zip(messages, start(messages).finish()) { try report(message, outcome) }
    }

    /// Starts writing `messages` (each through a temporary name) on the transport's writing
    /// thread, then making them durable with one `syncfs` on its syncing thread, each after the
    /// batches started before it; returns at once, so the caller reads the next batch from the
    /// store while these files are written. Nothing may be reported sent before `finish()` of
    /// the batch returned.
    public func start(_ messages: [OutgoingMessage]) -> PendingBatch {
        let pending = PendingBatch(count: messages.count)
        writes.async { self.write(messages, for: pending) }
        return pending
    }

    /// Writes the batch's files, then hands its sync to the syncing thread (so the next batch is
    /// written while this one syncs), or signals the batch done when nothing is to be synced.
    private func write(_ messages: [OutgoingMessage], for pending: PendingBatch) {
        // Opened before the writes: `syncfs` reports the write-back errors that happened since its
        // descriptor was opened (Linux 5.8 on), so one while the batch was written counts too.
        let directoryDescriptor = open(prefix, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        let openError = errno
        pending.written.reserveCapacity(messages.count)
        for (index, message) in messages.enumerated() {
            if let problem = write(message) {
                pending.outcomes[index] = .temporaryFailure(problem)
            } else {
                pending.written.append((index, path(of: message)))
            }
        }
        guard !pending.written.isEmpty else {
            if directoryDescriptor >= 0 { close(directoryDescriptor) }
            pending.signal()
            return
        }
        guard directoryDescriptor >= 0 else {
            // Not known to be on the disk: not sent. They are written again at the next attempt.
            pending.problem = "cannot open \(directory.path) to sync it: \(String(cString: strerror(openError)))"
            pending.signal()
            return
        }
        let directoryPath = directory.path
        syncs.async {
            pending.problem = Self.sync(directoryDescriptor, path: directoryPath)
            close(directoryDescriptor)
            pending.signal()
        }
    }

    /// Makes the batch's files and their names durable; returns the problem, or nil when the disk
    /// confirmed them (`syncfs` reports a writeback error since Linux 5.8).
    private static func sync(_ directoryDescriptor: Int32, path: String) -> String? {
        guard cposix_syncfs(directoryDescriptor) == 0 else { return "cannot sync \(path): \(String(cString: strerror(errno)))" }
        return nil
    }

    private func path(of message: OutgoingMessage) -> String {
        prefix + String(message.id) + ".eml"
    }

    /// Writes through a temporary name and renames, so a reader never sees half a message.
    /// Returns the problem, or nil when written.
    private func write(_ message: OutgoingMessage) -> String? {
        let target = path(of: message)
        let temporary = target + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { return "cannot write \(temporary): \(String(cString: strerror(errno)))" }
        var offset = 0
        let failure: String? = message.bytes.withUnsafeBytes { buffer in
            while offset < buffer.count {
                let count = Foundation.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    return "cannot write \(temporary): \(String(cString: strerror(errno)))"
                }
                offset += count
            }
            return nil
        }
        close(descriptor)
        if let failure {
            unlink(temporary)
            return failure
        }
        guard rename(temporary, target) == 0 else {
            let problem = "cannot rename \(temporary): \(String(cString: strerror(errno)))"
            unlink(temporary)
            return problem
        }
        return nil
    }
}
