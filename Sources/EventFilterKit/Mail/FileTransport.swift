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
///     let transport = try FileTransport(directory: root.appendingPathComponent("var/log/mail"))
public final class FileTransport: MailTransport {
    public let directory: URL
    public var redeliveryIsIdempotent: Bool { true }

    /// `directory`'s path with a trailing slash: each file's path is this and its name, joined as
    /// bytes (a URL built per file cost more than writing the file's bytes).
    private let prefix: String

    public init(directory: URL) throws {
        self.directory = directory
        let path = directory.path
        prefix = path.hasSuffix("/") ? path : path + "/"
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    public func deliver(_ messages: [OutgoingMessage], report: (OutgoingMessage, DeliveryOutcome) throws -> Void) throws {
        // Opened before the writes: `syncfs` reports the write-back errors that happened since its
        // descriptor was opened (Linux 5.8 on), so one while the batch was written counts too.
        let directoryDescriptor = open(prefix, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        let openError = errno
        defer { if directoryDescriptor >= 0 { close(directoryDescriptor) } }
        var written: [OutgoingMessage] = []
        written.reserveCapacity(messages.count)
        for message in messages {
            if let problem = write(message) {
                try report(message, .temporaryFailure(problem))
            } else {
                written.append(message)
            }
        }
        guard !written.isEmpty else { return }
        if let problem = directoryDescriptor < 0
            ? "cannot open \(directory.path) to sync it: \(String(cString: strerror(openError)))"
            : sync(directoryDescriptor) {
            // Not known to be on the disk: not sent. They are written again at the next attempt.
            for message in written { try report(message, .temporaryFailure(problem)) }
            return
        }
        for message in written { try report(message, .accepted("written to \(path(of: message))")) }
    }

    /// Makes the batch's files and their names durable; returns the problem, or nil when the disk
    /// confirmed them (`syncfs` reports a writeback error since Linux 5.8).
    private func sync(_ directoryDescriptor: Int32) -> String? {
        guard cposix_syncfs(directoryDescriptor) == 0 else { return "cannot sync \(directory.path): \(String(cString: strerror(errno)))" }
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
