import Foundation
import XCTest

/// `eventfilter check`, and `run` refusing settings that would mail nobody, through the CLI.
final class SettingsCheckEndToEndTests: XCTestCase {
    private let now = "2026-05-04T10:00:00Z"

    /// A root with one subscriber and one unhandled event, and the store's dump before `run`.
    private func rootWithWaitingEvent(siteINI: String? = nil, notificationINI: String? = nil) throws -> (TestRoot, String) {
        let root = try TestRoot(siteINI: siteINI, notificationINI: notificationINI)
        try root.ok("user", "add", "ann@example.com", now: now)
        try root.ok("subscribe", "ann@example.com", "2", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=News", now: now)
        return (root, try root.dump())
    }

    /// The refusal: exit 1, one line, nothing changed (no event handled, no mail, not even the run
    /// log); `status` and `status --check` find the error themselves.
    private func assertRunRefused(_ root: TestRoot, before: String, message: String,
                                  file: StaticString = #filePath, line: UInt = #line) throws {
        let run = try root.run(["run"], now: now)
        XCTAssertEqual(run.status, 1, file: file, line: line)
        XCTAssertEqual(run.stderr, "eventfilter: \(message)\n", file: file, line: line)
        XCTAssertEqual(run.stdout, "", file: file, line: line)
        XCTAssertEqual(try root.dump(), before, "nothing changed", file: file, line: line)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM event WHERE handled_at IS NULL"), 1, file: file, line: line)
        XCTAssertEqual(try root.mailFiles().count, 0, file: file, line: line)
        let status = try root.ok("status", now: now)
        XCTAssertTrue(status.hasPrefix("settings: runs refuse to start: "), status, file: file, line: line)
        let check = try root.run(["status", "--check"], now: now)
        XCTAssertEqual(check.status, 2, file: file, line: line)
        XCTAssertTrue(check.stdout.hasPrefix("EVENTFILTER CRITICAL - settings error, runs refuse to start: \(message)"), check.stdout,
                      file: file, line: line)
    }

    func testAnEmptyNotificationINIStopsTheRunAndMarksNothingHandled() throws {
        let (root, before) = try rootWithWaitingEvent(notificationINI: "# emptied by mistake\n")
        try assertRunRefused(root, before: before, message: "settings/notification.ini: has no settings: a run needs it")
    }

    func testAMissingNotificationINIStopsTheRun() throws {
        let (root, before) = try rootWithWaitingEvent()
        try FileManager.default.removeItem(at: root.url.appendingPathComponent("settings/notification.ini"))
        try assertRunRefused(root, before: before, message: "settings/notification.ini: missing: a run needs it")
    }

    func testAMissingSiteINIStopsTheRun() throws {
        let (root, before) = try rootWithWaitingEvent()
        try FileManager.default.removeItem(at: root.url.appendingPathComponent("settings/site.ini"))
        // No site.ini anywhere: on PostgreSQL the suite's own override file goes too.
        try? FileManager.default.removeItem(at: root.url.appendingPathComponent("settings/override/site.ini.append"))
        try assertRunRefused(root, before: before,
                             message: "settings/site.ini: missing: a run needs it (and 1 more; see eventfilter check)")
    }

    func testAHandlerListThatResolvesToNothingStopsTheRun() throws {
        let (root, before) = try rootWithWaitingEvent()
        // `Key[]` alone clears the array: no handler is left.
        try root.write("settings/override/notification.ini.append.php", """
            [NotificationEventHandlerSettings]
            AvailableNotificationEventTypes[]
            """)
        try assertRunRefused(root, before: before, message: "settings/override/notification.ini.append.php:2: no handlers: "
            + "[NotificationEventHandlerSettings] AvailableNotificationEventTypes[] lists none, so events would go to nobody")
        // Fixed, the same event is handled and mailed once.
        try FileManager.default.removeItem(at: root.url.appendingPathComponent("settings/override/notification.ini.append.php"))
        XCTAssertEqual(try root.run(["run"], now: now).status, 0)
        XCTAssertEqual(try root.mails().map(\.to), ["ann@example.com"])
    }

    func testACleanInstallationChecksClean() throws {
        let root = try TestRoot()
        let check = try root.run(["check"])
        XCTAssertEqual(check.status, 0, check.stdout + check.stderr)
        XCTAssertEqual(check.stdout + check.stderr, "")
        // The repository's own demo root too (eZ's stock notification.ini, the demo extension and handler).
        let demo = TestRoot.repository
        let process = Process()
        process.executableURL = TestRoot.executable
        process.arguments = ["--root", demo.path, "check"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, output)
        XCTAssertEqual(output, "")
    }

    func testCheckListsEveryProblemWithFileAndLine() throws {
        let root = try TestRoot(siteINI: """
            [SiteSettings]
            SiteName=Test Site
            SiteURL=https://example.com
            MaxConnections=100

            [ExtensionSettings]
            ActiveExtensions[]=mysite
            ActiveExtension[]=other

            [MailSettings]
            Transport=SMTP
            TransportServer=127.0.0.1
            MaxConnections=100
            AdminEmail=admin@example.com

            """)
        try root.write("settings/override/notification.ini.append.php", """
            [NotificationEventHandlerSettings]
            RepositoryDirectories[]=handlers
            AvailableNotificationEventTypes[]=legacy
            AvailableNotificationEventTypes[]=nosuch
            [EventFilterSettings]
            WarnDeferedAfter=60
            """)
        try root.write("handlers/legacy/legacyhandler", "#!/usr/bin/python1.5\nprint('hello')\n", executable: true)
        try root.write("extension/mysite/templates/ezsubtree/subject.txt", "{{#oops}}News\n")
        try root.write("extension/mysite/templates/ezsubtree/notes.md", "not a template\n")
        try root.write("settings/webhooks.ini", """
            [Source-videos]
            Type=youtube
            Secret=s3cret
            """)
        try root.ok("user", "add", "ann@example.com", now: now)
        let before = try root.dump()
        let check = try root.run(["check"])
        XCTAssertEqual(check.status, 1)
        XCTAssertEqual(check.stdout.split(separator: "\n").map(String.init), [
            "settings/site.ini:4: unknown key MaxConnections in [SiteSettings] (it belongs in [MailSettings]) (warning)",
            "settings/site.ini:8: unknown key ActiveExtension in [ExtensionSettings] (did you mean ActiveExtensions?) (warning)",
            "settings/override/notification.ini.append.php:6: unknown key WarnDeferedAfter in [EventFilterSettings] (did you mean WarnDeferredAfter?) (warning)",
            "settings/site.ini:13: [MailSettings] MaxConnections must be 1-64, got 100",
            "settings/webhooks.ini:2: [Source-videos] Type='youtube' is not one of kaltura, kaltura-http, panda, enablex, standard",
            "settings/override/notification.ini.append.php:4: unknown handler 'nosuch': not built in and no executable found "
                + "(looked for kernel/classes/notification/handler/nosuch/nosuchhandler, handlers/nosuch/nosuchhandler)",
            "extension/mysite/templates/ezsubtree/notes.md: not a template eventfilter reads (expected body.html, body.txt, footer.html, footer.txt, subject.txt) (warning)",
            "extension/mysite/templates/ezsubtree/subject.txt:1: unclosed section 'oops'",
        ])
        XCTAssertEqual(try root.dump(), before, "check changes nothing")

        // run refuses the first error, with the count of the rest.
        let run = try root.run(["run"], now: now)
        XCTAssertEqual(run.status, 1)
        XCTAssertEqual(run.stderr, "eventfilter: settings/site.ini:13: [MailSettings] MaxConnections must be 1-64, got 100 (and 3 more; see eventfilter check)\n")
    }

    func testAnUnrecordedAcceptanceLimitOutOfRangeStopsTheRunAndChangesNothing() throws {
        for wrong in ["0", "501"] {
            let (root, before) = try rootWithWaitingEvent(siteINI: smtpSiteINI("MaxUnrecordedAcceptances=\(wrong)"))
            try assertRunRefused(root, before: before,
                                 message: "settings/site.ini:9: [MailSettings] MaxUnrecordedAcceptances must be 1-500, got \(wrong)")
        }
    }

    /// libcurl takes its timeouts in milliseconds in a 32-bit long: a number of seconds above
    /// 2,147,483 cannot be set, and is refused when the settings are read, not by libcurl at
    /// the first message.
    func testATransportTimeoutAboveWhatLibcurlTakesStopsTheRunAndChangesNothing() throws {
        for key in ["TransportTimeout", "TransportConnectTimeout"] {
            let (root, before) = try rootWithWaitingEvent(siteINI: smtpSiteINI("\(key)=2147484"))
            let message = "settings/site.ini:9: [MailSettings] \(key) must be 1-2147483 seconds, got 2147484"
            try assertRunRefused(root, before: before, message: message)
            let check = try root.run(["check"])
            XCTAssertEqual(check.status, 1)
            XCTAssertEqual(check.stdout, message + "\n")
        }
        // The largest value is taken.
        let root = try TestRoot(siteINI: smtpSiteINI("TransportTimeout=2147483\nTransportConnectTimeout=2147483"))
        let check = try root.run(["check"])
        XCTAssertEqual(check.status, 0, check.stdout + check.stderr)
    }

    /// site.ini sending by SMTP to 127.0.0.1, with `extra` as the last lines of [MailSettings]
    /// (its first at line 9).
    private func smtpSiteINI(_ extra: String) -> String {
        """
        [SiteSettings]
        SiteName=Test Site
        SiteURL=https://example.com

        [MailSettings]
        AdminEmail=admin@example.com
        Transport=SMTP
        TransportServer=127.0.0.1
        \(extra)

        """
    }

    /// site.ini is shared with eZ Publish, whose own blocks are not reported; a block a letter
    /// away from one eventfilter reads is a typo, and its settings would silently not apply.
    func testATypoInABlockNameIsReportedEvenInSiteINI() throws {
        let root = try TestRoot()
        try root.write("settings/override/site.ini.append.php", """
            [MailSetting]
            EmailReplyTo=replies@example.com
            [FileSettings]
            VarDir=var/site
            """)
        try root.write("settings/override/notification.ini.append.php", "[EventFilterSetting]\nWarnDeferredAfter=60\n")
        let check = try root.run(["check"])
        XCTAssertEqual(check.status, 1)
        XCTAssertEqual(check.stdout.split(separator: "\n").map(String.init), [
            "settings/override/site.ini.append.php:2: unknown block [MailSetting] in site.ini (did you mean [MailSettings]?) (warning)",
            "settings/override/notification.ini.append.php:2: unknown block [EventFilterSetting] in notification.ini "
                + "(did you mean [EventFilterSettings]?) (warning)",
        ], "eZ's own [FileSettings] is not reported")
        XCTAssertEqual(try root.run(["run"], now: now).stdout.split(separator: "\n").count, 2, "run reports both once")
        XCTAssertEqual(try root.run(["run"], now: "2026-05-04T10:05:00Z").stdout, "")
    }

    /// Every mail setting's error names the file and line that holds it, whichever file set it:
    /// an SMTP port, a server name, the sender address (AdminEmail here).
    func testMailSettingErrorsNameTheirLine() throws {
        let (root, before) = try rootWithWaitingEvent()
        let cases: [(String, String)] = [
            ("Transport=SMTP\nTransportServer=127.0.0.1\nTransportPort=99999",
             "settings/override/site.ini.append.php:4: SMTP port 99999 is not between 1 and 65535 (TransportPort)"),
            ("Transport=SMTP\nTransportServer=mail example.org",
             "settings/override/site.ini.append.php:3: SMTP server name \"mail example.org\" is not a host name (TransportServer)"),
            ("EmailSender=\nAdminEmail=not an address",
             "settings/override/site.ini.append.php:3: [MailSettings] AdminEmail 'not an address': "
                + "address 'not an address' contains whitespace or a control character"),
        ]
        for (settings, message) in cases {
            try root.write("settings/override/site.ini.append.php", "[MailSettings]\n\(settings)\n")
            let check = try root.run(["check"])
            XCTAssertEqual(check.status, 1)
            XCTAssertEqual(check.stdout, message + "\n")
            try assertRunRefused(root, before: before, message: message)
        }
    }

    /// A sendmail program that is not there defers every message: check warns, the run goes on
    /// and says it once.
    func testAMissingSendmailProgramIsAWarning() throws {
        let (root, _) = try rootWithWaitingEvent()
        try root.write("settings/override/site.ini.append.php", "[MailSettings]\nTransport=sendmail\nSendmailPath=/nonexistent/sendmail\n")
        let warning = "settings/override/site.ini.append.php:3: [MailSettings] SendmailPath /nonexistent/sendmail does not exist "
            + "or is not executable: every message would be deferred"
        let check = try root.run(["check"])
        XCTAssertEqual(check.status, 1)
        XCTAssertEqual(check.stdout, warning + " (warning)\n")
        let run = try root.run(["run"], now: now)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.stdout, warning + "\n")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox WHERE state = 'deferred'"), 1)
        XCTAssertEqual(try root.run(["run"], now: "2026-05-04T10:05:00Z").stdout, "")
    }

