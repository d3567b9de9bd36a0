import CPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs N responder processes on one listening socket (`eventfilter fastcgi --workers N`): each
/// child is this program started again with the socket as its fd 0, the way a web server's
/// `bin-path` starts it. The parent restarts a child that dies and passes SIGTERM and SIGHUP on.
///
///     let supervisor = FastCGISupervisor(listener: listener, workers: 2,
///                                        executable: "/proc/self/exe", arguments: ["eventfilter", "--root", root, "fastcgi"],
///                                        environment: ["PATH=/usr/bin:/bin"])
///     try supervisor.run()    // returns when SIGTERM has stopped every child
///
/// Children are started with posix_spawn rather than a bare fork: a forked copy of a running Swift
/// process would inherit its runtime's threads' locks; a fresh program inherits only the socket.
public final class FastCGISupervisor {
    public let listener: FastCGIListener
    public let workers: Int
    public let executable: String
    public let arguments: [String]
    public let environment: [String]
    /// Where child deaths are reported.
    public var log: (String) -> Void = { _ in }
    private var children: [pid_t: Int64] = [:]   // pid → when it was started (monotonic ms)

    public init(listener: FastCGIListener, workers: Int, executable: String, arguments: [String], environment: [String]) {
        self.listener = listener
        self.workers = workers
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
    }

    /// Starts the children and supervises them until SIGTERM or SIGINT, which every child gets in
    /// turn; returns once all have exited.
    public func run() throws {
        for watched in [SIGTERM, SIGINT, SIGHUP, SIGCHLD] { _ = cposix_watch_signal(watched) }
        for _ in 0..<workers { try spawn() }
        var lastRestart: Int64 = 0
        while true {
            if cposix_take_signal(SIGTERM) == 1 || cposix_take_signal(SIGINT) == 1 {
                stopAll()
                return
            }
            if cposix_take_signal(SIGHUP) == 1 {
                for pid in children.keys { kill(pid, SIGHUP) }
            }
            _ = cposix_take_signal(SIGCHLD)
            reap()
            // A child that cannot start (a broken installation) is retried once a second, not in a tight loop.
            if children.count < workers && Self.milliseconds() - lastRestart >= 1000 {
                lastRestart = Self.milliseconds()
                while children.count < workers { try spawn() }
            }
            var pause = timespec(tv_sec: 0, tv_nsec: 100_000_000)
            nanosleep(&pause, nil)
        }
    }

    /// The pids of the running children.
    public var childPIDs: [pid_t] { Array(children.keys) }

    private func spawn() throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, listener.fd, 0)
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard status == 0 else {
            throw FastCGIServerError("cannot start a worker: \(String(cString: strerror(status)))")
        }
        children[pid] = Self.milliseconds()
    }

    private func reap() {
        var status: Int32 = 0
        while true {
            let pid = waitpid(-1, &status, WNOHANG)
            guard pid > 0 else { return }
            guard children.removeValue(forKey: pid) != nil else { continue }
            log("worker \(pid) \(Self.describe(status)); starting another")
        }
    }

    private func stopAll() {
        for pid in children.keys { kill(pid, SIGTERM) }
        for pid in children.keys {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
        children.removeAll()
    }

    private static func describe(_ status: Int32) -> String {
        let signal = status & 0x7F
        return signal == 0 ? "exited with status \((status >> 8) & 0xFF)" : "was killed by signal \(signal)"
    }

    private static func milliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }
}
