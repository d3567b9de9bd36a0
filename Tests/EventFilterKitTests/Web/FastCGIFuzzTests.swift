import XCTest

@testable import EventFilterKit

/// Thousands of random and mutated record streams, from fixed seeds so a failure repeats: the
/// parser never crashes, never holds more than its limits, and always ends in either requests or
/// a clean FastCGIProtocolError.
final class FastCGIFuzzTests: XCTestCase {
    private typealias B = FastCGIBytes

    private let limits = FastCGIConnection.Limits(paramsLimit: 2048, bodyLimit: 512)

    private enum Outcome { case requests(Int), protocolError }

    /// Feeds `stream` in random slices; checks every request against the limits.
    private func run(_ stream: [UInt8], _ random: inout SeededGenerator) -> Outcome {
        let connection = FastCGIConnection(limits: limits)
        var index = 0
        var count = 0
        while index < stream.count {
            let slice = Int.random(in: 1...max(1, min(64, stream.count - index)), using: &random)
            do {
                for event in try connection.feed(Array(stream[index..<index + slice])) {
                    if case .request(let request) = event {
                        count += 1
                        XCTAssertLessThanOrEqual(request.body.count, limits.bodyLimit)
                        XCTAssertLessThanOrEqual(request.params.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }, limits.paramsLimit)
                        XCTAssertTrue(!request.bodyTooLarge || request.body.isEmpty)
                    }
                }
            } catch is FastCGIProtocolError {
                return .protocolError
            } catch {
                XCTFail("an error that is not a protocol error: \(error)")
                return .protocolError
            }
            index += slice
        }
        return .requests(count)
    }

    private func validStream(_ random: inout SeededGenerator) -> [UInt8] {
        var stream: [UInt8] = []
        for id in 1...UInt16.random(in: 1...3, using: &random) {
            let value = String(repeating: "x", count: Int.random(in: 0...300, using: &random))
            let body = (0..<Int.random(in: 0...700, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            stream += B.request(id, keep: true, [("REQUEST_METHOD", "POST"), ("PATH_INFO", "/panda"), ("HTTP_X", value)], body: Array(body.prefix(600)))
        }
        return stream
    }

    func testValidStreamsAlwaysYieldTheirRequests() {
        var random = SeededGenerator(state: 1)
        for _ in 0..<500 {
            let count = UInt16.random(in: 1...3, using: &random)
            var stream: [UInt8] = []
            for id in 1...count { stream += B.request(id, keep: true, [("PATH_INFO", "/p\(id)")], body: [1, 2, 3]) }
            guard case .requests(let seen) = run(stream, &random) else { return XCTFail("a valid stream was refused") }
            XCTAssertEqual(seen, Int(count))
        }
    }

    func testRandomAndMutatedStreamsEndInRequestsOrAConnectionError() {
        var random = SeededGenerator(state: 0x5EED_F0C1)
        var errors = 0, completed = 0
        for iteration in 0..<6000 {
            var stream: [UInt8]
            switch iteration % 3 {
            case 0:   // pure noise, often with a plausible header in front
                stream = (0..<Int.random(in: 0...400, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                if Bool.random(using: &random) && stream.count > 8 { stream[0] = 1 }
            default:  // a valid stream, then mutated
                stream = validStream(&random)
                for _ in 0..<Int.random(in: 1...6, using: &random) where !stream.isEmpty {
                    let at = Int.random(in: 0..<stream.count, using: &random)
                    switch Int.random(in: 0...4, using: &random) {
                    case 0: stream[at] ^= UInt8(1) << UInt8.random(in: 0...7, using: &random)
                    case 1: stream[at] = UInt8.random(in: 0...255, using: &random)
                    case 2: stream.removeSubrange(at..<min(stream.count, at + Int.random(in: 1...16, using: &random)))
                    case 3: stream.insert(contentsOf: (0..<Int.random(in: 1...16, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }, at: at)
                    default: stream = Array(stream.prefix(at))   // a peer that hangs up
                    }
                }
            }
            switch run(stream, &random) {
            case .protocolError: errors += 1
            case .requests(let count): if count > 0 { completed += 1 }
            }
        }
        // Both outcomes must occur, or the mutations are not reaching the parser.
        XCTAssertGreaterThan(errors, 1000)
        XCTAssertGreaterThan(completed, 100)
    }
}
