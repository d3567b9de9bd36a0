import Foundation
import XCTest

@testable import EventFilterKit

/// SendmailTransport against fake sendmail programs (shell scripts) in a temporary directory.
final class SendmailTransportTests: XCTestCase {
    private var workspace: URL!

    override func setUpWithError() throws {
        workspace = FileManager.default.temporaryDirectory.appendingPathComponent("ef-sendmail-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: workspace)
    }

    func testExitZeroIsAcceptedAndTheProgramGetsTheExactBytesAndArguments() throws {
        let sendmail = try fakeSendmail("""
            n=$(ls "$OUT" | wc -l)
            printf '%s\\n' "$@" > "$OUT/args.$n"
            cat > "$OUT/stdin.$n"
            exit 0
            """)
        let bytes = Array("From: notify@example.org\r\nTo: ann@example.org\r\n\r\n.\r\n.dot line\r\nGrüße\r\n".utf8)
        let transport = SendmailTransport(path: sendmail, extraOptions: ["-oi", "-X", "/dev/null"])

        let outcomes = try deliver([
            OutgoingMessage(id: 1, sender: "notify@example.org", recipient: "ann@example.org", bytes: bytes),
            OutgoingMessage(id: 2, sender: "", recipient: "bob@example.org", bytes: bytes),
        ], with: transport)

        XCTAssertEqual(outcomes, [1: .accepted, 2: .accepted])
        XCTAssertEqual(try output("stdin.0"), bytes)
        XCTAssertEqual(try lines("args.0"), ["-t", "-i", "-f", "notify@example.org", "-oi", "-X", "/dev/null"])
        XCTAssertEqual(try lines("args.2"), ["-t", "-i", "-oi", "-X", "/dev/null"], "no -f for an empty sender")
    }

    func testEnvelopeModeNamesTheRecipientAfterDoubleDash() throws {
        let sendmail = try fakeSendmail("""
            printf '%s\\n' "$@" > "$OUT/args"
            cat > /dev/null
            """)
        let transport = SendmailTransport(path: sendmail, recipientSource: .envelope)

        let outcomes = try deliver([OutgoingMessage(id: 1, sender: "notify@example.org", recipient: "-oQ/tmp@example.org",
                                                    bytes: Array("Subject: x\r\n\r\nx\r\n".utf8))], with: transport)

        XCTAssertEqual(outcomes, [1: .accepted])
        // "--" keeps a recipient that looks like an option from being read as one.
        XCTAssertEqual(try lines("args"), ["-i", "-f", "notify@example.org", "--", "-oQ/tmp@example.org"])
    }

    func testExTempFailIsTemporaryWithTheFirstLineOfOutput() throws {
        let sendmail = try fakeSendmail("""
            cat > /dev/null
            echo "sendmail: queue directory full" >&2
            echo "second line" >&2
            exit 75
            """)

        let outcomes = try deliver([message(1)], with: SendmailTransport(path: sendmail))

        XCTAssertEqual(outcomes[1], .temporaryFailure(
            "sendmail \(sendmail): exit 75 (EX_TEMPFAIL): sendmail: queue directory full"))
    }

    func testOtherNonZeroExitIsTemporaryToo() throws {
        let sendmail = try fakeSendmail("cat > /dev/null; exit 67")

        let outcomes = try deliver([message(1)], with: SendmailTransport(path: sendmail))

        XCTAssertEqual(outcomes[1], .temporaryFailure("sendmail \(sendmail): exit 67 (EX_NOUSER)"))
    }

    func testAProgramThatExitsWithoutReadingDoesNotKillUsWithSIGPIPE() throws {
        let sendmail = try fakeSendmail("echo 'refusing' >&2; exit 75")
        let large = Array(repeating: UInt8(ascii: "x"), count: 4 << 20)  // far beyond a pipe's buffer

        let outcomes = try deliver([message(1, bytes: large), message(2, bytes: large)], with: SendmailTransport(path: sendmail))

        XCTAssertEqual(outcomes[1], .temporaryFailure("sendmail \(sendmail): exit 75 (EX_TEMPFAIL): refusing"))
        XCTAssertEqual(outcomes[2], outcomes[1])
    }

    func testExitZeroWithoutReadingTheMessageIsNotCountedAsSent() throws {
        let sendmail = try fakeSendmail("exit 0")
        let large = Array(repeating: UInt8(ascii: "x"), count: 4 << 20)

        let outcomes = try deliver([message(1, bytes: large)], with: SendmailTransport(path: sendmail))

        XCTAssertEqual(outcomes[1], .temporaryFailure("sendmail \(sendmail): exited 0 before reading the whole message"))
    }

    func testKilledBySignalIsTemporary() throws {
        let sendmail = try fakeSendmail("cat > /dev/null; kill -9 $$")

        let outcomes = try deliver([message(1)], with: SendmailTransport(path: sendmail))

        XCTAssertEqual(outcomes[1], .temporaryFailure("sendmail \(sendmail): killed by signal 9"))
    }

    func testMissingOrNonExecutableProgramIsTemporaryWithAClearReason() throws {
        let missing = workspace.appendingPathComponent("no-such-sendmail").path
        let plainFile = workspace.appendingPathComponent("not-executable").path
        XCTAssertTrue(FileManager.default.createFile(atPath: plainFile, contents: Data("#!/bin/sh\n".utf8)))

        let first = try deliver([message(1)], with: SendmailTransport(path: missing))
        let second = try deliver([message(1)], with: SendmailTransport(path: plainFile))

        XCTAssertEqual(first[1], .temporaryFailure("sendmail \(missing): no such program (check SendmailPath)"))
        XCTAssertEqual(second[1], .temporaryFailure("sendmail \(plainFile): not executable (check SendmailPath)"))
    }

    func testAddressWithALineBreakIsRefusedWithoutRunningTheProgram() throws {
        let sendmail = try fakeSendmail("touch \"$OUT/ran\"; cat > /dev/null")

        let outcomes = try deliver([OutgoingMessage(id: 1, sender: "notify@example.org\n-oQ/tmp", recipient: "ann@example.org",
                                                    bytes: Array("x\r\n".utf8))], with: SendmailTransport(path: sendmail))

        guard case .permanentFailure(let reason)? = outcomes[1] else { return XCTFail("\(outcomes)") }
        XCTAssertTrue(reason.contains("line break"), reason)
        XCTAssertFalse(FileManager.default.fileExists(atPath: workspace.appendingPathComponent("out/ran").path))
    }

    // MARK: - Helpers

    /// Writes an executable /bin/sh script whose $OUT is the workspace's out/ directory.
    private func fakeSendmail(_ body: String) throws -> String {
        let out = workspace.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let path = workspace.appendingPathComponent("sendmail").path
        let script = "#!/bin/sh\nOUT='\(out.path)'\n\(body)\n"
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        return path
    }

    private func output(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: workspace.appendingPathComponent("out/\(name)")))
    }

    private func lines(_ name: String) throws -> [String] {
        String(decoding: try output(name), as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .dropLast().map(String.init)
    }

    private func message(_ id: Int64, bytes: [UInt8]? = nil) -> OutgoingMessage {
        OutgoingMessage(id: id, sender: "notify@example.org", recipient: "ann@example.org",
                        bytes: bytes ?? Array("Subject: \(id)\r\n\r\nbody\r\n".utf8))
    }

    private func deliver(_ messages: [OutgoingMessage], with transport: SendmailTransport) throws -> [Int64: DeliveryOutcome] {
        var outcomes: [Int64: DeliveryOutcome] = [:]
        try transport.deliver(messages) { message, outcome in
            XCTAssertNil(outcomes[message.id], "message \(message.id) reported twice")
            outcomes[message.id] = outcome
        }
        return outcomes
    }
}
