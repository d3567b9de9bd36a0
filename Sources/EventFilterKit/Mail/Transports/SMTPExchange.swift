import CCurl
import Foundation

/// What the libcurl callbacks of one connection read and write during `curl_easy_perform`:
/// the message being uploaded and what the server last said.
///
/// curl holds an unretained pointer to it (READDATA, DEBUGDATA); ``SMTPConnection`` keeps it
/// alive for as long as the handle exists. The callbacks run on the thread inside perform, which
/// is the connection's owner, so no locking is needed.
final class SMTPExchange {
    private var body: [UInt8] = []
    private var offset = 0
    private(set) var stage: SMTPStage = .connecting
    /// Set once curl sends QUIT (it does after a failure): later lines are only the goodbye.
    private var closing = false
    /// The lines of the server's latest reply, LF-separated, CR stripped. Never client lines,
    /// so credentials sent during AUTH cannot end up here.
    private var reply: [UInt8] = []
    private var replyComplete = true
    /// Whether the server said anything during this attempt (else an old reply code is stale).
    private(set) var heardServer = false
    /// Asked for a place before the final "." may go (see ``SMTPDeliveryRun``); nil: no window.
    private var window: SMTPDeliveryRun?
    /// This message got its place: its final "." may have been sent.
    private(set) var holdsSlot = false
    /// When curl's message timeout ends this transfer. It keeps running while the read callback
    /// waits for a place, and a store slow to record is not the server failing, so the wait
    /// takes at most half of what is left of it (the other half is for the server's reply).
    private var timeoutEnds = Date.distantFuture
    /// The transfer was cut off because no place came in time (nothing was sent past the
    /// message's last line ending, so the server cannot have taken it).
    private(set) var windowExpired = false

    func begin(uploading bytes: [UInt8], window: SMTPDeliveryRun? = nil, timeout: Double = .infinity) {
        body = bytes
        offset = 0
        self.window = window
        holdsSlot = false
        timeoutEnds = timeout.isFinite ? Date(timeIntervalSinceNow: timeout) : .distantFuture
        windowExpired = false
        stage = .connecting
        closing = false
        reply.removeAll(keepingCapacity: true)
        replyComplete = true
        heardServer = false
    }

    func finish() {
        body = []
        window = nil
    }

    /// Copies the next part of the message into curl's buffer; 0 means end of message. With the
    /// size announced, curl sends the final "." as soon as it has the last byte, so the last byte
    /// is where the window is asked. When it is full, all but the last line ending go now and the
    /// rest waits for a place, so the message crosses the wire while earlier outcomes commit.
    func read(into buffer: UnsafeMutablePointer<CChar>, capacity: Int) -> Int {
        var end = body.count
        if let window, !holdsSlot, offset + capacity >= body.count {
            if window.tryAcquireSlot() {
                holdsSlot = true
            } else if body.count - offset > 2 {
                end = body.count - 2
            } else {
                let deadline = Date(timeIntervalSinceNow: max(0, timeoutEnds.timeIntervalSinceNow) / 2)
                switch window.acquireSlot(until: deadline) {
                case .acquired: holdsSlot = true
                case .cancelled: return Int(CURL_READFUNC_ABORT)  // the run was cut off
                case .expired:
                    windowExpired = true
                    return Int(CURL_READFUNC_ABORT)
                }
            }
        }
        let count = min(capacity, end - offset)
        if count > 0 {
            body.withUnsafeBytes { source in
                UnsafeMutableRawPointer(buffer).copyMemory(from: source.baseAddress! + offset, byteCount: count)
            }
            offset += count
        }
        // With the size announced, curl stops asking after the last byte and sends the final
        // ".": from here on it waits for the reply that says whether the server took the message.
        if offset == body.count && (stage == .data || stage == .message) { stage = .endOfData }
        return count
    }

    func clientSent(_ line: UnsafeRawBufferPointer) {
        guard !closing, let next = SMTPStage(commandLine: line) else { return }
        if next == .quit {
            closing = true
            return
        }
        // AUTH continuation lines are base64 and cannot contain a space; only a real MAIL or
        // QUIT ends the authentication stage.
        if stage == .authentication && next != .sender && next != .quit { return }
        stage = next
    }

    /// After a failure curl sends QUIT; its "221 bye" must not replace the reply that failed.
    func serverSent(_ chunk: UnsafeRawBufferPointer) {
        guard !closing else { return }
        // Line by line, without collecting the lines first: four replies per message pass here.
        var start = chunk.startIndex
        while start < chunk.endIndex {
            let newline = chunk[start...].firstIndex(of: 0x0A) ?? chunk.endIndex
            var line = chunk[start..<newline]
            start = newline < chunk.endIndex ? newline + 1 : newline
            if line.last == 0x0D { line = line.dropLast() }
            guard !line.isEmpty else { continue }
            if replyComplete {
                reply.removeAll(keepingCapacity: true)
            } else {
                reply.append(0x0A)
            }
            reply.append(contentsOf: line)
            // "250-..." continues a multi-line reply, "250 ..." ends it.
            replyComplete = line.count < 4 || line[line.startIndex + 3] != UInt8(ascii: "-")
            heardServer = true
        }
    }

    func messageDataStarted() {
        if stage == .data { stage = .message }
    }

    /// The latest reply as one printable line: "550 5.1.1 no such user".
    var replyText: String? {
        guard !reply.isEmpty else { return nil }
        return SMTPReplyText.oneLine(reply)
    }
}
