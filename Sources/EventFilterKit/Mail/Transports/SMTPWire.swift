import CCurl

#if canImport(Glibc)
    import Glibc
#endif

/// Bytes to and from the SMTP server over the connection libcurl opened and set up (TCP, TLS,
/// EHLO, STARTTLS, AUTH) with CURLOPT_CONNECT_ONLY: `curl_easy_send` and `curl_easy_recv`, which
/// go through curl's TLS layer, and poll(2) on the socket with a deadline when they would block.
///
///     let wire = SMTPWire(handle: handle, socket: socket)
///     try wire.send(Array("MAIL FROM:<a@example.org>\r\n".utf8), until: deadline)
///     let reply = try wire.readReply(until: deadline)   // 250 OK
///
/// On a connection without TLS (`plain`) the bytes go to and from the socket directly (send(2),
/// recv(2)): curl's send and receive would only make the same calls, after looking the
/// connection up in its cache each time. There a wait for a reply polls before it reads, where
/// a read on an empty socket would fail (EAGAIN) before the poll: the reply to what was just
/// sent is seldom in yet, so that read was one system call more a message. Behind TLS a read
/// comes first: curl may hold decrypted bytes that no poll of the socket shows.
///
/// Deadlines are CLOCK_MONOTONIC nanoseconds (``now()``). Not thread-safe: it belongs to the
/// connection's thread.
final class SMTPWire {
    enum Failure: Error, Equatable {
        /// The deadline passed before the server answered (or took the bytes).
        case timedOut
        /// The server closed the connection.
        case closed
        /// curl's send or receive failed (a reset connection, a TLS error).
        case failed(CURLcode)
        /// The reply went on past ``replyLimit`` bytes.
        case replyTooLong
    }

    /// The most a reply may hold. RFC 5321 section 4.5.3.1.5 allows 512 octets a line, and the
    /// replies read here (to MAIL, RCPT, DATA, ".", RSET, QUIT) have a line or a few; a server
    /// whose reply never ends would otherwise fill the memory until the timeout (libcurl, which
    /// read them before, gave up on a reply line longer than its buffer too).
    static let replyLimit = 65_536

    private let handle: UnsafeMutableRawPointer
    let socket: curl_socket_t
    /// The connection carries no TLS: the socket is read and written directly.
    private let plain: Bool
    /// Bytes received and not yet taken as a reply: `input[start..<end]`.
    private var input = [UInt8](repeating: 0, count: 4096)
    private var start = 0
    private var end = 0

    init(handle: UnsafeMutableRawPointer, socket: curl_socket_t, plain: Bool = false) {
        self.handle = handle
        self.socket = socket
        self.plain = plain
    }

    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    static func deadline(after seconds: Double) -> UInt64 {
        seconds.isFinite ? now() + UInt64(max(0, seconds) * 1e9) : .max
    }

    /// Sends the first `count` bytes (all of them by default) before `deadline`.
    func send(_ bytes: [UInt8], count: Int? = nil, until deadline: UInt64) throws(Failure) {
        let failure = bytes.withUnsafeBytes { buffer in
            send(UnsafeRawBufferPointer(rebasing: buffer.prefix(count ?? buffer.count)), until: deadline)
        }
        if let failure { throw failure }
    }

    private func send(_ bytes: UnsafeRawBufferPointer, until deadline: UInt64) -> Failure? {
        guard let base = bytes.baseAddress else { return nil }
        var offset = 0
        while offset < bytes.count {
            var sent = 0
            let result = transmit(base + offset, count: bytes.count - offset, sent: &sent)
            if result == CURLE_OK {
                offset += sent
            } else if result == CURLE_AGAIN {
                do throws(Failure) { try wait(for: POLLOUT, until: deadline) } catch { return error }
            } else {
                return .failed(result)
            }
        }
        return nil
    }

