import XCTest

@testable import EventFilterKit

#if canImport(Glibc)
    import Glibc
#endif

/// The replies read from a connection without TLS, where the socket is read directly.
final class SMTPWireTests: XCTestCase {
    /// A reply that is in by its deadline is taken even when this thread reads it only after the
    /// deadline (a loaded machine did not run it meanwhile): after a final "." a timeout leaves
    /// the message to be sent again, though the server has it.
    func testAReplyThatCameInTimeIsTakenWhenTheReadComesAfterTheDeadline() throws {
        var ends: [Int32] = [-1, -1]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &ends), 0)
        defer { ends.forEach { _ = close($0) } }
        _ = fcntl(ends[0], F_SETFL, fcntl(ends[0], F_GETFL) | O_NONBLOCK)
        let reply = Array("250-2.0.0 Ok\r\n250 2.0.0 queued as 4F2A1\r\n".utf8)
        XCTAssertEqual(write(ends[1], reply, reply.count), reply.count)
        // A connection without TLS never hands its curl handle to curl.
        let unused = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)
        defer { unused.deallocate() }
        let wire = SMTPWire(handle: unused, socket: ends[0], plain: true)

        let read = try wire.readReply(until: SMTPWire.now() - 1_000_000)
        XCTAssertEqual(read.code, 250)
        XCTAssertTrue(read.oneLine.contains("queued as 4F2A1"), read.oneLine)
        XCTAssertThrowsError(try wire.readReply(until: SMTPWire.now() - 1_000_000)) { error in
            XCTAssertEqual(error as? SMTPWire.Failure, .timedOut, "nothing more came: a timeout")
        }
    }
}
