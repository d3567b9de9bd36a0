import XCTest

@testable import EventFilterKit

/// Hand-made FastCGI records (FastCGI 1.0 §3.3), built here byte by byte, not with the code under test.
enum FastCGIBytes {
    static func record(_ type: UInt8, _ id: UInt16, _ content: [UInt8] = [], padding: UInt8 = 0, version: UInt8 = 1) -> [UInt8] {
        [version, type, UInt8(id >> 8), UInt8(id & 0xFF), UInt8(content.count >> 8), UInt8(content.count & 0xFF), padding, 0]
            + content + [UInt8](repeating: 0, count: Int(padding))
    }

    static func begin(_ id: UInt16, role: UInt16 = 1, keep: Bool = false) -> [UInt8] {
        record(1, id, [UInt8(role >> 8), UInt8(role & 0xFF), keep ? 1 : 0, 0, 0, 0, 0, 0])
    }

    /// Name-value pairs: lengths under 128 in one byte, longer ones in four with the top bit set.
    static func pairs(_ pairs: [(String, String)]) -> [UInt8] {
        var out: [UInt8] = []
        for (name, value) in pairs {
            for count in [name.utf8.count, value.utf8.count] {
                out += count < 128 ? [UInt8(count)] : [UInt8(0x80 | (count >> 24)), UInt8((count >> 16) & 0xFF), UInt8((count >> 8) & 0xFF), UInt8(count & 0xFF)]
            }
            out += Array(name.utf8) + Array(value.utf8)
        }
        return out
    }

    /// A complete request: begin, params (in one record), the end of params, stdin, the end of stdin.
    static func request(_ id: UInt16, keep: Bool = false, _ params: [(String, String)], body: [UInt8] = []) -> [UInt8] {
        begin(id, keep: keep) + record(4, id, pairs(params)) + record(4, id)
            + (body.isEmpty ? [] : record(5, id, body)) + record(5, id)
    }

    static func endRequest(_ id: UInt16, protocolStatus: UInt8) -> [UInt8] {
        record(3, id, [0, 0, 0, 0, protocolStatus, 0, 0, 0])
    }
}

/// The FastCGI state machine: what a web server's records become, and what is answered at once.
final class FastCGIConnectionTests: XCTestCase {
    private typealias B = FastCGIBytes
    private let limits = FastCGIConnection.Limits(paramsLimit: 4096, bodyLimit: 100, maxConnections: 2)

    private func requests(_ events: [FastCGIConnection.Event]) -> [FastCGIRequest] {
        events.compactMap { if case .request(let request) = $0 { return request } else { return nil } }
    }

    private func sent(_ events: [FastCGIConnection.Event]) -> [[UInt8]] {
        events.compactMap { if case .send(let bytes) = $0 { return bytes } else { return nil } }
    }

    func testARequestInPiecesWithShortAndLongLengthsAndPadding() throws {
        let long = String(repeating: "v", count: 300)   // a four-byte value length
        let params = B.pairs([("REQUEST_METHOD", "POST"), ("PATH_INFO", "/panda"), ("HTTP_X_LONG", long)])
        let stream = B.begin(7, keep: true)
            + B.record(4, 7, Array(params.prefix(10)), padding: 6) + B.record(4, 7, Array(params.dropFirst(10))) + B.record(4, 7)
            + B.record(5, 7, Array("event=".utf8), padding: 2) + B.record(5, 7, Array("x".utf8)) + B.record(5, 7)
        let expected = FastCGIRequest(
            id: 7, keepConnection: true,
            params: ["REQUEST_METHOD": "POST", "PATH_INFO": "/panda", "HTTP_X_LONG": long], body: Array("event=x".utf8))

        XCTAssertEqual(try FastCGIConnection(limits: limits).feed(stream), [.request(expected)])
        // The same stream one byte at a time: the request appears with the last byte, not before.
        let connection = FastCGIConnection(limits: limits)
        var events: [FastCGIConnection.Event] = []
        for (index, byte) in stream.enumerated() {
            let new = try connection.feed([byte])
            XCTAssertTrue(new.isEmpty || index == stream.count - 1)
            events += new
        }
        XCTAssertEqual(events, [.request(expected)])
        XCTAssertTrue(connection.isIdle)
    }

