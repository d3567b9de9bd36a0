import EventFilterKit
import Foundation
import XCTest

/// One real PostgreSQL server for the whole test run, from the system's PostgreSQL binaries
/// (Debian's `postgresql` package puts them in /usr/lib/postgresql/<version>/bin).
///
/// Started on first use with `initdb` and `pg_ctl` in a temporary directory, listening on a Unix
/// socket in that directory only (no TCP port), and stopped (`pg_ctl stop -m immediate`) and
/// removed when the test bundle finishes. PostgreSQL refuses to run as root, so as root the
/// server runs as the `postgres` user (`runuser`). Every wait is bounded. When the server cannot
/// start, `server()` throws and the test fails, saying why: the tests never skip.
///
///     let database = try TestPostgres.server().makeDatabase()   // a database of the test's own
///     let db = try database.connect()
final class TestPostgres: Sendable {
    /// The data directory, the socket and the server's log live here.
    let directory: URL
    let binDirectory: URL
    private let runsAsPostgresUser: Bool

    /// The role tests connect as: the superuser `initdb` made, trusted on the socket.
    static let superuser = "postgres"
    /// A role that must give a password (scram-sha-256 on the socket), for authentication tests.
    static let passwordRole = "eventfilter_password_user"

    /// A failure to start the server, with the reason and the end of its log.
    struct StartError: Error, CustomStringConvertible, Sendable {
        let description: String
    }

    private static let shared: Result<TestPostgres, StartError> = {
        do { return .success(try TestPostgres()) }
        catch let error as StartError { return .failure(error) }
        catch { return .failure(StartError(description: "\(error)")) }
    }()

    /// The running server, started on the first call.
    static func server() throws -> TestPostgres {
        try shared.get()
    }

    /// The connection string of `database` on this server, as the superuser.
    func connectionString(database: String, user: String = TestPostgres.superuser) -> String {
        "host=\(directory.path) user=\(user) dbname=\(database)"
    }

    /// A new, empty database with a unique name, dropped when the returned value goes away.
    func makeDatabase() throws -> TestPostgresDatabase {
        let name = "eventfilter_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        let admin = try PostgresConnection(connectionString(database: "postgres"))
        // A name cannot be a bound parameter; this one is made above from hex digits only.
        try admin.executeScript("CREATE DATABASE \(name)")
        return TestPostgresDatabase(server: self, name: String(name))
    }

    private init() throws {
        Self.removeAbandonedServers()
        guard let bin = Self.findBinDirectory() else {
            throw StartError(description: "PostgreSQL's server is not installed: no /usr/lib/postgresql/<version>/bin/initdb (Debian's postgresql package; `make test-deps` installs it)")
        }
        binDirectory = bin
        runsAsPostgresUser = getuid() == 0
        // Short: a Unix socket's path must fit in 107 bytes.
        directory = URL(fileURLWithPath: "/tmp/eventfilter-pg-\(UUID().uuidString.prefix(8))")
        let fileManager = FileManager.default
        try fileManager.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data("\(getpid())\n".utf8).write(to: directory.appendingPathComponent("owner.pid"))
        if runsAsPostgresUser {
            guard let account = getpwnam("postgres") else {
                throw StartError(description: "running as root, but there is no postgres user to run PostgreSQL as (Debian's postgresql package creates it)")
            }
            guard chown(directory.path, account.pointee.pw_uid, account.pointee.pw_gid) == 0 else {
                throw StartError(description: "cannot give \(directory.path) to the postgres user: errno \(errno)")
            }
        }
        do {
            try start()
        } catch {
            stop()
            throw error
        }
        XCTestObservationCenter.shared.addTestObserver(StopAtEnd(server: self))
    }

    private var dataDirectory: String { directory.appendingPathComponent("data").path }
    private var logFile: String { directory.appendingPathComponent("server.log").path }

    private func start() throws {
        try run("initdb", ["-D", dataDirectory, "-U", Self.superuser, "--auth=trust", "--encoding=UTF8",
                           "--locale=C", "--no-sync", "--no-instructions"], timeout: 120)
        let configuration = """

            # eventfilter tests: a Unix socket in the test directory only, and no durability
            # (the data dies with the test run).
            listen_addresses = ''
            unix_socket_directories = '\(directory.path)'
            fsync = off
            synchronous_commit = off
            full_page_writes = off
            max_connections = 50

            """
        try append(configuration, to: "postgresql.conf")
        // The first matching line wins: the password role must authenticate, everyone else is trusted.
        let hba = directory.appendingPathComponent("data/pg_hba.conf")
        let rules = try String(contentsOf: hba, encoding: .utf8)
        try Data("local all \(Self.passwordRole) scram-sha-256\n\(rules)".utf8).write(to: hba)
        try run("pg_ctl", ["-D", dataDirectory, "-l", logFile, "-w", "-t", "60", "start"], timeout: 90)
        // pg_ctl -w returns once the server accepts connections; prove it with one.
        let deadline = Date().addingTimeInterval(30)
        while true {
            do {
                _ = try PostgresConnection(connectionString(database: "postgres"))
                return
            } catch where Date() < deadline {
                usleep(100_000)
            } catch {
                throw StartError(description: "PostgreSQL started but takes no connection: \(error); log: \(logTail())")
            }
        }
    }

    /// Stops the server at once (no checkpoint: the data is thrown away) and removes its directory.
    func stop() {
        if FileManager.default.fileExists(atPath: directory.appendingPathComponent("data/postmaster.pid").path) {
            try? run("pg_ctl", ["-D", dataDirectory, "-m", "immediate", "-w", "-t", "30", "stop"], timeout: 45)
        }
        try? FileManager.default.removeItem(at: directory)
    }

