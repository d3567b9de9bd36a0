import Foundation
import XCTest

@testable import EventFilterKit

/// Builders and checks shared by the webhook tests.
enum WebhookFixtures {
    static let form = "application/x-www-form-urlencoded"

    static func post(
        _ body: String, contentType: String? = nil, headers: [(String, String)] = [], query: String = "",
        path: String = "/source", method: String = "POST"
    ) -> HTTPRequest {
        post(bytes: Array(body.utf8), contentType: contentType, headers: headers, query: query, path: path, method: method)
    }

    static func post(
        bytes: [UInt8], contentType: String? = nil, headers: [(String, String)] = [], query: String = "",
        path: String = "/source", method: String = "POST"
    ) -> HTTPRequest {
        var all = headers.map { (name: $0.0, value: $0.1) }
        if let contentType { all.insert((name: "Content-Type", value: contentType), at: 0) }
        return HTTPRequest(method: method, path: path, query: query, headers: all, body: bytes)
    }

    /// The events of an accepted verdict; fails the test for a rejection.
    static func events(
        _ verdict: WebhookVerdict, file: StaticString = #filePath, line: UInt = #line
    ) -> [IncomingEvent] {
        switch verdict {
        case .accepted(let events):
            return events
        case .rejected(let status, let reason):
            XCTFail("rejected \(status): \(reason)", file: file, line: line)
            return []
        }
    }

    /// Checks a rejection's status and that its reason is one line and gives nothing away.
    static func assertRejected(
        _ verdict: WebhookVerdict, _ status: Int, secret: String, mentioning fragment: String? = nil,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        guard case .rejected(let actual, let reason) = verdict else {
            XCTFail("accepted, expected \(status)", file: file, line: line)
            return
        }
        XCTAssertEqual(actual, status, reason, file: file, line: line)
        XCTAssertFalse(reason.isEmpty, file: file, line: line)
        XCTAssertFalse(reason.contains("\n") || reason.contains("\r"), "multi-line reason: \(reason)", file: file, line: line)
        XCTAssertFalse(reason.contains(secret), "reason leaks the secret: \(reason)", file: file, line: line)
        if let fragment {
            XCTAssertTrue(reason.contains(fragment), "reason \(reason) lacks \(fragment)", file: file, line: line)
        }
    }

    static func string(_ event: IncomingEvent, _ key: String) -> String? {
        event.params[key]?.stringValue
    }
}

/// Rules common to every source: method, size, configuration, answers.
final class WebhookVerifierTests: XCTestCase {
    private let panda = WebhookSource(name: "panda", type: .panda, secret: "tok-123")

    func testOnlyPOSTIsAccepted() {
        for method in ["GET", "PUT", "HEAD", "post"] {
            let request = WebhookFixtures.post("event=video-created&video_id=v1", query: "token=tok-123", method: method)
            let verdict = WebhookVerifier.process(request, source: panda, now: 0, bodyLimit: 1000)
            WebhookFixtures.assertRejected(verdict, 405, secret: "tok-123")
        }
    }

    func testBodyOverTheLimitIsRefusedBeforeAnythingElse() {
        // No token at all: the size check still comes first, so a stranger cannot make us parse 2 MB.
        let request = WebhookFixtures.post(bytes: [UInt8](repeating: 65, count: 1001))
        for type in WebhookSourceType.allCases {
            let source = WebhookSource(name: "s", type: type, secret: type == .standard ? "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" : "a:b")
            let verdict = WebhookVerifier.process(request, source: source, now: 0, bodyLimit: 1000)
            WebhookFixtures.assertRejected(verdict, 413, secret: source.secret, mentioning: "1001")
        }
        let atLimit = WebhookFixtures.post("event=video-created&video_id=v1", query: "token=tok-123")
        let verdict = WebhookVerifier.process(atLimit, source: panda, now: 0, bodyLimit: atLimit.body.count)
        XCTAssertEqual(WebhookFixtures.events(verdict).count, 1, "a body exactly at the limit is fine")
    }

    func testMisconfiguredSourceAnswers500WithoutTheSecret() {
        let cases: [WebhookSource] = [
            WebhookSource(name: "s", type: .kaltura, secret: ""),
            WebhookSource(name: "s", type: .standard, secret: "whsec_not base64!"),
            WebhookSource(name: "s", type: .enablex, secret: "no-colon-here"),
            WebhookSource(name: "bad name", type: .panda, secret: "x"),
            WebhookSource(name: "s", type: .panda, secret: "x", pathPrefix: "relative/"),
        ]
        for source in cases {
            XCTAssertNotNil(source.configurationProblem)
            let verdict = WebhookVerifier.process(WebhookFixtures.post("{}"), source: source, now: 0, bodyLimit: 100)
            WebhookFixtures.assertRejected(verdict, 500, secret: source.secret.isEmpty ? "\u{0}" : source.secret)
        }
        XCTAssertNil(WebhookSource(name: "kaltura", type: .kaltura, secret: "s3cr3t").configurationProblem)
    }

