import Foundation
import XCTest

/// What a process start costs: libcurl and libpq (with their thirty-odd libraries of TLS,
/// Kerberos, LDAP, HTTP/2) are not linked, and a cron `run` with nothing to do on SQLite with
/// file delivery loads neither. The dynamic loader says which files it opens (LD_DEBUG=files).
final class StartupEndToEndTests: XCTestCase {
    func testTheExecutableLinksNeitherLibcurlNorLibpq() throws {
        let linked = try Self.output(of: "/usr/bin/ldd", [TestRoot.executable.path])
        XCTAssertTrue(linked.contains("libsqlite3.so"), linked)
        XCTAssertFalse(linked.contains("libcurl"), linked)
        XCTAssertFalse(linked.contains("libpq"), linked)
    }

    func testANoOpRunLoadsLibpqOnlyForAPostgreSQLStoreAndLibcurlNever() throws {
        let root = try TestRoot()
        try root.ok("run")

        let traced = try root.run(["run"], environment: ["LD_DEBUG": "files"])

        XCTAssertEqual(traced.status, 0, traced.stderr)
        let opened = Set(traced.stderr.split(separator: "\n").compactMap { line -> String? in
            guard let range = line.range(of: "file=") else { return nil }
            return String(line[range.upperBound...].prefix { $0 != " " && $0 != "[" })
        })
        XCTAssertTrue(opened.contains("libsqlite3.so.0"), "\(opened.sorted())")
        XCTAssertFalse(opened.contains { $0.hasPrefix("libcurl") }, "\(opened.sorted())")
        XCTAssertEqual(opened.contains { $0.hasPrefix("libpq") }, TestBackend.current == .postgresql, "\(opened.sorted())")
    }

    private static func output(of program: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        return String(decoding: data, as: UTF8.self)
    }
}
