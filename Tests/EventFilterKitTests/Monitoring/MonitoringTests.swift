import XCTest
@testable import EventFilterKit

/// The pure parts of monitoring: report lines, the plugin line, stderr tails, hints.
final class MonitoringTests: XCTestCase {
    func testAFloodOfOneKindIsCutToFiveLinesAndACountEachKindOnItsOwn() {
        let failed = (1...7).map { Problem(kind: .mailFailed, key: "f\($0)", message: "mail \($0) failed") }
        let handler = Problem(kind: .handlerFailing, key: "h", message: "handler feed is failing:\nline two")
        XCTAssertEqual(ProblemReport.lines(for: [handler] + failed), [
            "mail 1 failed", "mail 2 failed", "mail 3 failed", "mail 4 failed", "mail 5 failed",
            "... and 2 more failed messages (see eventfilter mail list --failed)",
            "handler feed is failing: line two",
        ])
    }

    func testTheStderrTailEndsWithTheException() {
        let stderr = """
            Traceback (most recent call last):
              File "/srv/handler", line 9, in <module>
                fetch()
              File "/srv/handler", line 7, in fetch
                raise ConnectionError("refused")
            ConnectionError: refused

            """
        let tail = ExternalHandler.tail(of: stderr)
        XCTAssertEqual(tail.lastLine, "ConnectionError: refused")
        XCTAssertEqual(tail.tail.split(separator: "\n").count, 5)
        XCTAssertFalse(tail.tail.contains("Traceback"))
        XCTAssertEqual(ExternalHandler.tail(of: "").lastLine, "")
    }

    func testBackoffDoublesFromFiveMinutesToAnHour() {
        XCTAssertEqual((1...7).map { Filter.handlerBackoff(failures: $0) }, [300, 600, 1200, 2400, 3600, 3600, 3600])
    }

    func testPlaceAndHints() {
        XCTAssertEqual(SettingsCheck.splitPlace("settings/x.ini:3: bad")?.place, "settings/x.ini:3")
        XCTAssertNil(SettingsCheck.splitPlace("site.ini [MailSettings] X: bad"))
        XCTAssertEqual(SettingsCheck.editDistance("ActiveExtension", "ActiveExtensions"), 1)
        XCTAssertEqual(SettingsCheck.editDistance("WarnDeferedAfter", "WarnDeferredAfter"), 1)
        XCTAssertGreaterThan(SettingsCheck.editDistance("BatchSize", "KeepDays"), 2)
        XCTAssertEqual(HealthCheck.duration(3600), "1 h")
        XCTAssertEqual(HealthCheck.duration(3660), "1 h 1 min")
        XCTAssertEqual(HealthCheck.duration(1800), "30 min")
    }

    func testThePluginLineIsOneLine() {
        let unknown = HealthCheck.unknown("cannot open\nthe store")
        XCTAssertEqual(unknown.line, "EVENTFILTER UNKNOWN - cannot open the store")
        XCTAssertEqual(unknown.state.rawValue, 3)
        XCTAssertEqual(HealthCheck.unknown("a | b").line, "EVENTFILTER UNKNOWN - a / b", "a '|' would start the perfdata")
    }
}
