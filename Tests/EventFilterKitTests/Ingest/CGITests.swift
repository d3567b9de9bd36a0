import Foundation
import XCTest

@testable import EventFilterKit

/// Reading a request from a CGI environment (RFC 3875 §4.1) and a bounded standard input.
final class CGITests: XCTestCase {
    /// A stand-in for standard input that records how much was asked for and read.
    private final class Input {
        let bytes: [UInt8]
        var requested: [Int] = []
        init(_ text: String) { bytes = Array(text.utf8) }
        func read(_ count: Int) -> [UInt8] {
            requested.append(count)
            return Array(bytes.prefix(count))
        }
    }

    private let lighttpdLike: [String: String] = [
        "GATEWAY_INTERFACE": "CGI/1.1",
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "/hooks",
        "PATH_INFO": "/kaltura",
        "QUERY_STRING": "token=abc&x=1",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": "11",
        "HTTP_X_KALTURA_SIGNATURE": "deadbeef",
        "HTTP_WEBHOOK_ID": "msg_1",
        "HTTP_USER_AGENT": "curl/8",
        "HTTP_CONTENT_TYPE": "text/evil",
        "SERVER_PROTOCOL": "HTTP/1.1",
    ]

    private func request(_ environment: [String: String], _ input: Input, limit: Int = 1000) -> Result<HTTPRequest, HTTPResponseError> {
        CGI.request(environment: environment, body: input.read, bodyLimit: limit)
    }

    func testEnvironmentBecomesARequest() throws {
        let input = Input("a=1&b=2TRAILING-GARBAGE")
        let request = try request(lighttpdLike, input).get()
        XCTAssertEqual(request.method, "POST")
        XCTAssertEqual(request.path, "/kaltura")
        XCTAssertEqual(request.sourceName, "kaltura")
        XCTAssertEqual(request.query, "token=abc&x=1")
        XCTAssertEqual(request.body, Array("a=1&b=2TRAI".utf8), "exactly CONTENT_LENGTH bytes")
        XCTAssertEqual(input.requested, [11])
        XCTAssertEqual(request.header("X-Kaltura-Signature"), "deadbeef")
        XCTAssertEqual(request.header("webhook-id"), "msg_1")
        XCTAssertEqual(request.header("user-agent"), "curl/8")
        XCTAssertEqual(request.contentType, "application/x-www-form-urlencoded", "CONTENT_TYPE wins over HTTP_CONTENT_TYPE")
        XCTAssertEqual(request.headers.filter { $0.name == "Content-Type" }.count, 1)
        XCTAssertEqual(request.header("Content-Length"), "11")
        XCTAssertNil(request.header("Gateway-Interface"), "only HTTP_* variables are headers")
        XCTAssertEqual(request.queryParameters?.map(\.name), ["token", "x"])
    }

    func testHeaderNamesAreRebuilt() {
        XCTAssertEqual(CGI.headerName("X_KALTURA_HASH_ALGO"), "X-Kaltura-Hash-Algo")
        XCTAssertEqual(CGI.headerName("AUTHORIZATION"), "Authorization")
        XCTAssertEqual(CGI.headerName("WEBHOOK_TIMESTAMP"), "Webhook-Timestamp")
    }

    func testOversizedBodyIsRefusedWithoutReadingIt() {
        var environment = lighttpdLike
        environment["CONTENT_LENGTH"] = "1048577"
        let input = Input("x")
        guard case .failure(let error) = request(environment, input, limit: 1_048_576) else {
            return XCTFail("accepted an oversized body")
        }
        XCTAssertEqual(error.status, 413)
        XCTAssertEqual(input.requested, [], "not a byte read")
        XCTAssertTrue(String(decoding: error.response.cgiBytes, as: UTF8.self).hasPrefix("Status: 413 Content Too Large\r\n"))
    }

    func testShortBodyAndBadLengths() {
        var environment = lighttpdLike
        environment["CONTENT_LENGTH"] = "50"
        guard case .failure(let short) = request(environment, Input("only ten b")) else { return XCTFail("accepted a short body") }
        XCTAssertEqual(short.status, 400)
        XCTAssertTrue(short.reason.contains("10 of 50"), short.reason)

        for bad in ["-1", "12abc", "1e3", "99999999999999999999999"] {
            environment["CONTENT_LENGTH"] = bad
            guard case .failure(let error) = request(environment, Input("")) else { return XCTFail("accepted length \(bad)") }
            XCTAssertEqual(error.status, 400, bad)
        }
    }

    func testNoBodyAndDefaults() throws {
        let input = Input("ignored")
        let request = try request(["REQUEST_METHOD": "GET"], input).get()
        XCTAssertEqual(request.method, "GET")
        XCTAssertEqual(request.path, "/")
        XCTAssertEqual(request.query, "")
        XCTAssertEqual(request.body, [])
        XCTAssertEqual(input.requested, [], "no CONTENT_LENGTH: no body to read")
    }

    func testNotUnderCGI() {
        guard case .failure(let error) = request([:], Input("")) else { return XCTFail("accepted an empty environment") }
        XCTAssertEqual(error.status, 500)
    }

    func testReadFailureAsksTheSenderToRetry() {
        struct Broken: Error {}
        let result = CGI.request(environment: lighttpdLike, body: { _ in throw Broken() }, bodyLimit: 1000)
        guard case .failure(let error) = result else { return XCTFail("a failed read was accepted") }
        XCTAssertEqual(error.status, 500)
    }

    func testApacheRewrittenAuthorization() throws {
        var environment = lighttpdLike
        environment["REDIRECT_HTTP_AUTHORIZATION"] = "Basic aG9va3M6cGE1NXdvcmQ="
        XCTAssertEqual(try request(environment, Input("a=1&b=2TRAI")).get().header("Authorization"), "Basic aG9va3M6cGE1NXdvcmQ=")
        environment["HTTP_AUTHORIZATION"] = "Basic direct"
        XCTAssertEqual(try request(environment, Input("a=1&b=2TRAI")).get().header("Authorization"), "Basic direct")
    }

    func testCGIRequestThroughTheVerifier() throws {
        // A Panda notification as lighttpd would hand it over, end to end through the pure layer.
        let body = "event=video-created&video_id=123234"
        let environment = [
            "REQUEST_METHOD": "POST", "PATH_INFO": "/panda", "QUERY_STRING": "token=pnd",
            "CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": "\(body.utf8.count)",
        ]
        let request = try request(environment, Input(body)).get()
        let source = WebhookSource(name: "panda", type: .panda, secret: "pnd")
        let events = WebhookFixtures.events(WebhookVerifier.process(request, source: source, now: 0, bodyLimit: 1000))
        XCTAssertEqual(events.map(\.type), ["panda.video-created"])
    }

    func testReadStandardInputFromAPipe() throws {
        // Point fd 0 at a pipe for the length of the test, then put the real stdin back.
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let saved = dup(0)
        defer {
            dup2(saved, 0)
            close(saved)
        }
        let payload = Array("hello, cgi".utf8)
        _ = payload.withUnsafeBytes { write(fds[1], $0.baseAddress, payload.count) }
        close(fds[1])
        dup2(fds[0], 0)
        close(fds[0])
        XCTAssertEqual(try CGI.readStandardInput(5), Array("hello".utf8))
        XCTAssertEqual(try CGI.readStandardInput(100), Array(", cgi".utf8), "stops at end of input")
    }
}
