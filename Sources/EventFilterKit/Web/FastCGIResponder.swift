import CPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A FastCGI responder: accepts connections on a listening socket and answers their requests one
/// after another for its whole life, with whatever `handler` holds open (settings, the store).
///
///     let responder = FastCGIResponder(listener: listener, limits: .init(bodyLimit: 1 << 20)) { request in
///         FastCGIResponder.Reply(stdout: response.cgiBytes, stderr: nil)
///     }
///     responder.onReload = { reloadSettings() }    // SIGHUP
///     responder.serve()                            // returns after SIGTERM, once the request in hand is answered
///
/// A connection that breaks the protocol, sends parameters over the limit, hangs up mid-request
/// or stalls longer than `readTimeout` is closed; the responder goes on with the next one.
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
    private let handler: (FastCGIRequest) -> Reply
    private var stopping = false

    public init(listener: FastCGIListener, limits: FastCGIConnection.Limits, handler: @escaping (FastCGIRequest) -> Reply) {
        self.listener = listener
        self.limits = limits
        self.handler = handler
    }

    /// Serves until SIGTERM (or SIGINT). Installs its own handlers for SIGTERM, SIGINT and SIGHUP,
    /// and ignores SIGPIPE so that a web server that hung up costs only its connection.
    public func serve() {
        signal(SIGPIPE, SIG_IGN)
        for watched in [SIGTERM, SIGINT, SIGHUP] { _ = cposix_watch_signal(watched) }
        // Non-blocking accept: with several workers on one socket, another may take the connection
        // that woke this one.
        _ = fcntl(listener.fd, F_SETFL, fcntl(listener.fd, F_GETFL) | O_NONBLOCK)
        while !checkSignals() {
            guard wait(for: listener.fd, milliseconds: 250) else { continue }
            let connection = accept(listener.fd, nil, nil)
            guard connection >= 0 else { continue }
            var timeout = timeval(tv_sec: readTimeoutSeconds, tv_usec: 0)
            setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            serveConnection(connection)
            _ = close(connection)
        }
    }

    /// True when the responder should stop; runs a pending reload.
    private func checkSignals() -> Bool {
        if cposix_take_signal(SIGTERM) == 1 || cposix_take_signal(SIGINT) == 1 { stopping = true }
        if cposix_take_signal(SIGHUP) == 1 { onReload?() }
        return stopping
    }

    /// Waits until `fd` is readable, a signal arrives, or the time is up.
    private func wait(for fd: Int32, milliseconds: Int32) -> Bool {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&poller, 1, milliseconds) > 0
    }

    private func serveConnection(_ fd: Int32) {
        let connection = FastCGIConnection(limits: limits)
        var buffer = [UInt8](repeating: 0, count: 65536)
        var silentMilliseconds = 0
        var exchanges = 0   // requests answered and management records or aborts replied to
        while true {
            // Between requests a SIGTERM ends the connection; mid-request the request is finished first.
            if connection.isIdle && checkSignals() { return }
            // One connection at a time: a kept-alive connection that sits idle gives way to a
            // waiting one (the web server reconnects when it needs to).
            let mayGiveWay = exchanges > 0 && connection.isIdle
            var pollers = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: listener.fd, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&pollers, mayGiveWay ? 2 : 1, 250)
            if ready > 0 && pollers[0].revents == 0 { return }
            guard ready > 0 else {
                silentMilliseconds += 250
                if silentMilliseconds >= readTimeoutSeconds * 1000 {
                    if !connection.isIdle { log("connection closed: no data for \(readTimeoutSeconds) s in the middle of a request") }
                    return
                }
                continue
            }
            silentMilliseconds = 0
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                if !connection.isIdle { log("connection closed by the web server in the middle of a request") }
                return
            }
            let events: [FastCGIConnection.Event]
            do {
                events = try connection.feed(Array(buffer[0..<count]))
            } catch {
                log("connection closed: \(error)")
                return
            }
            for event in events {
                switch event {
                case .send(let bytes):
                    exchanges += 1
                    guard send(bytes, to: fd) else { return }
                case .close:
                    return
                case .request(let request):
                    exchanges += 1
                    let reply = handler(request)
                    var out = FastCGIRecord.stream(.stdout, requestID: request.id, reply.stdout)
                    if let line = reply.stderr {
                        out += FastCGIRecord.stream(.stderr, requestID: request.id, Array((line + "\n").utf8))
                    }
                    out += FastCGIRecord.endRequest(requestID: request.id, .requestComplete)
                    guard send(out, to: fd), request.keepConnection else { return }
                }
            }
        }
    }

    /// Writes all of `bytes`; false when the web server went away.
    private func send(_ bytes: [UInt8], to fd: Int32) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + sent, bytes.count - sent) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                log("connection closed: the web server stopped reading the answer")
                return false
            }
            sent += count
        }
        return true
    }
}