    private func append(_ text: String, to file: String) throws {
        let handle = try FileHandle(forWritingTo: directory.appendingPathComponent("data/\(file)"))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
    }

    /// Runs one of the server's programs (as the postgres user when we are root), killed after
    /// `timeout` seconds; throws with its output when it fails.
    ///
    /// Spawned directly rather than with Foundation's `Process`: `pg_ctl start` leaves the server
    /// running, and `Process` learns that its child ended only when every holder of a descriptor it
    /// gave the child has closed it, which the server, inheriting it, never does.
    private func run(_ program: String, _ arguments: [String], timeout: TimeInterval) throws {
        let output = directory.appendingPathComponent("\(program).out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        // `env -C` starts the program in the test directory: the postgres user may not be allowed
        // into the test's working directory.
        var argv = ["/usr/bin/env", "-C", directory.path, binDirectory.appendingPathComponent(program).path] + arguments
        if runsAsPostgresUser {
            if let account = getpwnam("postgres") { _ = chown(output.path, account.pointee.pw_uid, account.pointee.pw_gid) }
            argv = ["/usr/sbin/runuser", "-u", "postgres", "--"] + argv
        }
        Self.closeDescriptorsOnExec()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output.path, O_WRONLY | O_APPEND, 0)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let cArguments = argv.map { strdup($0) } + [nil]
        let cEnvironment = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (cArguments + cEnvironment).forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, cArguments, cEnvironment)
        guard spawned == 0 else {
            throw StartError(description: "cannot start \(argv[0]): errno \(spawned)")
        }
        let text = { ((try? String(contentsOf: output, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines) }
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(timeout)
        while waitpid(pid, &status, WNOHANG) == 0 {
            guard Date() < deadline else {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                throw StartError(description: "\(program) did not finish in \(Int(timeout)) s: \(text()) \(logTail())")
            }
            usleep(20_000)
        }
        // The wait status: exited normally when the low 7 bits are 0, the exit code above them.
        let exitCode = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        guard exitCode == 0 else {
            throw StartError(description: "\(program) \(arguments.joined(separator: " ")) failed (exit \(exitCode)): \(text()) \(logTail())")
        }
    }

    /// Marks every descriptor above stderr close-on-exec, so the server, which outlives the tests'
    /// other children, holds none of theirs (a pipe a test waits on would never see its end).
    private static func closeDescriptorsOnExec() {
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for descriptor in descriptors.compactMap({ Int32($0) }) where descriptor > 2 {
            let flags = fcntl(descriptor, F_GETFD)
            if flags >= 0 { _ = fcntl(descriptor, F_SETFD, flags | FD_CLOEXEC) }
        }
    }

    private func logTail() -> String {
        guard let log = try? String(contentsOfFile: logFile, encoding: .utf8) else { return "" }
        return "server log: " + log.split(separator: "\n").suffix(10).joined(separator: " | ")
    }

    /// The newest PostgreSQL installed, by version number.
    private static func findBinDirectory() -> URL? {
        let root = URL(fileURLWithPath: "/usr/lib/postgresql")
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return versions
            .sorted { (Double($0) ?? 0) > (Double($1) ?? 0) }
            .map { root.appendingPathComponent("\($0)/bin") }
            .first { FileManager.default.isExecutableFile(atPath: $0.appendingPathComponent("initdb").path) }
    }

    /// Servers left by a test run that died before stopping them (killed, crashed): their owner
    /// process is gone. Stop and remove them, so they do not pile up.
    private static func removeAbandonedServers() {
        let tmp = URL(fileURLWithPath: "/tmp")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: tmp.path)) ?? []
        for name in names where name.hasPrefix("eventfilter-pg-") {
            let directory = tmp.appendingPathComponent(name)
            guard let text = try? String(contentsOf: directory.appendingPathComponent("owner.pid"), encoding: .utf8),
                  let owner = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)),
                  kill(owner, 0) != 0, errno == ESRCH else { continue }
            // The postmaster's pid is the first line of postmaster.pid; SIGQUIT is an immediate stop.
            if let pidFile = try? String(contentsOf: directory.appendingPathComponent("data/postmaster.pid"), encoding: .utf8),
               let line = pidFile.split(separator: "\n").first, let postmaster = pid_t(line) {
                kill(postmaster, SIGQUIT)
                for _ in 0..<100 where kill(postmaster, 0) == 0 { usleep(50_000) }
            }
            try? FileManager.default.removeItem(at: directory)
        }
    }
}

/// A database of one test's own on the shared server, dropped (its connections cut) at the end.
final class TestPostgresDatabase {
    let server: TestPostgres
    let name: String

    init(server: TestPostgres, name: String) {
        self.server = server
        self.name = name
    }

    var connectionString: String { server.connectionString(database: name) }

    func connect() throws -> PostgresConnection {
        try PostgresConnection(connectionString)
    }

    deinit {
        if let admin = try? PostgresConnection(server.connectionString(database: "postgres")) {
            try? admin.executeScript("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        }
    }
}

/// Stops the shared server when the test bundle has run.
private final class StopAtEnd: NSObject, XCTestObservation {
    let server: TestPostgres

    init(server: TestPostgres) { self.server = server }

    func testBundleDidFinish(_ testBundle: Bundle) {
        server.stop()
    }
}
