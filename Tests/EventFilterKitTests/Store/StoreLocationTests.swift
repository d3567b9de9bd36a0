import Foundation
import XCTest

@testable import EventFilterKit

/// site.ini's `[DatabaseSettings]` and `EVENTFILTER_DATABASE` choose the store.
final class StoreLocationTests: XCTestCase {
    private func root(_ databaseSettings: String) throws -> TestRoot {
        try TestRoot(siteINI: TestRoot.defaultSiteINI + "\n[DatabaseSettings]\n" + databaseSettings)
    }

    func testSQLiteIsTheDefault() throws {
        let root = try TestRoot()
        XCTAssertEqual(try StoreLocation.configured(root: root.url, environment: ["EVENTFILTER_DATABASE": "dbname=x"]),
                       .sqlite(path: root.url.appendingPathComponent("var/eventfilter.db").path),
                       "the variable gives a connection string, never the backend")
    }

    func testTheEnvironmentVariableReplacesTheConnectionStringOfTheFile() throws {
        let root = try root("Backend=PostgreSQL\nConnectionString=dbname=from_file\n")
        XCTAssertEqual(try StoreLocation.configured(root: root.url, environment: [:]), .postgresql(connectionString: "dbname=from_file"))
        XCTAssertEqual(try StoreLocation.configured(root: root.url, environment: ["EVENTFILTER_DATABASE": "dbname=from_env"]),
                       .postgresql(connectionString: "dbname=from_env"))
        XCTAssertEqual(try StoreLocation.configured(root: root.url, environment: ["EVENTFILTER_DATABASE": ""]),
                       .postgresql(connectionString: "dbname=from_file"), "an empty variable is as good as none")
    }

    func testPostgreSQLWithoutAConnectionStringOrAnUnknownBackendIsOneLine() throws {
        let withoutConnection = try root("Backend=postgresql\n"), unknown = try root("Backend=mysql\n")
        XCTAssertThrowsError(try StoreLocation.configured(root: withoutConnection.url, environment: [:])) {
            XCTAssertEqual("\($0)", "site.ini [DatabaseSettings] Backend=postgresql needs ConnectionString= or the environment variable EVENTFILTER_DATABASE")
        }
        XCTAssertThrowsError(try StoreLocation.configured(root: unknown.url, environment: [:])) {
            XCTAssertEqual("\($0)", "site.ini [DatabaseSettings] Backend must be sqlite or postgresql, not 'mysql'")
        }
    }

    func testCheckReportsABadBackendAtItsLine() throws {
        let root = try root("Backend=mysql\n")
        let result = try root.run(["check"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stdout.contains("settings/site.ini:11: [DatabaseSettings] Backend must be sqlite or postgresql, not 'mysql'"),
                      result.stdout + result.stderr)
    }
}
