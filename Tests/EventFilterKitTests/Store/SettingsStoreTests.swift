import XCTest
@testable import EventFilterKit

/// The store's side of the settings links: hashes only, the newest links kept, revocation,
/// and the installation key made once.
final class SettingsStoreTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ef-settings-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    func testTokensAreStoredHashedAndAUserKeepsTheNewest() throws {
        let store = try Store(root: dir)
        let ann = try store.addUser(email: "ann@example.com", name: "", timezone: "UTC", now: 0)
        let bob = try store.addUser(email: "bob@example.com", name: "", timezone: "UTC", now: 0)
        let first = try store.issueSettingsToken(userID: ann.id, now: 1)
        XCTAssertTrue(Store.isSettingsToken(first), first)
        XCTAssertEqual(try store.db.scalarInt("SELECT count(*) FROM settings_token WHERE hash = ?", [first]), 0)
        XCTAssertEqual(try store.settingsUser(token: first)?.email, "ann@example.com")
        let bobs = try store.issueSettingsToken(userID: bob.id, now: 1)

        var later: [String] = []
        for second in 0..<Store.settingsTokensKept { later.append(try store.issueSettingsToken(userID: ann.id, now: 2 + Int64(second))) }
        XCTAssertNil(try store.settingsUser(token: first), "the oldest link went when the 31st was made")
        XCTAssertEqual(try later.compactMap { try store.settingsUser(token: $0) }.count, Store.settingsTokensKept)
        XCTAssertEqual(try store.settingsUser(token: bobs)?.email, "bob@example.com", "another user's links stay")

        XCTAssertEqual(try store.revokeSettingsTokens(email: "ann@example.com"), Store.settingsTokensKept)
        XCTAssertNil(try store.settingsUser(token: later[0]))
        XCTAssertNil(try store.settingsUser(token: "x"))
        XCTAssertNil(try store.settingsUser(token: String(repeating: "A", count: 43)))
    }

    func testTheInstallationKeyIsMadeOnceAndKept() throws {
        let key = try Store(root: dir).installationKey("settings-csrf")
        XCTAssertEqual(key.count, 32)
        XCTAssertEqual(try Store(root: dir).installationKey("settings-csrf"), key)
        XCTAssertNotEqual(try Store(root: dir).installationKey("other"), key)
    }
}
