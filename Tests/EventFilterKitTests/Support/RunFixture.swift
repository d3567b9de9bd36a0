import Foundation
import XCTest
@testable import EventFilterKit

/// An installation in a temporary directory opened in-process, with the run's pieces (store,
/// renderer, sink) made as `eventfilter run` makes them, for fast tests of the run's seams.
///
///     let run = try RunFixture()
///     let ann = try run.user("ann@example.com", following: "60")
///     let event = try run.event("ezpublish", ["node_id": "60", "path": "/1/2/60/", "name": "News"])
final class RunFixture {
    let root: URL
    let store: Store
    let settings: Settings
    let site: SiteConfiguration
    let renderer: MailRenderer
    let sink: ItemSink
    /// 2026-06-01 12:00 UTC, a Monday.
    let now: Int64 = 1_780_315_200
    /// The fixture's own PostgreSQL database when the suite runs on PostgreSQL (dropped with it).
    let postgres: TestPostgresDatabase?

    init(notificationAppend: String? = nil) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("ef-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("settings/override"), withIntermediateDirectories: true)
        try Self.write(root, "settings/site.ini", TestRoot.defaultSiteINI)
        // The same switch as TestRoot's: EVENTFILTER_TEST_BACKEND=postgresql gives the store a fresh database.
        postgres = TestBackend.current == .postgresql ? try TestPostgres.server().makeDatabase() : nil
        if let postgres {
            try Self.write(root, "settings/override/site.ini.append", """
                [DatabaseSettings]
                Backend=postgresql
                ConnectionString=\(postgres.connectionString)

                """)
        }
        try Self.write(root, "settings/notification.ini", TestRoot.stockNotificationINI)
        if let notificationAppend { try Self.write(root, "settings/override/notification.ini.append", notificationAppend) }
        store = try Store(root: root)
        settings = Settings(root: root)
        site = try SiteConfiguration.load(settings)
        renderer = try MailRenderer(root: root, settings: settings, site: site, now: now)
        sink = ItemSink(store: store, outbox: Outbox(store: store), renderer: renderer, digests: true)
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    func write(_ relativePath: String, _ contents: String, executable: Bool = false) throws {
        try Self.write(root, relativePath, contents, executable: executable)
    }

    private static func write(_ root: URL, _ relativePath: String, _ contents: String, executable: Bool = false) throws {
        let file = root.appendingPathComponent(relativePath)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(contents.utf8).write(to: file)
        if executable { try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: file.path) }
    }

    /// A user with subtree rules on `nodes` and, when given, a digest schedule (`["daily", "08:00"]`).
    @discardableResult
    func user(_ email: String, name: String = "", following nodes: String..., digest: [String]? = nil) throws -> User {
        let user = try store.addUser(email: email, name: name, timezone: "UTC", now: now)
        for node in nodes { try store.subscribe(email: email, node: node, now: now) }
        if let digest { try store.setDigest(email: email, schedule: try DigestSchedule.parse(digest), now: now) }
        return user
    }

    /// A stored, unhandled event, as the filter reads it.
    func event(_ type: String, _ params: JSONValue, at time: Int64? = nil) throws -> Event {
        let id = try store.addEvent(type: type, params: params, now: time ?? now).id
        return Event(id: id, type: type, params: params, createdAt: time ?? now, notBefore: nil)
    }

    /// The queued messages: recipient and subject, oldest first.
    func queued() throws -> [String] {
        try store.db.map("SELECT recipient, subject FROM outbox JOIN outbox_message ON outbox_id = id ORDER BY id") { "\(try $0.string("recipient")): \(try $0.string("subject"))" }
    }

    /// The queued messages, parsed, oldest first.
    func messages() throws -> [ParsedMail] {
        try store.db.map("SELECT message FROM outbox_message ORDER BY outbox_id") { try ParsedMail(bytes: try $0.bytes("message")) }
    }

    func count(_ table: String) throws -> Int {
        try store.db.scalarInt("SELECT count(*) FROM \(table)") ?? -1
    }

    /// The mail items of an outcome, or a failure naming what it was.
    static func mail(_ outcome: HandlerOutcome?, file: StaticString = #filePath, line: UInt = #line) -> [Items] {
        switch outcome {
        case .done(let items)?:
            return items.compactMap { if case .mail(let mail) = $0 { return mail } else { return nil } }
        case .failed(let reason)?:
            XCTFail("failed: \(reason)", file: file, line: line)
        case nil:
            XCTFail("no outcome", file: file, line: line)
        }
        return []
    }
}
