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

        XCTAssertEqual(outcomes, [1: .accepted("sendmail \(sendmail): exited 0"), 2: .accepted("sendmail \(sendmail): exited 0")])
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

        XCTAssertEqual(outcomes, [1: .accepted("sendmail \(sendmail): exited 0")])
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

    func testExitsThatBlameTheMessageOrAddressArePermanent() throws {
        let cases: [(status: Int32, name: String)] = [(67, "EX_NOUSER"), (65, "EX_DATAERR"), (68, "EX_NOHOST")]
        for (status, name) in cases {
            let sendmail = try fakeSendmail("cat > /dev/null; echo 'ann@example.org... User unknown' >&2; exit \(status)")

            let outcomes = try deliver([message(1)], with: SendmailTransport(path: sendmail))

            XCTAssertEqual(outcomes[1], .permanentFailure("sendmail \(sendmail): exit \(status) (\(name)): ann@example.org... User unknown"))
        }
    }

    func testExitsThatBlameTheSetupAreTemporary() throws {
        let cases: [(status: Int32, name: String)] = [(77, " (EX_NOPERM)"), (78, " (EX_CONFIG)"), (69, " (EX_UNAVAILABLE)"), (1, "")]
        for (status, name) in cases {
            let sendmail = try fakeSendmail("cat > /dev/null; exit \(status)")

            let outcomes = try deliver([message(1)], with: SendmailTransport(path: sendmail))

            XCTAssertEqual(outcomes[1], .temporaryFailure("sendmail \(sendmail): exit \(status)\(name)"))
        }
    }

    func testAProgramThatHangsIsStoppedAfterTheTimeoutWithWhatItStarted() throws {
        let sendmail = try fakeSendmail("""
            echo $$ > "$OUT/shell.pid"
            sleep 1000 &
            echo $! > "$OUT/sleep.pid"
            echo "sendmail: waiting for the queue lock" >&2
            wait
            """)
        let transport = SendmailTransport(path: sendmail, timeout: 1)

        let outcomes = try deliver([message(1), message(2)], with: transport)

        XCTAssertEqual(outcomes[1], .temporaryFailure("sendmail \(sendmail): timed out after 1 s: sendmail: waiting for the queue lock"))
        XCTAssertEqual(outcomes[2], outcomes[1])
        for name in ["shell.pid", "sleep.pid"] {
            let pid = try XCTUnwrap(Int32(String(decoding: try output(name), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
            XCTAssertFalse(isAlive(pid), "\(name) \(pid) still runs")
        }
    }

    func testAProgramThatIgnoresSIGTERMIsKilled() throws {
        // An ignored signal stays ignored in the children too: both need SIGKILL.
        let sendmail = try fakeSendmail("""
            trap '' TERM
            sleep 1000 &
            echo $! > "$OUT/sleep.pid"
            wait
            """)
        let transport = SendmailTransport(path: sendmail, timeout: 1)
        transport.terminationGrace = 0.2

        let outcomes = try deliver([message(1)], with: transport)

        XCTAssertEqual(outcomes[1], .temporaryFailure("sendmail \(sendmail): timed out after 1 s"))
        let pid = try XCTUnwrap(Int32(String(decoding: try output("sleep.pid"), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
        XCTAssertFalse(isAlive(pid), "sleep \(pid) still runs")
    }

    func testAProgramThatExitsButLeavesAChildHoldingItsOutputIsNotATimeout() throws {
        // A daemonised helper keeps stdout open; the exit status is what counts.
        let sendmail = try fakeSendmail("""
            cat > /dev/null
            sleep 1000 &
            echo $! > "$OUT/sleep.pid"
            exit 0
            """)

        let outcomes = try deliver([message(1)], with: SendmailTransport(path: sendmail, timeout: 5))

        XCTAssertEqual(outcomes[1], .accepted("sendmail \(sendmail): exited 0"))
        // Clean up the helper this test made the script leave behind.
        let pid = try XCTUnwrap(Int32(String(decoding: try output("sleep.pid"), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
        kill(pid, SIGKILL)
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

    /// Whether the process still runs a second after it was killed: a SIGKILLed process may
    /// take a moment to finish exiting, and a zombie waiting to be reaped counts as gone.
    private func isAlive(_ pid: Int32) -> Bool {
        let deadline = Date().addingTimeInterval(1)
        while Date() < deadline {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let end = stat.range(of: ")", options: .backwards) else { return false }
            let state = stat[end.upperBound...].trimmingCharacters(in: .whitespaces).first
            if state == "Z" || state == "X" { return false }
            usleep(10_000)  // waiting for the kernel to finish an exit, not timing logic
        }
        return true
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