    func testKeptConnectionServesRequestsOneAfterAnother() throws {
        let connection = FastCGIConnection(limits: limits)
        let first = try connection.feed(B.request(1, keep: true, [("PATH_INFO", "/a")]))
        let second = try connection.feed(B.request(1, keep: true, [("PATH_INFO", "/b")]))
        XCTAssertEqual(requests(first + second).map { $0.params["PATH_INFO"] }, ["/a", "/b"])
    }

    func testGetValuesAnswersTheThreeKnownNamesOnly() throws {
        let query = B.pairs([("FCGI_MAX_CONNS", ""), ("FCGI_MAX_REQS", ""), ("FCGI_MPXS_CONNS", ""), ("X_UNKNOWN", "")])
        let answer = try FastCGIConnection(limits: limits).feed(B.record(9, 0, query))
        let content = B.pairs([("FCGI_MAX_CONNS", "2"), ("FCGI_MAX_REQS", "2"), ("FCGI_MPXS_CONNS", "0")])
        let padding = UInt8((8 - content.count % 8) % 8)
        XCTAssertEqual(sent(answer), [B.record(10, 0, content, padding: padding)])
    }

    func testUnknownManagementRecordGetsUnknownType() throws {
        let answer = try FastCGIConnection(limits: limits).feed(B.record(42, 0, [1, 2, 3]))
        XCTAssertEqual(sent(answer), [B.record(11, 0, [42, 0, 0, 0, 0, 0, 0, 0])])
    }

    func testSecondConcurrentRequestIsRefusedAndTheFirstCompletes() throws {
        let connection = FastCGIConnection(limits: limits)
        var events = try connection.feed(B.begin(1) + B.record(4, 1, B.pairs([("PATH_INFO", "/a")])))
        events += try connection.feed(B.request(2, [("PATH_INFO", "/b")]))
        events += try connection.feed(B.record(4, 1) + B.record(5, 1))
        XCTAssertEqual(sent(events), [B.endRequest(2, protocolStatus: 1)])
        XCTAssertEqual(requests(events).map(\.id), [1])
        XCTAssertEqual(requests(events).first?.params["PATH_INFO"], "/a")
    }

    func testRolesOtherThanResponderGetUnknownRole() throws {
        for role: UInt16 in [2, 3, 9] {
            let events = try FastCGIConnection(limits: limits).feed(B.begin(5, role: role) + B.record(4, 5) + B.record(5, 5))
            XCTAssertEqual(events, [.send(B.endRequest(5, protocolStatus: 3))], "role \(role)")
        }
    }

    func testAbortEndsTheRequestAndClosesUnlessKept() throws {
        let dropped = try FastCGIConnection(limits: limits).feed(B.begin(3) + B.record(4, 3) + B.record(2, 3))
        XCTAssertEqual(dropped, [.send(B.endRequest(3, protocolStatus: 0)), .close])
        let kept = FastCGIConnection(limits: limits)
        let events = try kept.feed(B.begin(3, keep: true) + B.record(4, 3) + B.record(2, 3) + B.request(4, [("PATH_INFO", "/next")]))
        XCTAssertEqual(sent(events), [B.endRequest(3, protocolStatus: 0)])
        XCTAssertEqual(requests(events).map(\.id), [4])
    }

    func testBodyOverTheLimitIsDroppedAndMarked() throws {
        let body = [UInt8](repeating: 65, count: 60)
        let events = try FastCGIConnection(limits: limits).feed(
            B.begin(1) + B.record(4, 1) + B.record(5, 1, body) + B.record(5, 1, body) + B.record(5, 1))
        XCTAssertEqual(requests(events), [FastCGIRequest(id: 1, keepConnection: false, params: [:], body: [], bodyTooLarge: true)])
    }

