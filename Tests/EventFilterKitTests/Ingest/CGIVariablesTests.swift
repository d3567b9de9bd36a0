import XCTest

@testable import EventFilterKit

/// The CGI variables read from FastCGI's FCGI_PARAMS make the same request as the same
/// variables read from an environment.
final class CGIVariablesTests: XCTestCase {
    /// nginx's fastcgi_params and more: variables no request reads, a header sent twice, one
    /// exported both as a CGI variable and as HTTP_*, Apache's rewritten Authorization.
    private let pairs: [(String, String)] = [
        ("QUERY_STRING", "token=abc"), ("REQUEST_METHOD", "POST"), ("CONTENT_TYPE", "application/json"),
        ("CONTENT_LENGTH", "2"), ("SCRIPT_NAME", "/hooks/billing"), ("REQUEST_URI", "/hooks/billing?token=abc"),
        ("DOCUMENT_ROOT", "/srv/www"), ("SERVER_PROTOCOL", "HTTP/1.1"), ("REMOTE_ADDR", "127.0.0.1"),
        ("PATH_INFO", "/billing"), ("HTTP_HOST", "example.com"), ("HTTP_CONTENT_TYPE", "text/evil"),
        ("HTTP_WEBHOOK_ID", "msg_first"), ("HTTP_WEBHOOK_TIMESTAMP", "1614265330"), ("HTTP_WEBHOOK_ID", "msg_last"),
        ("HTTP_", "empty name"), ("REDIRECT_HTTP_AUTHORIZATION", "Bearer t"), ("H", "x"), ("", "nameless"),
    ]

    private func encoded(_ pairs: [(String, String)]) -> [UInt8] {
        FastCGIRecord.encodePairs(pairs.map { (Array($0.0.utf8), Array($0.1.utf8)) })
    }

    private func request(_ variables: CGIVariables) throws -> HTTPRequest {
        try CGI.request(variables: variables, body: { Array(repeating: UInt8(ascii: "x"), count: $0) }, bodyLimit: 100).get()
    }

    func testFastCGIParamsMakeTheSameRequestAsTheEnvironment() throws {
        let bytes = encoded(pairs)
        let fromParams = try request(try XCTUnwrap(CGIVariables(fastCGIParams: bytes)))
        let fromEnvironment = try request(CGIVariables(environment: try XCTUnwrap(FastCGIRecord.decodeParams(bytes))))
        XCTAssertEqual(fromParams.method, "POST")
        XCTAssertEqual(fromParams.path, "/billing")
        XCTAssertEqual(fromParams.query, "token=abc")
        XCTAssertEqual(fromParams.header("webhook-id"), "msg_last", "a repeated name keeps its last value")
        XCTAssertEqual(fromParams.contentType, "application/json", "CONTENT_TYPE wins over HTTP_CONTENT_TYPE")
        XCTAssertEqual(fromParams.header("Authorization"), "Bearer t")
        XCTAssertNil(fromParams.header("Document-Root"), "only HTTP_* variables are headers")
        for request in [fromParams, fromEnvironment] {
            XCTAssertEqual(request.headers.map(\.name), ["", "Authorization", "Content-Length", "Content-Type", "Host", "Webhook-Id", "Webhook-Timestamp"])
        }
        XCTAssertEqual(fromParams.headers.map(\.value), fromEnvironment.headers.map(\.value))
        XCTAssertEqual([fromParams.method, fromParams.path, fromParams.query], [fromEnvironment.method, fromEnvironment.path, fromEnvironment.query])
    }

    /// HTTP_AUTHORIZATION, when present, wins over Apache's rewrite, as in an environment.
    func testAnAuthorizationHeaderWinsOverTheRewrite() throws {
        let bytes = encoded([("REQUEST_METHOD", "GET"), ("REDIRECT_HTTP_AUTHORIZATION", "Bearer rewritten"), ("HTTP_AUTHORIZATION", "Bearer sent")])
        let request = try request(try XCTUnwrap(CGIVariables(fastCGIParams: bytes)))
        XCTAssertEqual(request.headers.filter { $0.name == "Authorization" }.map(\.value), ["Bearer sent"])
    }

    /// Bytes that are not UTF-8 become U+FFFD, as in `FastCGIRecord.decodeParams`.
    func testBytesThatAreNotUTF8BecomeReplacementCharacters() throws {
        let bytes = FastCGIRecord.encodePairs([
            (Array("REQUEST_METHOD".utf8), Array("POST".utf8)),
            (Array("PATH_INFO".utf8), [UInt8(ascii: "/"), 0xFF]),
            (Array("HTTP_X_".utf8) + [0xC3], Array("v".utf8)),
        ])
        let variables = try XCTUnwrap(CGIVariables(fastCGIParams: bytes))
        XCTAssertEqual(variables.pathInfo, "/\u{FFFD}")
        XCTAssertEqual(variables.http("X_\u{FFFD}"), "v")
        XCTAssertEqual(variables.pathInfo, FastCGIRecord.decodeParams(bytes)?["PATH_INFO"])
    }

    /// A length that runs past the end is malformed: no variables.
    func testMalformedPairsGiveNothing() {
        var bytes = encoded([("REQUEST_METHOD", "POST")])
        bytes[1] = 200 & 0x7F   // the value's length now runs past the end
        XCTAssertNil(CGIVariables(fastCGIParams: bytes))
        XCTAssertFalse(FastCGIRecord.pairsAreWellFormed(bytes))
        XCTAssertNil(FastCGIRecord.decodeParams(bytes))
    }

    /// Header names compare without regard to ASCII case, and only letters fold: `\r` is not `-`
    /// though the two differ by the same bit as `a` and `A`.
    func testHeaderLookupFoldsOnlyLetters() {
        let request = HTTPRequest(headers: [("X-Webhook-Id", "1"), ("Straße", "2")])
        XCTAssertEqual(request.header("x-WEBHOOK-id"), "1")
        XCTAssertNil(request.header("x\rwebhook-id"))
        XCTAssertNil(request.header("X-Webhook-I"))
        XCTAssertEqual(request.header("STRAßE"), "2", "non-ASCII names compare by their lowercased forms")
    }
}
