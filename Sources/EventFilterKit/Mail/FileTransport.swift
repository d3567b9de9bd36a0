import Foundation

/// Writes each message as `<directory>/<outbox id>.eml` (eZ's `file` transport, made useful:
/// one whole RFC 5322 message per file). A message resent after a crash overwrites its own file.
///
///     let transport = try FileTransport(directory: root.appendingPathComponent("var/log/mail"))
public final class FileTransport: MailTransport {
    public let directory: URL

    public init(directory: URL) throws {
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    public func deliver(_ messages: [OutgoingMessage], report: (OutgoingMessage, DeliveryOutcome) throws -> Void) throws {
        for message in messages {
            let target = directory.appendingPathComponent("\(message.id).eml")
            do {
                // Atomic: a reader (or a crash) never sees half a message.
                try Data(message.bytes).write(to: target, options: .atomic)
            } catch {
                try report(message, .temporaryFailure("cannot write \(target.path): \(error.localizedDescription)"))
                continue
            }
            try report(message, .accepted)
        }
    }
}
