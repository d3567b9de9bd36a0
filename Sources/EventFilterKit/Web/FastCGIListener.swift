#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The listening socket a FastCGI responder accepts on: a TCP address, a Unix socket path, or the
/// socket a web server hands over on file descriptor 0 (lighttpd's `bin-path`, `spawn-fcgi`:
/// the FastCGI specification's FCGI_LISTENSOCK_FILENO).
///
///     let listener = try FastCGIListener.tcp("127.0.0.1:9000")
///     let listener = try FastCGIListener.unix("/run/eventfilter/fcgi.sock")
///     if let listener = FastCGIListener.inherited() { ... }   // fd 0 is a listening socket
public final class FastCGIListener {
    public let fd: Int32
    /// The socket file to remove on close, for a Unix socket this process created.
    private let ownedPath: String?
    private var isClosed = false

    init(fd: Int32, ownedPath: String?) {
        self.fd = fd
        self.ownedPath = ownedPath
    }

    deinit { close() }

    /// Closes the socket (and removes the socket file this process created).
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        _ = Glibc.close(fd)
        if let ownedPath { unlink(ownedPath) }
    }

    /// The socket on fd 0, when fd 0 is a listening stream socket (getsockname and SO_ACCEPTCONN).
    public static func inherited() -> FastCGIListener? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(0, $0, &length) }
        }
        guard named == 0 else { return nil }
        var accepting: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(0, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &size) == 0, accepting == 1 else { return nil }
        return FastCGIListener(fd: 0, ownedPath: nil)
    }

    /// Listens on `HOST:PORT` (an IPv4 address, `localhost`, or `[IPv6]:PORT`).
    public static func tcp(_ address: String) throws -> FastCGIListener {
        guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]), port > 0 else {
            throw FastCGIServerError("--listen must be HOST:PORT, e.g. 127.0.0.1:9000, got '\(address.prefix(80))'")
        }
        var host = String(address[..<colon])
        if host == "localhost" { host = "127.0.0.1" }
        if host.hasPrefix("[") && host.hasSuffix("]") {
            var socketAddress = sockaddr_in6()
            socketAddress.sin6_family = sa_family_t(AF_INET6)
            socketAddress.sin6_port = port.bigEndian
            guard inet_pton(AF_INET6, String(host.dropFirst().dropLast()), &socketAddress.sin6_addr) == 1 else {
                throw FastCGIServerError("--listen: '\(host.prefix(80))' is not an IPv6 address")
            }
            return try bound(family: AF_INET6, socketAddress, description: address)
        }
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &socketAddress.sin_addr) == 1 else {
            throw FastCGIServerError("--listen: '\(host.prefix(80))' is not an IPv4 address (use 127.0.0.1, not a host name)")
        }
        return try bound(family: AF_INET, socketAddress, description: address)
    }

    /// Listens on a Unix socket at `path`, created with mode 0660 so that the web server's group
    /// can connect. A stale socket file (nobody listening) is replaced; a live one or any other
    /// kind of file is an error.
    public static func unix(_ path: String) throws -> FastCGIListener {
        var socketAddress = sockaddr_un()
        socketAddress.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: socketAddress.sun_path)
        guard !path.isEmpty, path.utf8.count < capacity else {
            throw FastCGIServerError("--socket: the path must be 1 to \(capacity - 1) bytes long")
        }
        withUnsafeMutableBytes(of: &socketAddress.sun_path) { buffer in
            for (index, byte) in path.utf8.enumerated() { buffer[index] = byte }
        }
        var status = stat()
        if lstat(path, &status) == 0 {
            guard status.st_mode & S_IFMT == S_IFSOCK else {
                throw FastCGIServerError("--socket: \(path) exists and is not a socket")
            }
            let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            let live = withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(probe, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            } == 0
            _ = Glibc.close(probe)
            guard !live else { throw FastCGIServerError("--socket: another process is listening on \(path)") }
            unlink(path)
        }
        let previous = umask(0o117)
        defer { umask(previous) }
        let listener = try bound(family: AF_UNIX, socketAddress, description: path)
        return FastCGIListener(fd: listener.takeDescriptor(), ownedPath: path)
    }

    /// Hands the descriptor to another owner: this object no longer closes it.
    private func takeDescriptor() -> Int32 {
        isClosed = true
        return fd
    }

    private static func bound<Address>(family: Int32, _ address: Address, description: String) throws -> FastCGIListener {
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw FastCGIServerError("cannot create a socket for \(description): \(String(cString: strerror(errno)))") }
        var yes: Int32 = 1
        if family != AF_UNIX { setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size)) }
        var copy = address
        let result = withUnsafePointer(to: &copy) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<Address>.size)) }
        }
        guard result == 0, listen(fd, 128) == 0 else {
            let reason = String(cString: strerror(errno))
            _ = Glibc.close(fd)
            throw FastCGIServerError("cannot listen on \(description): \(reason)")
        }
        return FastCGIListener(fd: fd, ownedPath: nil)
    }
}
