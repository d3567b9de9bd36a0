import Foundation
import XCTest

@testable import EventFilterKit

/// Started by a web server, `eventfilter` is the CGI receiver whatever its arguments.
final class CGIGateTests: XCTestCase {
    private let web = ["GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET", "PATH_INFO": ""]

    private func gate(_ arguments: [String], _ environment: [String: String]) -> [String] {
        CGIGate.arguments(environment: environment) { arguments }
    }

    private func web(query: String) -> [String: String] {
        web.merging(["QUERY_STRING": query]) { _, new in new }
    }

    func testOutsideAWebServerTheArgumentsAreUntouched() {
        let arguments = ["--root", "/srv/site", "user", "remove", "ann@example.com"]
        XCTAssertEqual(gate(arguments, ["QUERY_STRING": "x"]), arguments)
        XCTAssertEqual(gate([], [:]), [])
    }

    func testSearchQueryWordsNeverBecomeACommand() {
        // What Apache passes for GET /hooks?user+remove+ann@example.com.
        let environment = web(query: "user+remove+ann@example.com")
        XCTAssertEqual(gate(["user", "remove", "ann@example.com"], environment), ["cgi"])
        XCTAssertEqual(gate(["run"], web(query: "run")), ["cgi"])
        XCTAssertEqual(gate(["--help"], web(query: "--help")), ["cgi"])
        // Options a visitor typed look exactly like a wrapper's: with words possible, none is kept.
        XCTAssertEqual(gate(["--root", "/tmp/evil", "cgi"], web(query: "--root+/tmp/evil+cgi")), ["cgi"])
        XCTAssertEqual(gate(["--now=2020-01-01T00:00:00Z", "cgi"], web(query: "--now=2020")), ["--now=2020-01-01T00:00:00Z", "cgi"],
                       "a query with '=' puts nothing on the command line, so these came from the operator")
    }

    func testAWrappersGlobalOptionsAreKeptWhenTheRequestCannotHaveAddedWords() {
        for environment in [web, web(query: ""), web(query: "token=abc")] {
            XCTAssertEqual(gate(["--root", "/srv/site", "--now", "2026-01-01T07:00:00Z", "cgi"], environment),
                           ["--root", "/srv/site", "--now", "2026-01-01T07:00:00Z", "cgi"])
            XCTAssertEqual(gate(["--root=/srv/site", "cgi"], environment), ["--root=/srv/site", "cgi"])
            XCTAssertEqual(gate([], environment), ["cgi"])
            // A wrapper that names another command still gets the receiver.
            XCTAssertEqual(gate(["--root", "/srv/site", "user", "list"], environment), ["--root", "/srv/site", "cgi"])
            XCTAssertEqual(gate(["user", "--root", "/srv/site"], environment), ["cgi"])
        }
    }

    func testACommandLineThatCannotBeDecodedStillGivesTheReceiver() {
        struct Undecodable: Error {}
        func undecodable() throws -> [String] { throw Undecodable() }
        XCTAssertEqual(try CGIGate.arguments(environment: web(query: "%FF+x"), commandLine: undecodable), ["cgi"])
        XCTAssertEqual(try CGIGate.arguments(environment: web, commandLine: undecodable), ["cgi"])
        XCTAssertThrowsError(try CGIGate.arguments(environment: [:], commandLine: undecodable), "outside a web server the error stands")
    }

    /// The built binary, started the way Apache starts it for GET /hooks?user+remove+ann@example.com.
    func testTheExecutableAnswersAsTheReceiverAndChangesNothing() throws {
        let root = try TestRoot()
        try root.ok("user", "add", "ann@example.com")
        try root.ok("subscribe", "ann@example.com", "2")
        let process = Process()
        process.executableURL = TestRoot.executable
        process.arguments = ["user", "remove", "ann@example.com"]
        process.environment = web(query: "user+remove+ann@example.com").merging(["EVENTFILTER_ROOT": root.path]) { _, new in new }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let answer = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()

        XCTAssertEqual(process.terminationStatus, 0)
        XCTAssertTrue(answer.hasPrefix("Status: 404 "), answer)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM \"user\" WHERE email = 'ann@example.com'"), 1)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM subtree_rule"), 1)
    }
}
