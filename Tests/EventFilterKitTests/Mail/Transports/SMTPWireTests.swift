import Dispatch
import XCTest

@testable import EventFilterKit

#if canImport(Glibc)
    import Glibc
#endif

/// The replies read from a connection without TLS, where the socket is read directly.
final class SMTPWireTests: XCTestCase {
    /// A wire without TLS on one end of a socket pair, and the other end, the server's.
    private func plainWire() throws -> (wire: SMTPWire, server: Int32, close: () -> Void) {
        var ends: [Int32] = [-1, -1]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &ends), 0)
        _ = fcntl(ends[0], F_SETFL, fcntl(ends[0], F_GETFL) | O_NONBLOCK)
        // A connection without TLS never hands its curl handle to curl.
        let unused = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)
        let wire = SMTPWire(handle: unused, socket: ends[0], plain: true)
        return (wire, ends[1], {
            _ = close(ends[0])
            _ = close(ends[1])
            unused.deallocate()
        })
    }

    private func write(_ text: String, to socket: Int32) {
        let bytes = Array(text.utf8)
        XCTAssertEqual(Glibc.write(socket, bytes, bytes.count), bytes.count)
    }

    /// A reply whose lines come in pieces, split inside a line and between the lines of a
    /// multi-line reply, is read whole, and the reply after it in the same read is kept for
    /// the next read (the replies to a pipelined envelope come together).
    func testAReplySplitOverReadsIsReadWholeAndTheNextOneKept() throws {
        let (wire, server, close) = try plainWire()
        defer { close() }
        write("250-2.0.0 first\r\n25", to: server)
        let rest = DispatchWorkItem { self.write("0 2.0.0 last\r\n354 go on\r\n", to: server) }
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.05, execute: rest)
        let reply = try wire.readReply(until: SMTPWire.deadline(after: 10))
        XCTAssertEqual(reply.code, 250)
        XCTAssertEqual(reply.oneLine, "250 2.0.0 first last")
        XCTAssertEqual(try wire.readReply(until: SMTPWire.deadline(after: 10)).code, 354)
        rest.wait()
    }

    /// A server that closes the connection in the middle of a reply: the connection is closed,
    /// not a timeout and not a reply.
    func testAConnectionClosedMidReplyIsClosed() throws {
        let (wire, server, close) = try plainWire()
        defer { close() }
        write("250 2.0", to: server)
        XCTAssertEqual(shutdown(server, Int32(SHUT_WR)), 0)
        XCTAssertThrowsError(try wire.readReply(until: SMTPWire.deadline(after: 10))) { error in
            XCTAssertEqual(error as? SMTPWire.Failure, .closed)
        }
    }

    /// A reply that is in by its deadline is taken even when this thread reads it only after the
    /// deadline (a loaded machine did not run it meanwhile): after a final "." a timeout leaves
    /// the message to be sent again, though the server has it.
    func testAReplyThatCameInTimeIsTakenWhenTheReadComesAfterTheDeadline() throws {
        let (wire, server, close) = try plainWire()
        defer { close() }
        write("250-2.0.0 Ok\r\n250 2.0.0 queued as 4F2A1\r\n", to: server)

        let read = try wire.readReply(until: SMTPWire.now() - 1_000_000)
        XCTAssertEqual(read.code, 250)
        XCTAssertTrue(read.oneLine.contains("queued as 4F2A1"), read.oneLine)
        XCTAssertThrowsError(try wire.readReply(until: SMTPWire.now() - 1_000_000)) { error in
            XCTAssertEqual(error as? SMTPWire.Failure, .timedOut, "nothing more came: a timeout")
        }
    }
}
