import CPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A FastCGI responder: accepts connections on a listening socket and answers their requests for
/// its whole life, with whatever `handler` holds open (settings, the store).
///
///     let responder = FastCGIResponder(listener: listener, limits: .init(bodyLimit: 1 << 20)) { requests in
///         requests.map { FastCGIResponder.Reply(stdout: answer($0).cgiBytes, stderr: nil) }
///     }
///     responder.onReload = { reloadSettings() }    // SIGHUP
///     responder.serve()                            // returns after SIGTERM, once the requests in hand are answered
///
/// One process holds up to `limits.maxConnections` connections at once (a web server's pool of
/// kept-alive upstream connections) and waits on all of them with one `poll`. The requests that
/// are complete after a round of reads go to `handler` together, one call, in arrival order, and
/// their answers are written only when it returns: the handler can commit them all in one
/// transaction, and no answer leaves before its commit.
///
/// A connection that breaks the protocol, sends parameters over the limit, hangs up mid-request
/// or stays silent longer than `readTimeoutSeconds` is closed; the others go on. Sockets are
/// non-blocking: an answer the web server does not read waits on its own connection (which is
/// not read from meanwhile, so it cannot pile up more), and is dropped with its connection when
/// nothing of it could be written for `readTimeoutSeconds`; the other connections go on.
public final class FastCGIResponder {
    /// The answer to one request: the CGI response (RFC 3875 §6) and a line for the server's error log.
    public struct Reply: Sendable {
        public var stdout: [UInt8]
        public var stderr: String?

        public init(stdout: [UInt8], stderr: String? = nil) {
            self.stdout = stdout
            self.stderr = stderr
        }
    }

    public let listener: FastCGIListener
    /// Read for each new connection, so a reload can change the body limit.
    public var limits: FastCGIConnection.Limits
    /// How long a connection may stay silent (mid-request, or idle between kept-alive requests).
    public var readTimeoutSeconds = 30
    /// Called on SIGHUP, between requests.
    public var onReload: (() -> Void)?
    /// Where connection problems are reported (one line each, never request data beyond the reason).
    public var log: (String) -> Void = { _ in }
    private let handler: ([FastCGIRequest]) -> [Reply]
    private var stopping = false
    private var clients: [Client] = []
    private var buffer = [UInt8](repeating: 0, count: 65536)

    /// One accepted connection: its parser, when it last sent something or took some of its
    /// answer, what is still to be written.
    private final class Client {
        let fd: Int32
        let connection: FastCGIConnection
        var lastHeard: Int64
        var output: [UInt8] = []
        var closeAfterWrite = false
        var isClosed = false
        /// Requests answered and management records replied to.
        var exchanges = 0

        init(fd: Int32, limits: FastCGIConnection.Limits, now: Int64) {
            self.fd = fd
            self.connection = FastCGIConnection(limits: limits)
            self.lastHeard = now
        }
    }

    /// `handler` gets the requests completed in one round (at least one) and returns one reply each, in order.
    public init(listener: FastCGIListener, limits: FastCGIConnection.Limits, handler: @escaping ([FastCGIRequest]) -> [Reply]) {
        self.listener = listener
        self.limits = limits
        self.handler = handler
    }

    /// Serves until SIGTERM (or SIGINT). Installs its own handlers for SIGTERM, SIGINT and SIGHUP,
    /// and ignores SIGPIPE so that a web server that hung up costs only its connection. After
    /// SIGTERM it accepts nothing more, closes idle connections, finishes the requests already
    /// begun, and returns when no connection is left.
    public func serve() {
        signal(SIGPIPE, SIG_IGN)
        // Keep up to 64 MB of freed memory rather than hand it back after every round: each
        // round allocates and frees the same few hundred kilobytes, and returning them (brk) and
        // taking them again (a page fault per fresh page) cost more kernel time than the answers' writes.
        _ = cposix_keep_freed_memory(64 << 20, 1 << 20)
        for watched in [SIGTERM, SIGINT, SIGHUP] { _ = cposix_watch_signal(watched) }
        // Non-blocking accept: with several workers on one socket, another may take the connection
        // that woke this one.
        _ = fcntl(listener.fd, F_SETFL, fcntl(listener.fd, F_GETFL) | O_NONBLOCK)
        var pollers: [pollfd] = []
        while true {
            if checkSignals() {
                for client in clients where client.connection.isIdle && client.output.isEmpty { close(client) }
                clients.removeAll { $0.isClosed }
                if clients.isEmpty { return }
            }
            let listening = !stopping && (clients.count < max(1, limits.maxConnections) || idleClient() != nil)
            pollers.removeAll(keepingCapacity: true)
            // A connection with an answer still to write waits for room to write it, and sends no
            // more requests until it is written.
            for client in clients {
                pollers.append(pollfd(fd: client.fd, events: Int16(client.output.isEmpty ? POLLIN : POLLOUT), revents: 0))
            }
            if listening { pollers.append(pollfd(fd: listener.fd, events: Int16(POLLIN), revents: 0)) }
            let ready = poll(&pollers, nfds_t(pollers.count), 250)
            let now = Self.milliseconds()
            if ready <= 0 {
                dropSilent(now: now)
                continue
            }
            var requests: [(client: Client, request: FastCGIRequest)] = []
            for (index, client) in clients.enumerated() where pollers[index].revents != 0 {
                if client.output.isEmpty {
                    receive(client, now: now, into: &requests)
                } else {
                    flush(client, now: now)
                }
            }
            if !requests.isEmpty { answer(requests) }
            for client in clients where !client.isClosed && (!client.output.isEmpty || client.closeAfterWrite) {
                flush(client, now: now)
            }
            if listening && pollers[pollers.count - 1].revents != 0 { acceptWaiting(now: now) }
            dropSilent(now: now)
        }
    }

