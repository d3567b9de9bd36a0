import EventFilterKit
import XCTest

/// eZ Publish's stock `settings/notification.ini`, verbatim (ezpublish-legacy), including the
/// trailing space after "DBMS limits".
/// eZ Publish's stock settings/notification.ini, verbatim (the shipped file must stay equal to it).
let stockNotificationINI = """
    #?ini charset="utf-8"?
    # eZ Publish configuration file for notification.
    #
    #
    # NOTE: It is not recommended to edit this files directly, instead
    #       a file in override should be created for setting the
    #       values that is required for your site. Either create
    #       a file called settings/override/notification.ini.append or
    #       settings/override/notification.ini.append.php for more security
    #       in non-virtualhost modes (the .php file may already be present
    #       and can be used for this purpose).

    [RuleSettings]
    RepositoryDirectories[]=kernel/notification/rules
    ExtensionDirectories[]
    Alias[advanced]=ezadvanced
    Alias[general]=ezgeneral
    Alias[keyword]=ezkeyword
    # Maximum number of notification digest elements removed in one query.
    # This is needed to prevent exceeding DBMS limits\u{20}
    # (maximum query length, maximum number of elements in IN() clause).
    LimitDeleteElements=50

    [NotificationEventTypeSettings]
    RepositoryDirectories[]=kernel/classes/notification/event/
    ExtensionDirectories[]

    AvailableNotificationEventTypes[]=ezpublish
    AvailableNotificationEventTypes[]=eznewcontent
    AvailableNotificationEventTypes[]=ezcurrenttime
    AvailableNotificationEventTypes[]=ezcollaboration

    [NotificationEventHandlerSettings]
    RepositoryDirectories[]=kernel/classes/notification/handler/
    ExtensionDirectories[]

    AvailableNotificationEventTypes[]=ezgeneraldigest
    AvailableNotificationEventTypes[]=ezcollaborationnotification
    AvailableNotificationEventTypes[]=ezsubtree
    #AvailableNotificationEventTypes[]=ezsimpledigest

    [TransportSettings]
    DefaultTransport=mail
    # An array of pathes to the transport plugins
    # TransportPluginPath[]=path/to/plugin1
    # TransportPluginPath[]=path/to/plugin2
    TransportPluginPath[]

    [MailSettings]
    # Which email address to use when sending notification mail
    # If empty site.ini/MailSettings/AdminEmail is used.
    EmailSender=

    """

private let handlerBlock = "NotificationEventHandlerSettings"
private let handlerKey = "AvailableNotificationEventTypes"

final class SettingsTests: XCTestCase {
    private var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("ef-settings-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    private func write(_ relative: String, _ text: String) throws {
        try write(relative, bytes: Array(text.utf8))
    }

    private func write(_ relative: String, bytes: [UInt8]) throws {
        let url = root.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
    }

    private func load(_ name: String = "notification.ini") throws -> SettingsFile {
        try Settings(root: root).file(name)
    }

