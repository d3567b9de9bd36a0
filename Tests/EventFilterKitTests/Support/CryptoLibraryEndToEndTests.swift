import Foundation
import XCTest

/// libcrypto is opened when something first hashes, signs or draws random bytes, not linked into
/// the program: a cron `run` with nothing to do never loads it, and a machine without it gets one
/// line naming the file, with nothing written.
final class CryptoLibraryEndToEndTests: XCTestCase {
    private let now = "2026-05-04T10:00:00Z"
    private let missing = ["EVENTFILTER_LIBCRYPTO": "/nonexistent/libcrypto.so.3"]

    func testANoOpRunNeedsNoLibcrypto() throws {
        let root = try TestRoot()
        try root.ok("run", now: now)

        let quiet = try root.run(["run"], now: "2026-05-04T10:05:00Z", environment: missing)

        XCTAssertEqual(quiet.status, 0, quiet.stderr)
        XCTAssertEqual(quiet.stdout + quiet.stderr, "")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM run_log WHERE error IS NULL"), 2)
    }

    func testMissingLibcryptoIsOneLineAndChangesNothingThenTheLibraryWorks() throws {
        let root = try TestRoot()
        try root.ok("run", now: now)
        let before = try root.dump()

        // Adding a user draws its unsubscribe tokens from libcrypto's random generator.
        let failed = try root.run(["user", "add", "ann@example.com"], now: now, environment: missing)

        XCTAssertEqual(failed.status, 1)
        XCTAssertEqual(failed.stdout, "")
        XCTAssertEqual(failed.stderr, "eventfilter: libcrypto (OpenSSL 3) could not be loaded: /nonexistent/libcrypto.so.3: "
                       + "cannot open shared object file: No such file or directory\n")
        XCTAssertEqual(try root.dump(), before, "nothing changes")

        try root.ok("user", "add", "ann@example.com", now: now)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM \"user\" WHERE email = 'ann@example.com' AND length(token) = 32"), 1)
    }
}