    func testWarningsDoNotStopTheRunAndAreReportedOnce() throws {
        let root = try TestRoot(siteINI: TestRoot.defaultSiteINI + "[ExtensionSettings]\nActiveExtension[]=mysite\n")
        try root.ok("user", "add", "ann@example.com", now: now)
        try root.ok("subscribe", "ann@example.com", "2", now: now)
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", "name=News", now: now)
        let first = try root.run(["run"], now: now)
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertEqual(first.stdout, "settings/site.ini:10: unknown key ActiveExtension in [ExtensionSettings] (did you mean ActiveExtensions?)\n")
        XCTAssertEqual(try root.mails().map(\.to), ["ann@example.com"])
        let second = try root.run(["run"], now: "2026-05-04T10:05:00Z")
        XCTAssertEqual(second.status, 0)
        XCTAssertEqual(second.stdout + second.stderr, "", "reported once")
        // A comment added above moves the typo to line 11: still the same problem.
        try root.write("settings/site.ini", "# edited\n" + TestRoot.defaultSiteINI + "[ExtensionSettings]\nActiveExtension[]=mysite\n")
        XCTAssertEqual(try root.run(["check"]).stdout,
                       "settings/site.ini:11: unknown key ActiveExtension in [ExtensionSettings] (did you mean ActiveExtensions?) (warning)\n")
        XCTAssertEqual(try root.run(["run"], now: "2026-05-04T10:10:00Z").stdout, "", "not reported again for a moved line")
    }

    func testAHandlerWhoseInterpreterIsMissingIsAWarningAndItsFailureIsReported() throws {
        let root = try TestRoot()
        try root.write("settings/override/notification.ini.append.php", """
            [NotificationEventHandlerSettings]
            RepositoryDirectories[]=handlers
            AvailableNotificationEventTypes[]=legacy
            """)
        try root.write("handlers/legacy/legacyhandler", "#!/usr/bin/python1.5\nprint('hello')\n", executable: true)
        let warning = "handlers/legacy/legacyhandler:1: the #! line names /usr/bin/python1.5, which does not exist or is not executable"
        let check = try root.run(["check"])
        XCTAssertEqual(check.status, 1)
        XCTAssertEqual(check.stdout, warning + " (warning)\n")
        try root.ok("event", "add", "ezpublish", "node_id=5", "path=/1/2/5/", now: now)
        let run = try root.run(["run"], now: now)
        XCTAssertEqual(run.status, 0, "a warning does not stop the run")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2, run.stdout)
        XCTAssertEqual(lines.first, warning)
        XCTAssertTrue(lines.last?.hasPrefix("handler legacy is failing: legacy could not run ") ?? false, run.stdout)
    }
}