    /// The next whole reply: lines up to the one whose code is followed by a space (RFC 5321
    /// section 4.2.1: "250-" continues, "250 " ends).
    func readReply(until deadline: UInt64) throws(Failure) -> SMTPReply {
        var lines: [UInt8] = []
        while true {
            guard let newline = input[start..<end].firstIndex(of: 0x0A) else {
                try receive(until: deadline)
                continue
            }
            var lineEnd = newline
            if lineEnd > start && input[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            let line = input[start..<lineEnd]
            start = newline + 1
            guard !line.isEmpty else { continue }
            if !lines.isEmpty { lines.append(0x0A) }
            lines.append(contentsOf: line)
            guard lines.count <= Self.replyLimit else { throw .replyTooLong }
            if SMTPReply.endsReply(line) { return SMTPReply(lines: lines) }
        }
    }

    /// Whether a connection that sat idle between messages can carry the next one. The server
    /// may have closed it meanwhile (an idle timeout), perhaps after a 421; curl checked this
    /// before reusing a connection, and so must we. A readable socket with nothing for us behind
    /// it (TLS records such as a TLS 1.3 session ticket) leaves it usable.
    func isUsable() -> Bool {
        guard start == end else { return false }  // something unasked: not a state to go on from
        guard hasInputNow() else { return true }
        var received = 0
        let result = input.withUnsafeMutableBytes { receive(into: $0.baseAddress!, capacity: $0.count, received: &received) }
        return result == CURLE_AGAIN
    }

    private func receive(until deadline: UInt64) throws(Failure) {
        if start == end {
            start = 0
            end = 0
        } else if start > 0 && end == input.count {
            input.withUnsafeMutableBytes { bytes in
                bytes.baseAddress!.copyMemory(from: bytes.baseAddress! + start, byteCount: end - start)
            }
            end -= start
            start = 0
        }
        if end == input.count {
            // A reply longer than the buffer: RFC 5321 allows 512 bytes a line, but many lines.
            guard input.count < Self.replyLimit else { throw .replyTooLong }
            input.append(contentsOf: repeatElement(0, count: input.count))
        }
        // Plain: the poll first (see the type's note); its result is known only to the read.
        if plain { try wait(for: POLLIN, until: deadline) }
        while true {
            var received = 0
            let capacity = input.count - end
            let result = input.withUnsafeMutableBytes { receive(into: $0.baseAddress! + end, capacity: capacity, received: &received) }
            if result == CURLE_OK {
                guard received > 0 else { throw .closed }
                end += received
                return
            }
            guard result == CURLE_AGAIN else { throw .failed(result) }
            try wait(for: POLLIN, until: deadline)
        }
    }

    /// Up to `capacity` bytes from the server, as curl_easy_recv reports them: CURLE_OK with 0
    /// bytes when the server closed the connection, CURLE_AGAIN when nothing is there yet.
    private func receive(into buffer: UnsafeMutableRawPointer, capacity: Int, received: inout Int) -> CURLcode {
        guard plain else { return curl_easy_recv(handle, buffer, capacity, &received) }
        while true {
            let count = recv(socket, buffer, capacity, 0)
            if count >= 0 {
                received = count
                return CURLE_OK
            }
            if errno == EINTR { continue }
            return errno == EAGAIN || errno == EWOULDBLOCK ? CURLE_AGAIN : CURLE_RECV_ERROR
        }
    }

    /// Whether the socket has something to read (or an error a read will report) at this very
    /// moment: a poll that does not wait.
    private func hasInputNow() -> Bool {
        var poller = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        return poll(&poller, 1, 0) > 0
    }

    /// Writes what the connection takes of `count` bytes now, as curl_easy_send reports it
    /// (CURLE_AGAIN when it takes none): through curl behind TLS, on the socket without it
    /// (MSG_NOSIGNAL, so a closed connection is an error, not SIGPIPE).
    private func transmit(_ bytes: UnsafeRawPointer, count: Int, sent: inout Int) -> CURLcode {
        guard plain else { return curl_easy_send(handle, bytes, count, &sent) }
        while true {
            let written = Glibc.send(socket, bytes, count, Int32(MSG_NOSIGNAL))
            if written >= 0 {
                sent = written
                return CURLE_OK
            }
            if errno == EINTR { continue }
            return errno == EAGAIN || errno == EWOULDBLOCK ? CURLE_AGAIN : CURLE_SEND_ERROR
        }
    }

    private func wait(for events: Int32, until deadline: UInt64) throws(Failure) {
        while true {
            let now = Self.now()
            // Past the deadline (this thread did not run for a while, or the wait below ran
            // out), one look without waiting: what came in time is taken, not called a timeout
            // (after a final "." that would leave an accepted message to be sent again).
            let milliseconds = now < deadline ? min((deadline - now + 999_999) / 1_000_000, UInt64(Int32.max)) : 0
            var poller = pollfd(fd: socket, events: Int16(events), revents: 0)
            let ready = poll(&poller, 1, Int32(milliseconds))
            if ready > 0 { return }  // readable, writable, or an error that recv/send will report
            if ready < 0 && errno != EINTR { throw .failed(CURLE_RECV_ERROR) }
            if ready == 0 && milliseconds == 0 { throw .timedOut }
        }
    }
}
