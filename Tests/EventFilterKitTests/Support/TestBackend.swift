import Foundation
import XCTest

/// The store backend the end-to-end tests run against, chosen for the whole run by the
/// environment variable `EVENTFILTER_TEST_BACKEND` (`sqlite`, the default, or `postgresql`).
/// `make test` runs the suite on SQLite, then the end-to-end tests again on PostgreSQL.
///
///     EVENTFILTER_TEST_BACKEND=postgresql swift test --filter KernelEndToEndTests
///     if TestBackend.current == .postgresql { ... }
enum TestBackend: String {
    case sqlite
    case postgresql

    static let variable = "EVENTFILTER_TEST_BACKEND"

    /// The backend of this run. An unknown name stops the run at once: a typo must not quietly
    /// run the SQLite suite a second time.
    static let current: TestBackend = {
        let value = ProcessInfo.processInfo.environment[variable] ?? ""
        if value.isEmpty { return .sqlite }
        guard let backend = TestBackend(rawValue: value) else {
            fatalError("\(variable)=\(value): expected sqlite or postgresql")
        }
        return backend
    }()

    /// The start of the skip message of a test that is about SQLite itself; `make test` counts
    /// these skips apart from any other skip (which fails the run).
    static let sqliteOnlyMarker = "SQLite only:"

    /// The start of the skip message of a test about what PostgreSQL's server does (its sessions,
    /// its commits); the SQLite pass of `make test` counts these skips apart, as the PostgreSQL
    /// pass counts `sqliteOnlyMarker`'s.
    static let postgreSQLOnlyMarker = "PostgreSQL only:"
}

extension TestRoot {
    /// Skips the calling test when the suite runs on PostgreSQL; does nothing on SQLite (where
    /// the test runs and counts as passed). For tests about SQLite itself (the store file, its
    /// journal, its locks); `reason` says which, and shows in the skip message.
    ///
    ///     try TestRoot.requireSQLite("the WAL file's size after a checkpoint")
    static func requireSQLite(_ reason: String, file: StaticString = #filePath, line: UInt = #line) throws {
        if TestBackend.current != .sqlite {
            throw XCTSkip("\(TestBackend.sqliteOnlyMarker) \(reason)", file: file, line: line)
        }
    }

    /// Skips the calling test when the suite runs on SQLite: for tests about the PostgreSQL
    /// server itself (its sessions, its transaction ids); `reason` says which.
    ///
    ///     try TestRoot.requirePostgreSQL("the server's sessions during a delivery")
    static func requirePostgreSQL(_ reason: String, file: StaticString = #filePath, line: UInt = #line) throws {
        if TestBackend.current != .postgresql {
            throw XCTSkip("\(TestBackend.postgreSQLOnlyMarker) \(reason)", file: file, line: line)
        }
    }
}