    func testProtocolViolationsEndTheConnection() {
        let cases: [(String, [UInt8], String)] = [
            ("version", B.record(4, 1, [], version: 2), "record version 2, expected 1"),
            ("short begin", B.record(1, 1, [0, 1, 0]), "FCGI_BEGIN_REQUEST of 3 bytes, expected 8"),
            ("begun twice", B.begin(1) + B.begin(1), "request 1 begun twice"),
            ("stdin first", B.begin(1) + B.record(5, 1, [1]), "FCGI_STDIN before the end of FCGI_PARAMS"),
            ("params after end", B.begin(1) + B.record(4, 1) + B.record(4, 1, [0, 0]), "FCGI_PARAMS after the end of the parameters"),
            ("bad pairs", B.begin(1) + B.record(4, 1, [5, 1, 65]) + B.record(4, 1), "malformed name-value pairs in FCGI_PARAMS"),
            ("params over limit", B.begin(1) + B.record(4, 1, [UInt8](repeating: 0, count: 4000)) + B.record(4, 1, [UInt8](repeating: 0, count: 100)),
             "parameters over the limit of 4096 bytes"),
            ("stdout from the server", B.begin(1) + B.record(6, 1, [1]), "unexpected record type 6 for request 1"),
        ]
        for (name, stream, message) in cases {
            XCTAssertThrowsError(try FastCGIConnection(limits: limits).feed(stream), name) { error in
                XCTAssertEqual((error as? FastCGIProtocolError)?.description, message, name)
            }
        }
    }

    func testRecordsAreEncodedAsTheSpecificationLaysThemOut() {
        XCTAssertEqual(FastCGIRecord(type: .stdout, requestID: 258, content: [1, 2, 3]).bytes, [1, 6, 1, 2, 0, 3, 5, 0, 1, 2, 3, 0, 0, 0, 0, 0])
        XCTAssertEqual(FastCGIRecord.endRequest(requestID: 1, appStatus: 0x0102_0304, .unknownRole), [1, 3, 0, 1, 0, 8, 0, 0, 1, 2, 3, 4, 3, 0, 0, 0])
        // A stream longer than one record is split at 65535 bytes and ends with an empty record.
        let stream = FastCGIRecord.stream(.stdout, requestID: 1, [UInt8](repeating: 7, count: 70000))
        XCTAssertEqual(Array(stream[0..<8]), [1, 6, 0, 1, 0xFF, 0xFF, 1, 0])
        XCTAssertEqual(Array(stream[65544..<65552]), [1, 6, 0, 1, 0x11, 0x71, 7, 0])   // 4465 bytes, 7 of padding
        XCTAssertEqual(Array(stream.suffix(8)), [1, 6, 0, 1, 0, 0, 0, 0])
        XCTAssertEqual(stream.count, (8 + 65535 + 1) + (8 + 4465 + 7) + 8)
    }

    /// Parameters are read as text straight from the record bytes: the same names and values as
    /// the pairs decoded one by one (the last of a repeated name, U+FFFD for bytes that are not
    /// UTF-8), and nil for the same malformed inputs.
    func testParamsAreDecodedAsThePairsAre() {
        func reference(_ bytes: [UInt8]) -> [String: String]? {
            guard let pairs = FastCGIRecord.decodePairs(bytes) else { return nil }
            var params: [String: String] = [:]
            for pair in pairs { params[String(decoding: pair.name, as: UTF8.self)] = String(decoding: pair.value, as: UTF8.self) }
            return params
        }
        let long = [UInt8](repeating: 0x61, count: 300)
        let valid = FastCGIRecord.encodePairs([
            (Array("REQUEST_METHOD".utf8), Array("POST".utf8)), (Array("HTTP_X".utf8), long), (long, []),
            (Array("HTTP_X".utf8), [0xFF, 0xC3, 0x28]), ([], Array("empty name".utf8)),
        ])
        XCTAssertEqual(FastCGIRecord.decodeParams(valid)?["HTTP_X"], "\u{FFFD}\u{FFFD}(")
        var state: UInt64 = 7
        for round in 0..<3000 {
            var bytes = valid
            for _ in 0..<(round % 4) {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let at = Int(state >> 33) % bytes.count
                bytes[at] = UInt8(truncatingIfNeeded: state >> 17)
            }
            if round % 5 == 1 { bytes = Array(bytes.prefix(Int(state >> 40) % (bytes.count + 1))) }
            XCTAssertEqual(FastCGIRecord.decodeParams(bytes), reference(bytes), "round \(round)")
        }
    }
}
