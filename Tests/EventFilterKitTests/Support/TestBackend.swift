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
}
