import Foundation
import XCTest
@testable import EventFilterKit

/// Bounces end to end: mail leaves with a per-message envelope sender, a private Postfix on
/// loopback returns real RFC 3464 reports for it, and `eventfilter bounce` records them.
final class BounceEndToEndTests: XCTestCase {
    private var scratch: URL!
    private var postfix: PostfixTestServer?

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ef-bounce-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDown() {
        postfix?.stop()
        try? FileManager.default.removeItem(at: scratch)
    }

    private let now = "2026-05-04T10:00:00Z"
    private let later = "2026-05-04T10:30:00Z"

    private func startPostfix() throws -> PostfixTestServer {
        let server = try PostfixTestServer.start(in: scratch)
        postfix = server
        return server
    }

    /// An installation that sends through the private Postfix with VERP on.
    private func postfixRoot(_ server: PostfixTestServer) throws -> TestRoot {
        try TestRoot(siteINI: TestRoot.smtpSiteINI(port: server.port, extra: ["BounceAddress=bounces@example.org"]))
    }

    private func subscribe(_ emails: [String], in root: TestRoot) throws {
        for email in emails {
            try root.ok("user", "add", email, now: now)
            try root.ok("subscribe", email, "2", now: now)
        }
    }

    private func publish(node: Int, in root: TestRoot, now: String) throws {
        try root.ok("event", "add", "ezpublish", "node_id=\(node)", "path=/1/2/\(node)/", "name=News \(node)", now: now)
    }

    /// The outbox id a VERP address names (`bounces+<id>-<16 hex>@example.org`), checking its shape.
    private func verpID(_ address: String, file: StaticString = #filePath, line: UInt = #line) throws -> Int64 {
        let parts = address.split(separator: "@")
        XCTAssertEqual(parts.last, "example.org", file: file, line: line)
        let token = try XCTUnwrap(parts.first?.split(separator: "+").last, file: file, line: line)
        let pieces = token.split(separator: "-")
        XCTAssertTrue(parts.first?.hasPrefix("bounces+") ?? false, address, file: file, line: line)
        XCTAssertEqual(pieces.count, 2, address, file: file, line: line)
        XCTAssertTrue(pieces.last.map { $0.count == 16 && $0.allSatisfy(\.isHexDigit) } ?? false, address, file: file, line: line)
        return try XCTUnwrap(Int64(pieces[0]), address, file: file, line: line)
    }

    private func row(_ root: TestRoot, _ sql: String) throws -> String {
        try root.rows(sql).map { $0.joined(separator: "|") }.joined(separator: "\n")
    }

    private func bounce(_ root: TestRoot, _ message: String, recipient: String? = nil, environment: [String: String] = [:]) throws -> TestRoot.Result {
        try root.run(["bounce"] + (recipient.map { [$0] } ?? []), now: later, stdin: message, environment: environment)
    }

    // MARK: Real bounces from Postfix