    /// The kept-alive connection that has been idle longest, after answering at least once.
    private func idleClient() -> Client? {
        clients.filter { !$0.isClosed && $0.exchanges > 0 && $0.connection.isIdle && $0.output.isEmpty }
            .min { $0.lastHeard < $1.lastHeard }
    }

    /// Takes every connection waiting on the listener, up to the limit. At the limit, a kept-alive
    /// connection that sits idle gives way to a waiting one (the web server reconnects when it
    /// needs to).
    private func acceptWaiting(now: Int64) {
        while true {
            if clients.count >= max(1, limits.maxConnections) {
                guard let idle = idleClient() else { return }
                close(idle)
                clients.removeAll { $0.isClosed }
            }
            let fd = accept(listener.fd, nil, nil)
            guard fd >= 0 else { return }
            // Never block on one peer: a write that does not fit waits for POLLOUT instead.
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            var yes: Int32 = 1
            // Each answer goes out in one write: send it at once rather than wait for an ACK (Nagle).
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &yes, socklen_t(MemoryLayout<Int32>.size))
            clients.append(Client(fd: fd, limits: limits, now: now))
        }
    }

    /// Reads what `client` sent and collects the requests it completes.
    private func receive(_ client: Client, now: Int64, into requests: inout [(client: Client, request: FastCGIRequest)]) {
        let count = buffer.withUnsafeMutableBytes { read(client.fd, $0.baseAddress, $0.count) }
        if count < 0 && (errno == EINTR || errno == EAGAIN) { return }
        guard count > 0 else {
            if !client.connection.isIdle { log("connection closed by the web server in the middle of a request") }
            close(client)
            return
        }
        client.lastHeard = now
        let events: [FastCGIConnection.Event]
        do {
            events = try client.connection.feed(Array(buffer[0..<count]))
        } catch {
            log("connection closed: \(error)")
            close(client)
            return
        }
        for event in events {
            switch event {
            case .send(let bytes):
                client.exchanges += 1
                client.output += bytes
            case .close:
                client.closeAfterWrite = true
                return
            case .request(let request):
                requests.append((client, request))
                if !request.keepConnection { return }   // nothing after it is read
            }
        }
    }

    /// Runs the handler on the round's requests and queues each answer on its connection.
    private func answer(_ requests: [(client: Client, request: FastCGIRequest)]) {
        let replies = handler(requests.map(\.request))
        precondition(replies.count == requests.count, "one reply per request")
        for ((client, request), reply) in zip(requests, replies) {
            client.output += FastCGIRecord.stream(.stdout, requestID: request.id, reply.stdout)
            if let line = reply.stderr {
                client.output += FastCGIRecord.stream(.stderr, requestID: request.id, Array((line + "\n").utf8))
            }
            client.output += FastCGIRecord.endRequest(requestID: request.id, .requestComplete)
            client.exchanges += 1
            if !request.keepConnection { client.closeAfterWrite = true }
        }
    }

    /// Writes what is queued for `client` (one write, as a rule) and keeps what did not fit for
    /// when the socket has room; closes it when it asked for that and all is written.
    private func flush(_ client: Client, now: Int64) {
        var sent = 0
        let bytes = client.output
        defer { client.output = sent == 0 ? bytes : Array(bytes[sent...]) }
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes { write(client.fd, $0.baseAddress! + sent, bytes.count - sent) }
            if count < 0 && errno == EINTR { continue }
            if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
            guard count > 0 else {
                log("connection closed: the web server stopped reading the answer")
                close(client)
                return
            }
            sent += count
            client.lastHeard = now
        }
        if client.closeAfterWrite { close(client) }
    }

    /// Closes connections silent for longer than the read timeout, and forgets closed ones.
    private func dropSilent(now: Int64) {
        let limit = Int64(readTimeoutSeconds) * 1000
        for client in clients where !client.isClosed && now - client.lastHeard >= limit {
            if !client.output.isEmpty {
                log("connection closed: the web server took none of its answer for \(readTimeoutSeconds) s")
            } else if !client.connection.isIdle {
                log("connection closed: no data for \(readTimeoutSeconds) s in the middle of a request")
            }
            close(client)
        }
        clients.removeAll { $0.isClosed }
    }

    private func close(_ client: Client) {
        guard !client.isClosed else { return }
        client.isClosed = true
        _ = Glibc.close(client.fd)
    }

    /// True when the responder should stop; runs a pending reload.
    private func checkSignals() -> Bool {
        if cposix_take_signal(SIGTERM) == 1 || cposix_take_signal(SIGINT) == 1 { stopping = true }
        if cposix_take_signal(SIGHUP) == 1 { onReload?() }
        return stopping
    }

    private static func milliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }
}
