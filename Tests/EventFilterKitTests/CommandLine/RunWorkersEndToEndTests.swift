import Foundation
import XCTest

/// `run --workers N` on SQLite, where one run works at a time: above 1 it is refused with one
/// line and changes nothing; 1 is an ordinary run. (On PostgreSQL, ClaimStoreEndToEndTests runs
/// four workers at one digest tick.)
final class RunWorkersEndToEndTests: XCTestCase {
    private let now = "2026-05-04T10:00:00Z"

    private func makeRoot() throws -> TestRoot {
        let root = try TestRoot()
        try root.ok("user", "add", "r@example.com", now: now)
        try root.ok("subscribe", "r@example.com", "2", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=Story 5", now: now)
        return root
    }

    func testMoreThanOneWorkerIsRefusedOnSQLiteAndChangesNothing() throws {
        try TestRoot.requireSQLite("the refusal names SQLite's one writer at a time")
        let root = try makeRoot()
        let before = try root.dump()
        let refused = try root.run(["run", "--workers", "4"], now: now)
        XCTAssertEqual(refused.status, 2)
        XCTAssertEqual(refused.stdout, "")
        XCTAssertEqual(refused.stderr, "eventfilter: --workers 4: SQLite takes one writer at a time, so one run works at a time; "
            + "more workers need [DatabaseSettings] Backend=postgresql\n")
        XCTAssertEqual(try root.dump(), before, "nothing changed, not even an ezcurrenttime event")
        XCTAssertEqual(try root.mailFiles().count, 0)
    }

    func testOneWorkerIsAnOrdinaryRun() throws {
        let root = try makeRoot()
        let run = try root.run(["run", "--workers", "1", "--verbose"], now: now)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.hasPrefix("handled 2 events; queued 1 messages (0 digests); held 0 items for digests in "), run.stdout)
        XCTAssertEqual(try root.mails().map(\.to), ["r@example.com"])
    }

    func testWorkersMustBeANumberFromOneTo64AndExcludeDryRun() throws {
        let root = try makeRoot()
        let before = try root.dump()
        for (arguments, message) in [
            (["--workers", "0"], "expected a number of workers from 1 to 64, got '0'"),
            (["--workers", "65"], "expected a number of workers from 1 to 64, got '65'"),
            (["--workers", "2", "--dry-run"], "cannot be used together"),
        ] {
            let result = try root.run(["run"] + arguments, now: now)
            XCTAssertEqual(result.status, 2, "\(arguments)")
            XCTAssertTrue(result.stderr.hasPrefix("eventfilter: ") && result.stderr.contains(message), result.stderr)
            XCTAssertEqual(result.stderr.filter { $0 == "\n" }.count, 1, "one line: \(result.stderr)")
        }
        XCTAssertEqual(try root.dump(), before)
    }
}