    func testPostfixBouncesReachTheirMessagesAndThreeHardBouncesDisableTheUser() throws {
        let server = try startPostfix()
        let root = try postfixRoot(server)
        // ghost@bounce.test has no mailbox (5.1.1); busy.test's server refuses connections (4.4.1).
        try subscribe(["ghost@bounce.test", "kari@busy.test"], in: root)
        for node in 5...7 { try publish(node: node, in: root, now: now) }
        try root.ok("run", now: now)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox WHERE state = 'sent'"), 6, "Postfix accepted all six")

        let bounces = try server.waitForCaptured(count: 6).sorted { try verpID($0.recipient) < verpID($1.recipient) }
        XCTAssertEqual(Set(try bounces.map { try verpID($0.recipient) }), Set(1...6), "one bounce per message, each to its own address")
        var hard = 0, soft = 0
        for bounce in bounces {
            let id = try verpID(bounce.recipient)
            let text = String(decoding: bounce.bytes, as: UTF8.self)
            let recipient = try row(root, "SELECT recipient FROM outbox JOIN outbox_message ON outbox_id = id WHERE id = \(id)")
            let messageID = try row(root, "SELECT message_id FROM outbox JOIN outbox_message ON outbox_id = id WHERE id = \(id)")
            // The report is about this very message: Postfix names its envelope sender and recipient
            // and returns its headers; the From: header stayed the site's sender.
            XCTAssertTrue(text.contains("X-Postfix-Sender: rfc822; \(bounce.recipient)"), text)
            XCTAssertTrue(text.contains("Final-Recipient: rfc822; \(recipient)"), text)
            XCTAssertTrue(text.contains("Message-ID: \(messageID)"), text)
            XCTAssertTrue(text.contains("\nFrom: Test Site <notify@example.com>"), text)
            XCTAssertTrue(text.contains("Return-Path: <\(bounce.recipient)>"), "the returned message's envelope sender")

            let result = try self.bounce(root, text, recipient: bounce.recipient)
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertEqual(result.stderr, "")
            if recipient == "ghost@bounce.test" {
                hard += 1
                XCTAssertEqual(result.stdout, "message \(id) to ghost@bounce.test: hard bounce 5.1.1 (\(hard) of 3)"
                    + (hard == 3 ? "; user ghost@bounce.test disabled" : "") + "\n")
                XCTAssertEqual(try root.scalar("SELECT enabled FROM \"user\" WHERE email = 'ghost@bounce.test'"), hard < 3 ? 1 : 0)
            } else {
                soft += 1
                XCTAssertEqual(result.stdout, "message \(id) to kari@busy.test: soft bounce 4.4.1 (soft bounce \(soft), counted only)\n")
            }
        }
        XCTAssertEqual(hard, 3)
        XCTAssertEqual(soft, 3)
        XCTAssertEqual(try root.scalar("SELECT enabled FROM \"user\" WHERE email = 'kari@busy.test'"), 1, "soft bounces are counted, not acted on")
        XCTAssertEqual(try row(root, "SELECT hard, soft FROM bounce_address WHERE address = 'kari@busy.test'"), "0|3")

        let listed = try root.ok("mail", "list", "--bounced").split(separator: "\n")
        XCTAssertEqual(listed.count, 6)
        for line in listed {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            XCTAssertEqual(fields[1], "bounced")
            if fields[2] == "ghost@bounce.test" {
                XCTAssertEqual(fields.last, "hard 5.1.1 unknown user: \"ghost\"")
            } else {
                XCTAssertTrue(fields.last?.hasPrefix("soft 4.4.1 connect to 127.0.0.1[127.0.0.1]:") ?? false, String(line))
            }
        }

        // Disabled: the next news reaches kari only.
        try publish(node: 8, in: root, now: later)
        try root.ok("run", now: later)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox JOIN outbox_message ON outbox_id = id WHERE recipient = 'ghost@bounce.test'"), 3)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox JOIN outbox_message ON outbox_id = id WHERE recipient = 'kari@busy.test'"), 4)

        // Until an operator enables the address again; its count starts from zero.
        XCTAssertEqual(try root.ok("bounce", "--enable", "ghost@bounce.test", now: later), "enabled ghost@bounce.test\n")
        XCTAssertEqual(try root.scalar("SELECT enabled FROM \"user\" WHERE email = 'ghost@bounce.test'"), 1)
        XCTAssertEqual(try root.scalar("SELECT hard FROM bounce_address WHERE address = 'ghost@bounce.test'"), 0)
        try publish(node: 9, in: root, now: later)
        try root.ok("run", now: later)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox JOIN outbox_message ON outbox_id = id WHERE recipient = 'ghost@bounce.test'"), 4)
    }

    func testHardBouncesSuppressAnAddressWithoutAUserUntilTheOperatorEnablesIt() throws {
        let root = try TestRoot(siteINI: TestRoot.defaultSiteINI + "[MailSettings]\nBounceAddress=bounces@example.org\nBounceDisableAfter=2\n")
        // A custom handler mails an address that is no user's.
        try root.write("settings/override/notification.ini.append.php", """
            <?php /* #?ini charset="utf-8"?
            [NotificationEventHandlerSettings]
            RepositoryDirectories[]=handlers
            AvailableNotificationEventTypes[]=watch
            */ ?>
            """)
        try root.write("handlers/watch/watchhandler", """
            #!/usr/bin/env python3
            import json, sys
            for line in sys.stdin:
                event = json.loads(line)
                if event["type"] == "ezpublish":
                    print(json.dumps({"event_id": event["id"], "to": "watcher@example.net", "subject": "seen", "text": "seen\\n"}))
            """, executable: true)
        func publishAndRun(_ node: Int) throws -> Int {
            try publish(node: node, in: root, now: now)
            try root.ok("run", now: now)
            return try root.scalar("SELECT count(*) FROM outbox JOIN outbox_message ON outbox_id = id WHERE recipient = 'watcher@example.net'")
        }
        XCTAssertEqual(try publishAndRun(5), 1)
        XCTAssertEqual(try publishAndRun(6), 2)
        for (id, expected) in [(1, "(1 of 2)"), (2, "(2 of 2); address watcher@example.net suppressed")] {
            let address = try root.verpAddress(id: Int64(id))
            let result = try bounce(root, BounceSamples.fill(BounceSamples.qmailFailureNotice, to: address), recipient: address)
            XCTAssertEqual(result.stdout, "message \(id) to watcher@example.net: hard bounce 5.1.1 \(expected)\n", result.stderr)
        }
        XCTAssertEqual(try publishAndRun(7), 2, "suppressed: no more mail")
        XCTAssertEqual(try root.ok("bounce", "--enable", "watcher@example.net", now: later), "enabled watcher@example.net\n")
        XCTAssertEqual(try publishAndRun(8), 3, "enabled again")

        let unknown = try root.run(["bounce", "--enable", "nobody@example.net"], now: later)
        XCTAssertEqual(unknown.status, 1)
        XCTAssertEqual(unknown.stderr, "eventfilter: no user and no bounces for nobody@example.net\n")
    }

    func testPostfixPipesBouncesStraightIntoEventfilterAsTheREADMEWiresIt() throws {
        let root = try TestRoot(siteINI: "")
        // Postfix's pipe and cron's run both run as nobody: a copy of the program nobody can reach.
        let program = try TestRoot.executableForOtherUsers(in: scratch).path
        let server = try PostfixTestServer.start(in: scratch, pipe: [program, "--root", root.path, "bounce"])
        postfix = server
        try root.write("settings/site.ini", TestRoot.smtpSiteINI(port: server.port, connectTimeout: nil, timeout: nil, extra: ["BounceAddress=bounces@example.org"]))
        try subscribe(["ghost@bounce.test"], in: root)
        for node in 5...7 { try publish(node: node, in: root, now: now) }
        // One user owns the installation and runs both cron's run and the pipe (here: nobody).
        XCTAssertEqual(try SMTPTestServer.runTool("/bin/chown", ["-R", "nobody:nogroup", root.path]), 0)
        XCTAssertEqual(try SMTPTestServer.runTool("/usr/sbin/runuser", ["-u", "nobody", "--", program,
                                                                        "--root", root.path, "--now", now, "run"]), 0)
        try server.waitForPipeDeliveries(count: 3)

        XCTAssertEqual(try root.scalar("SELECT count(*) FROM bounce WHERE hard = 1 AND status = '5.1.1'"), 3)
        XCTAssertEqual(try root.scalar("SELECT enabled FROM \"user\" WHERE email = 'ghost@bounce.test'"), 0, "three hard bounces disabled ghost")
        XCTAssertEqual(try root.ok("mail", "list", "--bounced").split(separator: "\n").count, 3)
    }

    func testForgedUnknownRepeatedAndNonBounceMessagesChangeNothing() throws {
        let server = try startPostfix()
        let root = try postfixRoot(server)
        try subscribe(["ghost@bounce.test"], in: root)
        try publish(node: 5, in: root, now: now)
        try root.ok("run", now: now)
        let real = try XCTUnwrap(server.waitForCaptured(count: 1).first)
        let text = String(decoding: real.bytes, as: UTF8.self)
        let id = try verpID(real.recipient)
        let code = real.recipient.split(separator: "-").last!.prefix(16)
        let before = try root.dump()

        func expectNothingChanged(_ message: String, recipient: String?, environment: [String: String] = [:], says note: String,
                                  file: StaticString = #filePath, line: UInt = #line) throws {
            let result = try bounce(root, message, recipient: recipient, environment: environment)
            XCTAssertEqual(result.status, 0, "exit 0, so the mail server does not bounce the bounce", file: file, line: line)
            XCTAssertEqual(result.stderr, "eventfilter: \(note)\n", file: file, line: line)
            XCTAssertEqual(result.stdout, "", file: file, line: line)
            XCTAssertEqual(try root.dump(), before, "nothing changed", file: file, line: line)
        }

        // A code changed in one hex digit, as the argument and everywhere in the message.
        let flipped = real.recipient.replacingOccurrences(of: "-\(code)@", with: "-\(code.dropLast())\(code.last == "0" ? "1" : "0")@")
        let forged = text.replacingOccurrences(of: real.recipient, with: flipped)
        try expectNothingChanged(forged, recipient: flipped, says: "\(flipped) is not a bounce address this installation made; nothing changed")
        try expectNothingChanged(forged, recipient: nil, says: "\(flipped) is not a bounce address this installation made; nothing changed")
        try expectNothingChanged(forged, recipient: nil, environment: ["ORIGINAL_RECIPIENT": flipped],
                                 says: "\(flipped) is not a bounce address this installation made; nothing changed")
        // This message's code on another id.
        let otherID = "bounces+\(id + 1)-\(code)@example.org"
        try expectNothingChanged(text.replacingOccurrences(of: real.recipient, with: otherID), recipient: otherID,
                                 says: "\(otherID) is not a bounce address this installation made; nothing changed")
        // A valid address of a message the outbox does not have (made with the store's secret).
        let unknown = try root.verpAddress(id: 999)
        try expectNothingChanged(text.replacingOccurrences(of: real.recipient, with: unknown), recipient: unknown,
                                 says: "message 999 is no longer in the outbox; nothing changed")
        // No per-message address anywhere.
        try expectNothingChanged(text.replacingOccurrences(of: real.recipient, with: "bounces@example.org"), recipient: "bounces@example.org",
                                 says: "no bounce address of this installation in the message; nothing changed")
        // Not a bounce: an auto-reply and a read receipt to the real address.
        try expectNothingChanged(BounceSamples.fill(BounceSamples.vacationReply, to: real.recipient), recipient: real.recipient,
                                 says: "not a bounce: no delivery status report, and not from a mailer daemon; nothing changed")
        try expectNothingChanged(BounceSamples.fill(BounceSamples.readReceipt, to: real.recipient), recipient: real.recipient,
                                 says: "not a bounce: a report of type disposition-notification, not a delivery status report; nothing changed")

        // The real bounce changes the store once; the same report again changes nothing.
        let first = try bounce(root, text, recipient: real.recipient)
        XCTAssertEqual(first.status, 0, first.stderr)
        let after = try root.dump()
        XCTAssertNotEqual(after, before)
        XCTAssertEqual(try root.rows("SELECT outbox_id, hard, recipient, status, diagnostic FROM bounce"),
                       [["\(id)", "1", "ghost@bounce.test", "5.1.1", "unknown user: \"ghost\""]])
        let replay = try bounce(root, text, recipient: real.recipient)
        XCTAssertEqual(replay.status, 0)
        XCTAssertEqual(replay.stderr, "eventfilter: message \(id): this bounce was already recorded; nothing changed\n")
        XCTAssertEqual(try root.dump(), after)
        XCTAssertEqual(try root.scalar("SELECT hard FROM bounce_address WHERE address = 'ghost@bounce.test'"), 1)
    }

    // MARK: Other transports and published bounces

    func testSendmailGetsTheVERPSenderAndPublishedBouncesAreFoundFromEnvironmentHeadersOrText() throws {
        let captured = scratch.appendingPathComponent("sendmail")
        try FileManager.default.createDirectory(at: captured, withIntermediateDirectories: true)
        let fake = scratch.appendingPathComponent("fake-sendmail")
        try Data("#!/bin/sh\nprintf '%s\\n' \"$*\" > \(captured.path)/$$.args\ncat > \(captured.path)/$$.eml\n".utf8).write(to: fake)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: fake.path)
        let root = try TestRoot(siteINI: TestRoot.defaultSiteINI + """
            [MailSettings]
            Transport=sendmail
            SendmailPath=\(fake.path)
            BounceAddress=bounces@example.org
            BounceDisableAfter=1

            """)
        let readers = ["a@example.net", "b@example.net", "c@example.net"]
        try subscribe(readers, in: root)
        try publish(node: 5, in: root, now: now)
        try root.ok("run", now: now)

        var verp: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: captured.path) where name.hasSuffix(".args") {
            let arguments = try String(contentsOf: captured.appendingPathComponent(name), encoding: .utf8)
                .trimmingCharacters(in: .newlines).split(separator: " ").map(String.init)
            let message = try String(contentsOf: captured.appendingPathComponent(name.replacingOccurrences(of: ".args", with: ".eml")), encoding: .utf8)
            XCTAssertEqual(Array(arguments.prefix(3)), ["-t", "-i", "-f"])
            let sender = arguments[3]
            let recipient = try row(root, "SELECT recipient FROM outbox JOIN outbox_message ON outbox_id = id WHERE id = \(try verpID(sender))")
            XCTAssertTrue(message.contains("\r\nTo: \(recipient)\r\n"), "sender \(sender) is message \(recipient)'s")
            XCTAssertTrue(message.hasPrefix("From: Test Site <notify@example.com>\r\n") || message.contains("\r\nFrom: Test Site <notify@example.com>\r\n"),
                          "the From header stays the site's")
            verp[recipient] = sender
        }
        XCTAssertEqual(Set(verp.keys), Set(readers))
        guard Set(verp.keys) == Set(readers) else { return }  // the rest reads each reader's sender
        // b now holds news for a daily digest: disabled by bounces below, b's waiting item is
        // cancelled, as `user disable` cancels it.
        try root.ok("digest", "b@example.net", "daily", "08:00", now: now)
        try publish(node: 6, in: root, now: now)
        try root.ok("run", now: now)
        XCTAssertEqual(try row(root, "SELECT count(*) FROM digest_item"), "1")

        // RFC 3464's simple report (4.0.0) for a's message; the address only in $ORIGINAL_RECIPIENT.
        let simple = BounceSamples.fill(BounceSamples.rfc3464SimpleDSN, to: "bounces@example.org")
        var result = try bounce(root, simple, environment: ["ORIGINAL_RECIPIENT": verp["a@example.net"]!])
        XCTAssertEqual(result.stdout, "message \(try verpID(verp["a@example.net"]!)) to a@example.net: soft bounce 4.0.0 (soft bounce 1, counted only)\n")
        // qmail's failure notice for b's message, found from Delivered-To; BounceDisableAfter=1.
        result = try bounce(root, BounceSamples.fill(BounceSamples.qmailFailureNotice, to: verp["b@example.net"]!))
        XCTAssertEqual(result.stdout, "message \(try verpID(verp["b@example.net"]!)) to b@example.net: hard bounce 5.1.1 (1 of 1); user b@example.net disabled\n")
        // Exim's bounce for c's message names the address only in the returned message's Return-path.
        result = try bounce(root, BounceSamples.fill(BounceSamples.eximDeliveryFailed, to: verp["c@example.net"]!))
        XCTAssertEqual(result.stdout, "message \(try verpID(verp["c@example.net"]!)) to c@example.net: hard bounce 5.1.1 (1 of 1); user c@example.net disabled\n")

        XCTAssertEqual(try row(root, "SELECT email, enabled FROM \"user\" ORDER BY email"), "a@example.net|1\nb@example.net|0\nc@example.net|0")
        XCTAssertEqual(try row(root, "SELECT count(*) FROM digest_item"), "0", "b's waiting digest item went with the disable")
        // The operator sees why.
        let shownB = try root.ok("user", "show", "b@example.net", now: later)
        XCTAssertTrue(shownB.contains("state:         disabled\nbounces:       0 hard since the last disable, 0 soft, last 5.1.1; "
            + "disabled by bounces at 2026-05-04T10:30:00Z\n"), shownB)
        let shownA = try root.ok("user", "show", "a@example.net", now: later)
        XCTAssertTrue(shownA.contains("state:         enabled\nbounces:       0 hard since the last disable, 1 soft, last 4.0.0\n"), shownA)
        let listed = try root.ok("mail", "list")
        XCTAssertTrue(listed.contains("\tbounced\ta@example.net\t"), listed)
        XCTAssertTrue(listed.contains("\tsoft 4.0.0 426 connection timed out\n"), listed)
        XCTAssertTrue(listed.contains("\thard 5.1.1 Sorry, no mailbox here by that name. (#5.1.1)\n"), listed)
        XCTAssertEqual(listed.split(separator: "\n").count, 3)
        // The operator's filters apply to bounces too; --sent still shows them as sent.
        let toB = try root.ok("mail", "list", "--bounced", "--to", "B@example.net").split(separator: "\n")
        XCTAssertEqual(toB.count, 1)
        XCTAssertTrue(toB[0].hasPrefix("\(try verpID(verp["b@example.net"]!))\tbounced\tb@example.net\t"), String(toB[0]))
        XCTAssertEqual(try root.ok("mail", "list", "--bounced", "--since", "2026-05-04T10:31:00Z"), "", "bounced at 10:30")
        XCTAssertEqual(try root.ok("mail", "list", "--bounced", "--limit", "2").split(separator: "\n").count, 2)
        XCTAssertFalse(try root.ok("mail", "list", "--sent").contains("bounced"))
        XCTAssertEqual(try root.ok("mail", "list", "--failed"), "", "bounced messages are no failed ones")
    }

    func testWithoutAnArgumentTheAddressComesFromXOriginalToOrToAndTheReportsLineForTheRecipientCounts() throws {
        let root = try TestRoot(siteINI: TestRoot.defaultSiteINI + "[MailSettings]\nBounceAddress=bounces@example.org\n")
        // Two of the recipients RFC 3464's multi-recipient report names.
        try subscribe(["wsnell@sdcc13.ucsd.edu", "johnh@hpnjld.njd.hp.com"], in: root)
        try publish(node: 5, in: root, now: now)
        try root.ok("run", now: now)
        func address(of recipient: String) throws -> String {
            try root.verpAddress(id: Int64(try root.scalar("SELECT id FROM outbox JOIN outbox_message ON outbox_id = id WHERE recipient = '\(recipient)'")))
        }
        let report = BounceSamples.fill(BounceSamples.rfc3464MultiRecipientDSN, to: "bounces@example.org")

        let wsnell = try address(of: "wsnell@sdcc13.ucsd.edu")
        var result = try bounce(root, "X-Original-To: \(wsnell)\n" + report)
        XCTAssertEqual(result.stdout, "message \(try verpID(wsnell)) to wsnell@sdcc13.ucsd.edu: hard bounce 5.0.0 (1 of 3)\n", result.stderr)
        let johnh = try address(of: "johnh@hpnjld.njd.hp.com")
        result = try bounce(root, report.replacingOccurrences(of: "To: <bounces@example.org>", with: "To: Bounces <\(johnh.uppercased())>"))
        XCTAssertEqual(result.stdout, "message \(try verpID(johnh)) to johnh@hpnjld.njd.hp.com: soft bounce 4.0.0 (soft bounce 1, counted only)\n",
                       "johnh's line of the report is the delayed one: \(result.stderr)")
        let listed = try root.ok("mail", "list", "--bounced")
        XCTAssertTrue(listed.contains("\twsnell@sdcc13.ucsd.edu\t") && listed.contains("\thard 5.0.0 550 user unknown\n"), listed)
        XCTAssertTrue(listed.contains("\tjohnh@hpnjld.njd.hp.com\t") && listed.contains("\tsoft 4.0.0\n"), listed)
        let shown = try root.ok("mail", "show", String(try verpID(wsnell)))
        XCTAssertTrue(shown.contains("\nenvelope:     \(wsnell)\nbounced:      hard 5.0.0 at 2026-05-04T10:30:00Z: 550 user unknown\nlast reply:"), shown)
    }

    func testWithDebugSendingABounceIsRecordedButNeverDisablesTheRealRecipient() throws {
        let log = scratch.appendingPathComponent("sendmail.log")
        let fake = scratch.appendingPathComponent("fake-sendmail")
        try Data("#!/bin/sh\nprintf '%s\\n' \"$*\" >> \(log.path)\ncat > /dev/null\n".utf8).write(to: fake)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: fake.path)
        let root = try TestRoot(siteINI: TestRoot.defaultSiteINI + """
            [MailSettings]
            Transport=sendmail
            SendmailPath=\(fake.path)
            DebugSending=enabled
            DebugReceiverEmail=qa@example.com
            BounceAddress=bounces@example.org
            BounceDisableAfter=1

            """)
        try subscribe(["a@example.net"], in: root)
        try publish(node: 5, in: root, now: now)
        try root.ok("run", now: now)
        let arguments = try String(contentsOf: log, encoding: .utf8).trimmingCharacters(in: .newlines).split(separator: " ").map(String.init)
        XCTAssertEqual(arguments.count, 5)
        XCTAssertEqual([arguments[0], arguments[1], arguments[3], arguments[4]], ["-i", "-f", "--", "qa@example.com"],
                       "redirected, with the message's own envelope sender")
        let sender = arguments[2]
        let result = try bounce(root, BounceSamples.fill(BounceSamples.qmailFailureNotice, to: sender), recipient: sender)
        XCTAssertEqual(result.stdout, "message \(try verpID(sender)) to a@example.net: hard bounce 5.1.1 "
            + "(not counted: DebugSending sent it to the test address)\n", result.stderr)
        XCTAssertEqual(try root.scalar("SELECT enabled FROM \"user\" WHERE email = 'a@example.net'"), 1)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM bounce_address"), 0)
        XCTAssertTrue(try root.ok("mail", "list", "--bounced").contains("\tbounced\ta@example.net\t"))
    }

    /// A bounce returns the message it is about, and a mail loop's or a large attachment's may be
    /// huge: the first 4 MiB are kept, the rest is read and dropped, so memory stays bounded and the
    /// mail server writing it sees no broken pipe. Piped by Python, which reads the child's peak RSS.
    func testAHugeBounceIsReadInBoundedMemoryAndStillRecorded() throws {
        let root = try TestRoot(siteINI: TestRoot.defaultSiteINI + "[MailSettings]\nBounceAddress=bounces@example.org\n")
        try subscribe(["ghost@example.net"], in: root)
        try publish(node: 5, in: root, now: now)
        try root.ok("run", now: now)
        let id = try XCTUnwrap(Int64(try row(root, "SELECT id FROM outbox")))
        let address = try root.verpAddress(id: id)

        let output = try IngestFixture.python("""
            import resource, subprocess, sys
            exe, root, now, address = sys.argv[1:5]
            child = subprocess.Popen([exe, "--root", root, "--now", now, "bounce", address],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            child.stdin.write(b"From: MAILER-DAEMON@mx.example.net\\nSubject: failure notice\\n\\n"
                              b"Sorry, no mailbox here by that name. (#5.1.1)\\n\\n--- Below this line is a copy of the message.\\n\\n")
            line = b"x" * 1023 + b"\\n"
            for _ in range(256 * 1024):  # 256 MiB
                child.stdin.write(line)
            child.stdin.close()
            out, err = child.stdout.read(), child.stderr.read()
            child.wait()
            print(child.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, out.decode().strip(), err.decode().strip(), sep="\\t")
            """, TestRoot.executable.path, root.path, later, address)
        let fields = output.trimmingCharacters(in: .newlines).components(separatedBy: "\t")
        XCTAssertEqual(fields.count, 4, output)
        XCTAssertEqual(fields.first, "0", output)
        XCTAssertLessThan(Int(fields[1]) ?? .max, 128 * 1024, "peak RSS in KiB, for 256 MiB on stdin: \(output)")
        XCTAssertEqual(fields[2], "message \(id) to ghost@example.net: hard bounce 5.1.1 (1 of 3)", output)
        XCTAssertEqual(try row(root, "SELECT status FROM bounce WHERE outbox_id = \(id)"), "5.1.1")
    }

    func testABounceBeforeAnyMessageHadABounceAddressChangesNothing() throws {
        let root = try TestRoot(siteINI: TestRoot.defaultSiteINI + "[MailSettings]\nBounceAddress=bounces@example.org\n")
        try root.ok("user", "add", "a@example.net", now: now)
        let before = try root.dump()
        let address = "bounces+1-0123456789abcdef@example.org"
        let result = try bounce(root, BounceSamples.fill(BounceSamples.qmailFailureNotice, to: address), recipient: address)
        XCTAssertEqual(result.status, 0)
        XCTAssertEqual(result.stderr, "eventfilter: \(address) is not a bounce address this installation made; nothing changed\n")
        XCTAssertEqual(try root.dump(), before, "not even the key is made")
    }

    func testBadBounceSettingsAreOneLineErrorsAndAnUnrecordableBounceAsksTheMailServerToRetry() throws {
        let unset = try TestRoot()
        try unset.ok("user", "add", "a@example.net", now: now)
        let before = try unset.dump()
        let result = try bounce(unset, BounceSamples.fill(BounceSamples.qmailFailureNotice, to: "bounces+1-0123456789abcdef@example.org"))
        XCTAssertEqual(result.status, 75, "EX_TEMPFAIL: Postfix keeps the bounce and retries")
        XCTAssertEqual(result.stderr, "eventfilter: bounce not recorded, the mail server will retry: "
            + "site.ini [MailSettings] BounceAddress is not set, so no message has a bounce address\n")
        XCTAssertEqual(try unset.dump(), before)

        for (setting, error) in [
            ("BounceAddress=not an address", "site.ini [MailSettings] BounceAddress 'not an address': "),
            ("BounceAddress=bounces@example.org\nBounceDisableAfter=0", "site.ini [MailSettings] BounceDisableAfter must be at least 1, got 0"),
        ] {
            let root = try TestRoot(siteINI: TestRoot.defaultSiteINI + "[MailSettings]\n\(setting)\n")
            let run = try root.run(["run"], now: now)
            XCTAssertEqual(run.status, 1)
            XCTAssertTrue(run.stderr.hasPrefix("eventfilter: \(error)"), run.stderr)
            XCTAssertEqual(run.stderr.filter { $0 == "\n" }.count, 1, "one line")
        }
    }
}