    /// The error that loading `name` throws; fails the test when it loads.
    private func loadError(_ name: String = "x.ini", file: StaticString = #filePath, line: UInt = #line) -> SettingsError? {
        do {
            _ = try load(name)
            XCTFail("expected a SettingsError", file: file, line: line)
        } catch let error as SettingsError {
            return error
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
        return nil
    }

    private func handlerNames(_ settings: SettingsFile) -> [String] {
        settings.array(handlerBlock, handlerKey)
    }

    // MARK: eZ's stock file

    func testStockNotificationIniLoadsUnchanged() throws {
        try write("settings/notification.ini", stockNotificationINI)
        let notification = try load()

        XCTAssertEqual(notification.name, "notification.ini")
        XCTAssertEqual(notification.files, ["settings/notification.ini"])
        let handlers = notification.arrayWithOrigins(handlerBlock, handlerKey)
        XCTAssertEqual(handlers.map(\.value), ["ezgeneraldigest", "ezcollaborationnotification", "ezsubtree"])
        XCTAssertEqual(handlers.map(\.origin), [37, 38, 39].map { SettingOrigin(file: "settings/notification.ini", line: $0) })
        XCTAssertEqual(handlers.first?.origin.description, "settings/notification.ini:37")

        XCTAssertEqual(notification.blockNames, ["RuleSettings", "NotificationEventTypeSettings", handlerBlock, "TransportSettings", "MailSettings"])
        XCTAssertEqual(try notification.int("RuleSettings", "LimitDeleteElements"), 50)
        XCTAssertEqual(notification.origin("RuleSettings", "LimitDeleteElements")?.line, 22)
        XCTAssertEqual(notification.hash("RuleSettings", "Alias").map(\.key), ["advanced", "general", "keyword"])
        XCTAssertEqual(notification.hash("RuleSettings", "Alias").map(\.value), ["ezadvanced", "ezgeneral", "ezkeyword"])
        XCTAssertEqual(notification.array("NotificationEventTypeSettings", handlerKey), ["ezpublish", "eznewcontent", "ezcurrenttime", "ezcollaboration"])
        XCTAssertEqual(notification.array(handlerBlock, "RepositoryDirectories"), ["kernel/classes/notification/handler/"])
        XCTAssertEqual(notification.array(handlerBlock, "ExtensionDirectories"), [])
        XCTAssertEqual(notification.array("TransportSettings", "TransportPluginPath"), [])
        XCTAssertEqual(notification.string("TransportSettings", "DefaultTransport"), "mail")
        XCTAssertEqual(notification.string("MailSettings", "EmailSender"), "")
        XCTAssertNil(notification.string("MailSettings", "Missing"))
    }

    /// The repository is a working root: its shipped settings must load and mean what the docs say.
    func testRepositorySettingsLoad() throws {
        let repositoryRoot = TestRoot.repository
        let shipped = try String(contentsOf: repositoryRoot.appendingPathComponent("settings/notification.ini"), encoding: .utf8)
        XCTAssertEqual(shipped, stockNotificationINI, "settings/notification.ini must stay eZ's stock text")

        let settings = Settings(root: repositoryRoot)
        XCTAssertEqual(try settings.activeExtensions(), ["demo"])
        let site = try settings.file("site.ini")
        XCTAssertEqual(site.string("SiteSettings", "SiteName"), "eventfilter demo")
        XCTAssertEqual(site.string("SiteSettings", "SiteURL"), "https://example.com")
        XCTAssertEqual(site.string("MailSettings", "Transport"), "file")
        XCTAssertEqual(site.string("MailSettings", "AdminEmail"), "admin@example.com")
        XCTAssertEqual(site.string("MailSettings", "EmailSender"), "")
        XCTAssertEqual(try site.int("MailSettings", "TransportPort"), 25)
        XCTAssertFalse(try site.bool("MailSettings", "DebugSending", default: true))
        let handlers = try settings.file("notification.ini").array(handlerBlock, handlerKey)
        XCTAssertEqual(Array(handlers.prefix(3)), ["ezgeneraldigest", "ezcollaborationnotification", "ezsubtree"])
    }

    // MARK: Overrides

    func testAppendPhpOverrideWithWrapperAppendsAHandler() throws {
        try write("settings/notification.ini", stockNotificationINI)
        try write("settings/override/notification.ini.append.php", """
            <?php /* #?ini charset="utf-8"?

            [NotificationEventHandlerSettings]
            AvailableNotificationEventTypes[]=myhandler
            */ ?>

            """)
        let notification = try load()
        XCTAssertEqual(notification.files, ["settings/notification.ini", "settings/override/notification.ini.append.php"])
        let handlers = notification.arrayWithOrigins(handlerBlock, handlerKey)
        XCTAssertEqual(handlers.map(\.value), ["ezgeneraldigest", "ezcollaborationnotification", "ezsubtree", "myhandler"])
        XCTAssertEqual(handlers.last?.origin, SettingOrigin(file: "settings/override/notification.ini.append.php", line: 4))
        XCTAssertEqual(handlers.first?.origin, SettingOrigin(file: "settings/notification.ini", line: 37))
    }

    func testOverrideStartingWithEmptyArrayClearsFirst() throws {
        try write("settings/notification.ini", stockNotificationINI)
        try write("settings/override/notification.ini.append.php", """
            <?php /*
            [NotificationEventHandlerSettings]
            AvailableNotificationEventTypes[]
            AvailableNotificationEventTypes[]=ezsubtree
            AvailableNotificationEventTypes[]=myhandler
            */ ?>\t\u{20}
            """)
        let notification = try load()
        XCTAssertEqual(handlerNames(notification), ["ezsubtree", "myhandler"])
        XCTAssertEqual(notification.arrayWithOrigins(handlerBlock, handlerKey).map(\.origin.line), [4, 5])
        // The other arrays of the block are untouched.
        XCTAssertEqual(notification.array(handlerBlock, "RepositoryDirectories"), ["kernel/classes/notification/handler/"])
    }

    func testClearingWithNothingAfterItLeavesAnEmptyArray() throws {
        try write("settings/notification.ini", stockNotificationINI)
        try write("settings/override/notification.ini", "[NotificationEventHandlerSettings]\nAvailableNotificationEventTypes[]\n")
        let notification = try load()
        XCTAssertEqual(handlerNames(notification), [])
        XCTAssertEqual(notification.origin(handlerBlock, handlerKey), SettingOrigin(file: "settings/override/notification.ini", line: 2))
    }

    func testExtensionsMergeBetweenSettingsAndOverrideAndTheFirstListedWins() throws {
        try write("settings/site.ini", """
            [ExtensionSettings]
            ActiveExtensions[]
            ActiveExtensions[]=first
            ActiveExtensions[]=second
            ActiveExtensions[]=missing

            """)
        try write("settings/x.ini", "[B]\nName=base\nItems[]=base\nOnlyBase=kept\n")
        try write("extension/second/settings/x.ini.append.php", "<?php /*\n[B]\nName=second\nItems[]=second\n*/ ?>\n")
        try write("extension/first/settings/x.ini.append.php", "<?php /*\n[B]\nName=first\nItems[]=first\n*/ ?>\n")
        try write("settings/override/x.ini.append.php", "<?php /*\n[B]\nItems[]=override\n*/ ?>\n")

        let settings = Settings(root: root)
        XCTAssertEqual(try settings.activeExtensions(), ["first", "second", "missing"])
        let x = try settings.file("x.ini")
        XCTAssertEqual(x.files, [
            "settings/x.ini",
            "extension/second/settings/x.ini.append.php",
            "extension/first/settings/x.ini.append.php",
            "settings/override/x.ini.append.php",
        ])
        XCTAssertEqual(x.string("B", "Name"), "first")
        XCTAssertEqual(x.origin("B", "Name"), SettingOrigin(file: "extension/first/settings/x.ini.append.php", line: 3))
        XCTAssertEqual(x.array("B", "Items"), ["base", "second", "first", "override"])
        XCTAssertEqual(x.string("B", "OnlyBase"), "kept")

        // settings/override beats every extension.
        try write("settings/override/x.ini.append.php", "<?php /*\n[B]\nName=override\n*/ ?>\n")
        XCTAssertEqual(try Settings(root: root).file("x.ini").string("B", "Name"), "override")
    }

    func testActiveExtensionsComeOnlyFromSettingsAndOverride() throws {
        try write("settings/site.ini", "[ExtensionSettings]\nActiveExtensions[]=a\nActiveExtensions[]=b\nActiveExtensions[]=a\n")
        try write("extension/a/settings/site.ini.append.php", "<?php /*\n[ExtensionSettings]\nActiveExtensions[]=fromextension\n*/ ?>\n")
        try write("settings/override/site.ini.append.php", "<?php /*\n[ExtensionSettings]\nActiveExtensions[]=c\n*/ ?>\n")
        let settings = Settings(root: root)
        XCTAssertEqual(try settings.activeExtensions(), ["a", "b", "c"])
        // The merged site.ini itself does read the extension's file.
        XCTAssertEqual(try settings.file("site.ini").array("ExtensionSettings", "ActiveExtensions"), ["a", "b", "a", "fromextension", "c"])
    }

    func testAnExtensionNameThatLeavesItsDirectoryIsRejected() throws {
        try write("settings/site.ini", "[ExtensionSettings]\nActiveExtensions[]=demo\nActiveExtensions[]=../../etc\n")
        XCTAssertThrowsError(try Settings(root: root).file("notification.ini")) { error in
            let error = error as? SettingsError
            XCTAssertEqual(error?.file, "settings/site.ini")
            XCTAssertEqual(error?.line, 3)
        }
    }

    func testEveryFileOfADirectoryIsReadInEZOrder() throws {
        try write("settings/x.ini", "[B]\nL[]=settings\n")
        try write("settings/x.ini.append.php", "<?php /*\n[B]\nL[]=settings-append-php\n*/ ?>\n")
        try write("settings/override/x.ini.append", "[B]\nL[]=override-append\n")
        try write("settings/override/x.ini.append.php", "<?php /*\n[B]\nL[]=override-append-php\n*/ ?>\n")
        try write("settings/override/x.ini", "[B]\nL[]=override-ini\n")
        let x = try load("x")
        XCTAssertEqual(x.name, "x.ini")
        XCTAssertEqual(x.array("B", "L"), ["settings", "settings-append-php", "override-ini", "override-append-php", "override-append"])
        XCTAssertEqual(x.files, [
            "settings/x.ini", "settings/x.ini.append.php",
            "settings/override/x.ini", "settings/override/x.ini.append.php", "settings/override/x.ini.append",
        ])
    }

    func testNoFileAtAllGivesAnEmptyView() throws {
        let none = try load("nothing.ini")
        XCTAssertEqual(none.files, [])
        XCTAssertEqual(none.blockNames, [])
        XCTAssertFalse(none.hasBlock("B"))
        XCTAssertNil(none.string("B", "K"))
        XCTAssertEqual(none.array("B", "K"), [])
        XCTAssertTrue(none.hash("B", "K").isEmpty)
        XCTAssertNil(none.origin("B", "K"))
        XCTAssertTrue(try none.bool("B", "K", default: true))
        XCTAssertNil(try none.int("B", "K"))
        XCTAssertThrowsError(try Settings(root: root).file("../secret.ini"))
    }

    func testMergedFilesAreCachedForTheRun() throws {
        try write("settings/x.ini", "[B]\nK=one\n")
        let settings = Settings(root: root)
        XCTAssertEqual(try settings.file("x.ini").string("B", "K"), "one")
        try write("settings/x.ini", "[B]\nK=two\n")
        XCTAssertEqual(try settings.file("x.ini").string("B", "K"), "one")
        XCTAssertEqual(try Settings(root: root).file("x.ini").string("B", "K"), "two")
    }

    // MARK: Values

    func testScalarsAreReplacedAndHashEntriesKeepTheirFirstPosition() throws {
        try write("settings/x.ini", "[B]\nS=one\nAlias[a]=1\nAlias[b]=2\nMixed=scalar\n")
        try write("settings/override/x.ini.append.php", "<?php /*\n[B]\nS=two\nAlias[a]=10\nAlias[c]=3\nMixed[]=element\n*/ ?>\n")
        let x = try load("x.ini")
        XCTAssertEqual(x.string("B", "S"), "two")
        XCTAssertEqual(x.origin("B", "S"), SettingOrigin(file: "settings/override/x.ini.append.php", line: 3))
        let alias = x.hash("B", "Alias")
        XCTAssertEqual(alias.map(\.key), ["a", "b", "c"])
        XCTAssertEqual(alias.map(\.value), ["10", "2", "3"])
        XCTAssertEqual(x.arrayWithOrigins("B", "Alias").map(\.origin.line), [4, 4, 5])
        XCTAssertEqual(x.arrayWithOrigins("B", "Alias").map(\.origin.file), [
            "settings/override/x.ini.append.php", "settings/x.ini", "settings/override/x.ini.append.php",
        ])
        // A scalar turned into an array starts a fresh array.
        XCTAssertEqual(x.array("B", "Mixed"), ["element"])
        XCTAssertNil(x.string("B", "Mixed"))
        // A scalar read as an array is a one-element array.
        XCTAssertEqual(x.array("B", "S"), ["two"])
    }

    func testLaterScalarReplacesAnArray() throws {
        try write("settings/x.ini", "[B]\nK[]=a\nK[]=b\n")
        try write("settings/override/x.ini", "[B]\nK=c\n")
        XCTAssertEqual(try load("x.ini").array("B", "K"), ["c"])
    }

    func testValuesAreKeptAsWrittenAndInlineCommentsStartAtTheLastDoubleHash() throws {
        try write("settings/x.ini", """
            Top=before any block
            [B]\t
            Spaces=value with trailing space ##  a comment
            Hashes=a##b##c
            Url=https://example.com/#fragment
            Equals=a=b=c
            Lead= x
            Empty=
              ## an indented comment-only line is blank
            # a comment

            [ Padded ]
            K=v

            """)
        let x = try load("x.ini")
        XCTAssertEqual(x.string("", "Top"), "before any block")
        XCTAssertEqual(x.string("B", "Spaces"), "value with trailing space ")
        XCTAssertEqual(x.string("B", "Hashes"), "a##b")
        XCTAssertEqual(x.string("B", "Url"), "https://example.com/#fragment")
        XCTAssertEqual(x.string("B", "Equals"), "a=b=c")
        XCTAssertEqual(x.string("B", "Lead"), " x")  // eZ keeps the space after '='
        XCTAssertEqual(x.string("B", "Empty"), "")
        XCTAssertEqual(x.string("Padded", "K"), "v")
        XCTAssertEqual(x.blockNames, ["", "B", "Padded"])
        XCTAssertTrue(x.hasBlock("Padded"))
        XCTAssertEqual(x.keys("B"), ["Empty", "Equals", "Hashes", "Lead", "Spaces", "Url"])
    }

    func testCRLFByteOrderMarkAndOtherCharsets() throws {
        try write("settings/x.ini", bytes: [0xEF, 0xBB, 0xBF] + Array("[B]\r\nK=v \r\nL[]=1\r\n".utf8))
        let x = try load("x.ini")
        XCTAssertEqual(x.string("B", "K"), "v ")
        XCTAssertEqual(x.array("B", "L"), ["1"])

        try write("settings/latin.ini", bytes: Array("#?ini charset=\"iso-8859-1\"?\n[B]\nName=Jos".utf8) + [0xE9, 0x0A])
        XCTAssertEqual(try load("latin.ini").string("B", "Name"), "José")

        try write("settings/bad.ini", bytes: Array("[B]\nOk=1\nName=Jos".utf8) + [0xE9, 0x0A])
        let error = loadError("bad.ini")
        XCTAssertEqual(error?.file, "settings/bad.ini")
        XCTAssertEqual(error?.line, 3)
    }

    // MARK: Errors

    func testMalformedLinesNameTheFileAndLine() throws {
        let cases: [(line: String, reason: String)] = [
            ("Key = value", "spaces"),
            ("Key =value", "spaces"),
            ("  Key=v", "column 0"),
            ("[Unclosed", "']'"),
            ("NoEquals", "no '='"),
            ("Key[name]", "no '='"),
            ("Key[]  ", "trailing whitespace"),
            ("Key[]x", "expected '='"),
            ("Key[open=v", "']'"),
            ("Ke.y=v", "A-Z"),
            ("[  ]", "empty"),
            ("=v", "expected [Block]"),
            ("<?php /*", "first line"),
            ("Key [name]=v", "before '['"),
        ]
        for (bad, reason) in cases {
            try write("settings/override/x.ini.append.php", "<?php /* #?ini charset=\"utf-8\"?\n[B]\n\(bad)\nK=v\n*/ ?>\n")
            guard let error = loadError() else { XCTFail("accepted: \(bad)"); continue }
            XCTAssertEqual(error.file, "settings/override/x.ini.append.php", bad)
            XCTAssertEqual(error.line, 3, bad)
            XCTAssertTrue(error.description.hasPrefix("settings/override/x.ini.append.php:3: malformed line \""), "\(bad): \(error)")
            XCTAssertTrue(error.message.contains(reason), "\(bad): \(error)")
            XCTAssertFalse(error.description.contains("\n"))
        }
    }

    func testThePHPWrapperIsOnlyAcceptedAsAPair() throws {
        try write("settings/x.ini", "[B]\nK=v\n*/ ?>\n")
        XCTAssertEqual(loadError()?.line, 3)
        XCTAssertEqual(loadError()?.message.contains("missing"), true)
        try write("settings/x.ini", "<?php /* K=v\n[B]\n")
        XCTAssertEqual(loadError()?.line, 1)
        try write("settings/x.ini", "<?php   /*\n[B]\nK=v\n*/?>\n")
        XCTAssertEqual(try load("x.ini").string("B", "K"), "v")
    }

    func testMalformedLineMessagesDoNotQuoteTheValue() throws {
        try write("settings/webhooks.ini", "[Source-demo]\nSecret = whsec_c2VjcmV0\n")
        let error = loadError("webhooks.ini")
        XCTAssertEqual(error?.line, 2)
        XCTAssertEqual(error?.description.contains("whsec_"), false, String(describing: error))
        XCTAssertEqual(error?.description.contains("Secret ="), true, String(describing: error))
    }

    func testBoolAndIntParseAndNameTheFileAndLineOnError() throws {
        try write("settings/x.ini", """
            [B]
            On=enabled
            Off=disabled
            True=true
            No=no
            One=1
            Zero=0
            Blank=
            Shouting=ENABLED\u{20}
            Number= 42\u{20}
            Negative=-7
            NoNumber=
            List[]=1

            """)
        try write("settings/override/x.ini.append.php", "<?php /*\n[B]\nMaybe=maybe\nBad=4x\n*/ ?>\n")
        let x = try load("x.ini")
        XCTAssertTrue(try x.bool("B", "On", default: false))
        XCTAssertFalse(try x.bool("B", "Off", default: true))
        XCTAssertTrue(try x.bool("B", "True", default: false))
        XCTAssertFalse(try x.bool("B", "No", default: true))
        XCTAssertTrue(try x.bool("B", "One", default: false))
        XCTAssertFalse(try x.bool("B", "Zero", default: true))
        XCTAssertFalse(try x.bool("B", "Blank", default: true))
        XCTAssertTrue(try x.bool("B", "Shouting", default: false))
        XCTAssertTrue(try x.bool("B", "Absent", default: true))
        XCTAssertEqual(try x.int("B", "Number"), 42)
        XCTAssertEqual(try x.int("B", "Negative"), -7)
        XCTAssertNil(try x.int("B", "NoNumber"))
        XCTAssertNil(try x.int("B", "Absent"))

        XCTAssertThrowsError(try x.bool("B", "Maybe", default: false)) { error in
            XCTAssertTrue("\(error)".hasPrefix("settings/override/x.ini.append.php:3: [B] Maybe"), "\(error)")
            XCTAssertEqual((error as? SettingsError)?.line, 3)
        }
        XCTAssertThrowsError(try x.int("B", "Bad")) { error in
            XCTAssertTrue("\(error)".hasPrefix("settings/override/x.ini.append.php:4: [B] Bad"), "\(error)")
        }
        XCTAssertThrowsError(try x.int("B", "List")) { error in
            XCTAssertTrue("\(error)".hasPrefix("settings/x.ini:13: "), "\(error)")
        }
    }
}
