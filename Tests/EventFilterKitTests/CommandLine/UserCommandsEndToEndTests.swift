import Foundation
import XCTest

/// `user show`, `user set`, `user disable|enable` through the built executable.
final class UserCommandsEndToEndTests: XCTestCase {
    private let now = "2026-05-04T10:00:00Z"

    private func dumpUnchanged(_ root: TestRoot, _ arguments: [String], status: Int32, _ message: String,
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let before = try root.dump()
        let result = try root.run(arguments, now: now)
        XCTAssertEqual(result.status, status, result.stderr, file: file, line: line)
        XCTAssertEqual(result.stderr, "eventfilter: \(message)\n", file: file, line: line)
        XCTAssertEqual(result.stdout, "", file: file, line: line)
        XCTAssertEqual(try root.dump(), before, "nothing changed", file: file, line: line)
    }

    func testShowListsRulesWithNamesDigestWaitingItemsAndRecentMail() throws {
        let root = try TestRoot()
        try root.write("settings/webhooks.ini", """
            [Source-videos]
            Type=panda
            Secret=0123456789abcdef

            """)
        try root.ok("user", "add", "kari@example.com", "--name", "Kari Nordmann", "--timezone", "Europe/Oslo", now: now)
        try root.ok("subscribe", "kari@example.com", "60", now: now)
        try root.ok("subscribe", "kari@example.com", "videos", now: now)
        try root.ok("subscribe", "kari@example.com", "99", now: now)
        try root.ok("collaboration", "subscribe", "kari@example.com", "ezapprove", now: now)
        // An immediate message first, then a daily digest holding the next item.
        try root.ok("event", "add", "ezpublish", "node_id=60", "path=/1/2/60/", "name=News folder", now: now)
        try root.ok("run", now: now)
        try root.ok("digest", "kari@example.com", "daily", "08:00", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=61", "path=/1/2/60/61/", "name=Spring release", now: now)
        try root.ok("run", now: now)

        let shown = try root.ok("user", "show", "kari@example.com", now: now)
        XCTAssertEqual(shown, """
            user:          kari@example.com
            name:          Kari Nordmann
            time zone:     Europe/Oslo
            state:         enabled
            digest:        daily 08:00 (next 2026-05-05T06:00:00Z)
            subtree rule:  node 60: "News folder"
            subtree rule:  node 99: no stored event names it
            subtree rule:  node videos: webhook source videos (panda)
            collaboration: ezapprove
            waiting:       1 digest items (due 2026-05-05T06:00:00Z)
              [Test Site] Item "Spring release" was published
            recent mail:
              1\tsent\t2026-05-04T10:00:00Z\t[Test Site] Item "News folder" was published

            """)
        try dumpUnchanged(root, ["user", "show", "nobody@example.com"], status: 1, "unknown user nobody@example.com")
        try dumpUnchanged(root, ["user", "show", "nobody"], status: 2, "EMAIL: address 'nobody' has no '@'")
    }

    func testSetChangesNameZoneAndAddressAndMovesWaitingItems() throws {
        let root = try TestRoot()
        try root.ok("user", "add", "ann@example.com", now: now)
        try root.ok("user", "add", "bob@example.com", now: now)
        try root.ok("subscribe", "ann@example.com", "2", now: now)
        try root.ok("digest", "ann@example.com", "daily", "08:00", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=Hello", now: now)
        try root.ok("run", now: now)
        XCTAssertEqual(try root.scalar("SELECT send_at FROM digest_item"), 1_777_968_000, "08:00 UTC on 5 May")

        XCTAssertEqual(try root.ok("user", "set", "ann@example.com", "--timezone", "America/New_York", "--name", "Ann Editor", now: now),
                       "updated user ann@example.com: name \"Ann Editor\", time zone America/New_York\n")
        XCTAssertEqual(try root.scalar("SELECT send_at FROM digest_item"), 1_777_896_000, "08:00 in New York on 4 May (12:00Z)")
        XCTAssertEqual(try root.ok("user", "set", "ann@example.com", "--email", "ann.editor@example.com", now: now),
                       "updated user ann@example.com: address ann.editor@example.com\n")
        let show = try root.ok("user", "show", "ann.editor@example.com", now: now)
        XCTAssertTrue(show.hasPrefix("user:          ann.editor@example.com\nname:          Ann Editor\ntime zone:     America/New_York\n"), show)
        XCTAssertTrue(show.contains("subtree rule:  node 2:"), "the rules moved with the user")

        try dumpUnchanged(root, ["user", "set", "ann.editor@example.com"], status: 2, "give at least one of --name, --timezone, --email")
        try dumpUnchanged(root, ["user", "set", "ann.editor@example.com", "--timezone", "EST"], status: 2,
                          "--timezone: unknown time zone 'EST' (expected an IANA name like Europe/Oslo or UTC)")
        try dumpUnchanged(root, ["user", "set", "ann.editor@example.com", "--email", "ann@@example.com"], status: 2,
                          "--email: address 'ann@@example.com' has more than one '@'")
        try dumpUnchanged(root, ["user", "set", "ann.editor@example.com", "--email", "BOB@example.com"], status: 1,
                          "user bob@example.com already exists")
        try dumpUnchanged(root, ["user", "set", "carl@example.com", "--name", "Carl"], status: 1, "unknown user carl@example.com")
    }

    /// `user list` sorts addresses by their bytes with ASCII case ignored, and each user's nodes by
    /// their bytes, on either backend (PostgreSQL's ICU collation would put `_` and `@` before digits).
    func testListSortsAddressesAndNodesByTheirBytes() throws {
        let root = try TestRoot()
        for email in ["bob@example.com", "ann_b@example.com", "ann@example.com", "Ann1@example.com", "ann-b@example.com"] {
            try root.ok("user", "add", email, now: now)
        }
        for node in ["b", "a_b", "9", "B", "a-b", "10"] {
            try root.ok("subscribe", "bob@example.com", node, now: now)
        }
        let lines = try root.ok("user", "list", now: now).split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
        XCTAssertEqual(lines.map { $0.first ?? "" },
                       ["ann-b@example.com", "Ann1@example.com", "ann@example.com", "ann_b@example.com", "bob@example.com"])
        XCTAssertEqual(lines.last?.last, "nodes: 10,9,B,a-b,a_b,b")
    }

    func testDisableStopsMailAndEnableResumesIt() throws {
        let root = try TestRoot()
        try root.ok("user", "add", "ann@example.com", now: now)
        try root.ok("subscribe", "ann@example.com", "2", now: now)
        XCTAssertEqual(try root.ok("user", "disable", "ann@example.com", now: now), "disabled user ann@example.com\n")
        XCTAssertEqual(try root.ok("user", "disable", "ann@example.com", now: now), "user ann@example.com is already disabled\n")
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", now: now)
        try root.ok("run", now: now)
        XCTAssertEqual(try root.mailFiles().count, 0, "a disabled user gets nothing")
        XCTAssertTrue(try root.ok("user", "show", "ann@example.com", now: now).contains("\nstate:         disabled\n"))

        XCTAssertEqual(try root.ok("user", "enable", "ann@example.com", now: now), "enabled user ann@example.com\n")
        try root.ok("event", "add", "ezpublish", "node_id=6", "path=/1/2/6/", now: now)
        try root.ok("run", now: now)
        XCTAssertEqual(try root.mails().map(\.to), ["ann@example.com"])
        try dumpUnchanged(root, ["user", "enable", "zed@example.com"], status: 1, "unknown user zed@example.com")
        try dumpUnchanged(root, ["user", "disable"], status: 2, "missing EMAIL")
    }
}
