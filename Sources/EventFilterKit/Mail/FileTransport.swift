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
/// The outbox overlaps batches (`start`, then `PendingBatch.finish`): while one batch's `syncfs`
/// waits for the disk on the transport's own thread, the next batch is read and written, and a
/// batch is reported only once its own sync returned.
///
///     let transport = try FileTransport(directory: root.appendingPathComponent("var/log/mail"))
///     let pending = transport.start(batch)          // written; being synced
///     let outcomes = pending.finish()               // synced: one outcome per message, in order
public final class FileTransport: MailTransport {
    public let directory: URL
    public var redeliveryIsIdempotent: Bool { true }

    /// `directory`'s path with a trailing slash: each file's path is this and its name, joined as
    /// bytes (a URL built per file cost more than writing the file's bytes).
    private let prefix: String
    /// Runs the batches' syncs one after another, in the order they were started.
    private let syncs = DispatchQueue(label: "eventfilter file transport syncs")

    /// A batch whose files are written and whose sync runs on the transport's thread; its
    /// outcomes are known once that sync returned.
    ///
    ///     let pending = transport.start(messages)   // returns once the files are written
    ///     writeNextBatch()                          // meanwhile the disk syncs this one
    ///     for (message, outcome) in zip(messages, pending.finish()) { record(message, outcome) }
    public final class PendingBatch: @unchecked Sendable {
        /// One per message, in the batch's order; nil while it waits for the sync.
        private var outcomes: [DeliveryOutcome?]
        private let written: [(index: Int, path: String)]
        private let synced = DispatchSemaphore(value: 0)
        /// Set by the sync before it signals `synced`; read only after waiting for it.
        fileprivate var problem: String?

        fileprivate init(outcomes: [DeliveryOutcome?], written: [(index: Int, path: String)]) {
            self.outcomes = outcomes
            self.written = written
        }

        fileprivate func signal() { synced.signal() }

        /// Waits for the sync and returns each message's outcome, in the batch's order: written and
        /// synced is accepted; a file that could not be written, or a batch whose sync failed, is
        /// a temporary failure (written again at the next attempt). Call it once.
        public func finish() -> [DeliveryOutcome] {
            if !written.isEmpty { synced.wait() }
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

    /// Writes `messages` (each through a temporary name) and starts making them durable with one
    /// `syncfs` on the transport's thread, after the syncs started before it; returns at once.
    /// Nothing may be reported sent before `finish()` of the batch returned.
    public func start(_ messages: [OutgoingMessage]) -> PendingBatch {
        // Opened before the writes: `syncfs` reports the write-back errors that happened since its
        // descriptor was opened (Linux 5.8 on), so one while the batch was written counts too.
        let directoryDescriptor = open(prefix, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        let openError = errno
        var outcomes: [DeliveryOutcome?] = Array(repeating: nil, count: messages.count)
        var written: [(index: Int, path: String)] = []
        written.reserveCapacity(messages.count)
        for (index, message) in messages.enumerated() {
            if let problem = write(message) {
                outcomes[index] = .temporaryFailure(problem)
            } else {
                written.append((index, path(of: message)))
            }
        }
        let pending = PendingBatch(outcomes: outcomes, written: written)
        guard !written.isEmpty else {
            if directoryDescriptor >= 0 { close(directoryDescriptor) }
            return pending
        }
        guard directoryDescriptor >= 0 else {
            // Not known to be on the disk: not sent. They are written again at the next attempt.
            pending.problem = "cannot open \(directory.path) to sync it: \(String(cString: strerror(openError)))"
            pending.signal()
            return pending
        }
        let directoryPath = directory.path
        syncs.async {
            pending.problem = Self.sync(directoryDescriptor, path: directoryPath)
            close(directoryDescriptor)
            pending.signal()
        }
        return pending
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