    func testSourceDefaultsAndRedaction() {
        let source = WebhookSource(name: "kaltura", type: .kaltura, secret: "s3cr3t")
        XCTAssertEqual(source.pathPrefix, "/kaltura/")
        XCTAssertEqual(source.reminderLead, 900)
        XCTAssertEqual(source.toleranceSeconds, 300)
        XCTAssertFalse(source.mailProgress)
        XCTAssertFalse(source.description.contains("s3cr3t"))
        var dumped = ""
        dump(source, to: &dumped)
        XCTAssertFalse(dumped.contains("s3cr3t"))
        XCTAssertEqual(WebhookSource(name: "n", type: .panda, secret: "x", pathPrefix: "/1/2").normalizedPrefix, "/1/2/")
    }

    func testRejectionResponses() {
        let enablex = WebhookSource(name: "ex", type: .enablex, secret: "u:p")
        let unauthorized = WebhookVerdict.rejected(status: 401, reason: "missing HTTP Basic credentials")
        XCTAssertEqual(unauthorized.rejectionResponse(for: enablex)?.headers.first?.name, "WWW-Authenticate")
        XCTAssertEqual(unauthorized.rejectionResponse(for: panda)?.headers, [])
        XCTAssertEqual(
            WebhookVerdict.rejected(status: 405, reason: "x").rejectionResponse(for: panda)?.headers,
            [HTTPHeader("Allow", "POST")])
        XCTAssertNil(WebhookVerdict.accepted([]).rejectionResponse(for: panda))
    }

    func testCGIResponseBytes() {
        let response = HTTPResponse(status: 403, body: "signature does not match")
        XCTAssertEqual(response.reason, "Forbidden")
        XCTAssertEqual(
            String(decoding: response.cgiBytes, as: UTF8.self),
            "Status: 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nsignature does not match\n")
        let notAllowed = HTTPResponse(status: 405, body: "use POST")
        XCTAssertEqual(
            String(decoding: notAllowed.cgiBytes, as: UTF8.self),
            "Status: 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\nAllow: POST\r\n\r\nuse POST\n")
        let injected = HTTPResponse(status: 200, reason: "OK\r\nSet-Cookie: x", body: "ok")
        XCTAssertFalse(String(decoding: injected.cgiBytes, as: UTF8.self).contains("\r\nSet-Cookie"))
        let headerBreak = HTTPResponse(status: 200, body: "é ok", headers: [HTTPHeader("X-Note", "one\ntwo\r\nthree é")])
        XCTAssertEqual(
            String(decoding: headerBreak.cgiBytes, as: UTF8.self),
            "Status: 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nX-Note: one two  three é\r\n\r\né ok\n",
            "a line break in a header becomes a space; other text, and the body, pass unchanged")
    }

    func testRequestHeaderLookupIsCaseInsensitive() {
        let request = WebhookFixtures.post(
            "", contentType: "Application/JSON; charset=utf-8", headers: [("X-Kaltura-Signature", "ab")], path: "/kaltura/")
        XCTAssertEqual(request.header("x-kaltura-signature"), "ab")
        XCTAssertEqual(request.header("CONTENT-TYPE"), "Application/JSON; charset=utf-8")
        XCTAssertEqual(request.mediaType, "application/json")
        XCTAssertNil(request.header("webhook-id"))
        XCTAssertEqual(request.sourceName, "kaltura")
        XCTAssertNil(WebhookFixtures.post("", path: "/a/b").sourceName)
        XCTAssertNil(WebhookFixtures.post("", path: "/").sourceName)
    }

    func testFormDecoding() throws {
        let pairs = try FormDecoder.decode(Array("a=1&b=x+y%2Bz&&c&d=%C3%A9".utf8))
        XCTAssertEqual(pairs.map(\.name), ["a", "b", "c", "d"])
        XCTAssertEqual(pairs.map(\.value), ["1", "x y+z", "", "é"])
        XCTAssertThrowsError(try FormDecoder.decode(Array("a=%zz".utf8)))
        XCTAssertThrowsError(try FormDecoder.decode(Array("a=%4".utf8)))
        XCTAssertThrowsError(try FormDecoder.decode(Array("a=%ff".utf8)), "not UTF-8")
        XCTAssertThrowsError(try FormDecoder.decode(Array("a=%00".utf8)), "NUL")
        XCTAssertThrowsError(try FormDecoder.decode(Array("=1".utf8)), "no name")
    }
}
