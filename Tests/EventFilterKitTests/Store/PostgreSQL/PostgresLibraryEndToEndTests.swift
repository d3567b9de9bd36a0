import Foundation
import XCTest

/// libpq is opened when a PostgreSQL store is first used, not linked into the program: a machine
/// without it gets one line naming the file, and nothing is created.
final class PostgresLibraryEndToEndTests: XCTestCase {
    /// A server that cannot exist: the first test never reaches it, the second shows libpq was
    /// loaded on demand by getting as far as trying it.
    private let connectionString = "host=/nonexistent/socket-directory dbname=eventfilter"

    private func postgresRoot() throws -> TestRoot {
        let root = try TestRoot()
        // Replaces the suite's own database settings on the PostgreSQL pass.
        try root.write("settings/override/site.ini.append", "[DatabaseSettings]\nBackend=postgresql\nConnectionString=\(connectionString)\n")
        return root
    }

    func testMissingLibpqIsOneLineAndCreatesNothing() throws {
        let root = try postgresRoot()

        let missing = try root.run(["run"], environment: ["EVENTFILTER_DATABASE": connectionString,
                                                          "EVENTFILTER_LIBPQ": "/nonexistent/libpq.so.5"])

        XCTAssertEqual(missing.status, 1)
        XCTAssertEqual(missing.stdout, "")
        XCTAssertEqual(missing.stderr, "eventfilter: PostgreSQL error: the PostgreSQL store needs libpq, which could not be loaded:"
                       + " /nonexistent/libpq.so.5: cannot open shared object file: No such file or directory\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: root.url.appendingPathComponent("var").path), "no store was made")
    }

    func testTheSystemLibpqIsLoadedWhenTheStoreIsOpened() throws {
        let root = try postgresRoot()

        let result = try root.run(["run"], environment: ["EVENTFILTER_DATABASE": connectionString])

        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.hasPrefix("eventfilter: PostgreSQL error: cannot connect to \(connectionString): "), result.stderr)
        XCTAssertTrue(result.stderr.contains("/nonexistent/socket-directory"), result.stderr)
        XCTAssertEqual(result.stderr.filter { $0 == "\n" }.count, 1, result.stderr)
    }
}
