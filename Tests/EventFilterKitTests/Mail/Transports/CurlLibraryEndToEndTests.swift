import Foundation
import XCTest

/// libcurl is opened when SMTP delivery first needs it, not linked into the program: a machine
/// without it gets one line naming the file and keeps every queued message; with it, delivery
/// works as ever (against Tests/Support/smtp_server.py).
final class CurlLibraryEndToEndTests: XCTestCase {
    private var pool: SMTPServerPool!
    private let now = "2026-05-04T10:00:00Z"

    override func setUpWithError() throws {
        pool = try SMTPServerPool("ef-curl-library")
    }

    override func tearDown() {
        pool.stop()
    }

    func testMissingLibcurlIsOneLineAndChangesNothingThenTheLibraryDelivers() throws {
        let server = try pool.start()
        let root = try TestRoot(siteINI: TestRoot.smtpSiteINI(port: server.port))
        for email in ["ann@example.com", "bob@example.com"] {
            try root.ok("user", "add", email, now: now)
            try root.ok("subscribe", email, "2", now: now)
        }
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=News 5", now: now)
        let before = try root.dump()

        let missing = try root.run(["run"], now: now, environment: ["EVENTFILTER_LIBCURL": "/nonexistent/libcurl.so.4"])

        XCTAssertEqual(missing.status, 1)
        XCTAssertEqual(missing.stdout, "")
        XCTAssertEqual(missing.stderr, "eventfilter: smtp 127.0.0.1:\(server.port): SMTP delivery needs libcurl, which could not"
                       + " be loaded: /nonexistent/libcurl.so.4: cannot open shared object file: No such file or directory\n")
        XCTAssertEqual(try root.dump(), before, "nothing changes: the event waits, unhandled")
        XCTAssertEqual(try server.count("connections"), 0)

        // The system's libcurl, found by its soname the first time the transport needs it.
        let delivered = try root.run(["run"], now: "2026-05-04T10:05:00Z")
        XCTAssertEqual(delivered.status, 0, delivered.stderr)
        XCTAssertEqual(delivered.stdout + delivered.stderr, "")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox WHERE state = 'sent'"), 2)
        XCTAssertEqual(Set(try server.received().flatMap(\.envelope.recipients)), ["ann@example.com", "bob@example.com"])
    }
}
