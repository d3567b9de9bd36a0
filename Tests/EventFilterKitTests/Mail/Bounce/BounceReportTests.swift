import XCTest
@testable import EventFilterKit

final class BounceReportTests: XCTestCase {
    private struct NotABounce: Error {}

    private func read(_ sample: String, crlf: Bool = false) -> BounceReport.Reading {
        var text = BounceSamples.fill(sample, to: "bounces+1-0123456789abcdef@example.org")
        if crlf { text = text.replacingOccurrences(of: "\n", with: "\r\n") }
        return BounceReport.read(MIMEEntity(bytes: Array(text.utf8)))
    }

    private func report(_ sample: String, crlf: Bool = false, file: StaticString = #filePath, line: UInt = #line) throws -> BounceReport {
        switch read(sample, crlf: crlf) {
        case .bounce(let report): return report
        case .notABounce(let why):
            XCTFail("read as no bounce: \(why)", file: file, line: line)
            throw NotABounce()
        }
    }

    func testTheMultiRecipientReportListsTheFailedAndDelayedRecipientsWithUnfoldedDiagnostics() throws {
        for crlf in [false, true] {
            let report = try report(BounceSamples.rfc3464MultiRecipientDSN, crlf: crlf)
            XCTAssertTrue(report.isStandard)
            XCTAssertEqual(report.recipients, [
                .init(address: "arathib@vnet.ibm.com", status: "5.0.0",
                      diagnostic: "550 'arathib@vnet.IBM.COM' is not a registered gateway user"),
                .init(address: "johnh@hpnjld.njd.hp.com", status: "4.0.0", diagnostic: ""),
                .init(address: "wsnell@sdcc13.ucsd.edu", status: "5.0.0", diagnostic: "550 user unknown"),
            ])
            XCTAssertEqual(report.recipient(matching: "WSNELL@sdcc13.ucsd.edu").diagnostic, "550 user unknown")
            XCTAssertTrue(report.recipient(matching: "johnh@hpnjld.njd.hp.com").isHard == false)
            XCTAssertEqual(report.recipient(matching: "someone@else.example").address, "arathib@vnet.ibm.com", "else the first")
        }
    }

    func testAFailureWithATransientStatusIsSoftAndADelayIsSoft() throws {
        let simple = try report(BounceSamples.rfc3464SimpleDSN)
        XCTAssertEqual(simple.recipients, [.init(address: "louisl@larry.slip.umd.edu", status: "4.0.0", diagnostic: "426 connection timed out")])
        XCTAssertFalse(simple.recipients[0].isHard)
        let delayed = try report(BounceSamples.rfc3464DelayedDSN)
        XCTAssertEqual(delayed.recipients, [.init(address: "thomas@de-montfort.ac.uk", status: "4.0.0", diagnostic: "")])
    }

    func testQmailAndEximBouncesAreReadByTheirStatusCodes() throws {
        let qmail = try report(BounceSamples.qmailFailureNotice)
        XCTAssertFalse(qmail.isStandard)
        XCTAssertEqual(qmail.recipients, [.init(address: nil, status: "5.1.1", diagnostic: "Sorry, no mailbox here by that name. (#5.1.1)")])
        XCTAssertTrue(qmail.recipients[0].isHard)
        let exim = try report(BounceSamples.eximDeliveryFailed)
        XCTAssertEqual(exim.recipients, [.init(address: nil, status: "5.1.1",
                                               diagnostic: "550 5.1.1 <ghost@example.net>: Recipient address rejected: User unknown")])
    }

    func testAutoRepliesReadReceiptsAndSuccessNoticesAreNotBounces() {
        for (sample, reason) in [(BounceSamples.vacationReply, "not from a mailer daemon"),
                                 (BounceSamples.readReceipt, "disposition-notification"),
                                 (BounceSamples.deliveredDSN, "success notice")] {
            guard case .notABounce(let why) = read(sample) else { return XCTFail("read as a bounce: \(sample.prefix(60))") }
            XCTAssertTrue(why.contains(reason), why)
        }
    }

    /// Auto-replies go to the envelope sender like bounces, often with an empty return path; they
    /// echo the subject of the message they answer and may hold a date that reads like a code.
    func testOutOfOfficeRepliesThatEchoABounceWordOrADateAreNotBounces() {
        let replies = [
            // RFC 3834 Auto-Submitted, a null return path, and "5.1.26" (a date) in the text.
            """
            Return-Path: <>
            From: Ann Reader <ann@example.net>
            To: {{to}}
            Subject: Out of office
            Auto-Submitted: auto-replied

            I am out of the office until 5.1.26 and will answer your mail then.

            """,
            // Our subject echoed after "Automatic reply:", with a vacation program's own marker.
            """
            From: Ann Reader <ann@example.net>
            To: {{to}}
            Subject: Automatic reply: [Test Site] "Mail delivery failed: what to do" published
            X-Autoreply: yes

            I am away this week.

            """,
            // Our subject echoed by a responder that marks itself with Precedence only.
            """
            Return-Path: <>
            From: Ann Reader <ann@example.net>
            To: {{to}}
            Subject: Re: Returned mail policy updated
            Precedence: auto_reply

            Back on 4.2.27.

            """,
        ]
        for reply in replies {
            guard case .notABounce(let why) = read(reply) else { return XCTFail("read as a bounce: \(reply.prefix(120))") }
            XCTAssertTrue(why.contains("not from a mailer daemon"), why)
        }
        // A mailer daemon's bounce is one even when it marks itself auto-replied (Exim does).
        XCTAssertNoThrow(try report(BounceSamples.eximDeliveryFailed))
    }

    func testStatusCodesStandAlone() {
        XCTAssertEqual(BounceReport.firstStatusCode(in: "said: 550 5.7.1 blocked"), "5.7.1")
        XCTAssertEqual(BounceReport.firstStatusCode(in: "(#4.4.1)"), "4.4.1")
        XCTAssertNil(BounceReport.firstStatusCode(in: "from 192.4.4.1 at 15.5.2026"), "addresses and dates are no codes")
        XCTAssertNil(BounceReport.firstStatusCode(in: "version 2.5.1"), "2.x.x is no failure")
        XCTAssertNil(BounceReport.firstStatusCode(in: "5.1.1234"))
    }

    func testABase64DeliveryStatusPartIsDecoded() throws {
        let status = "Final-Recipient: rfc822; ann@example.net\nAction: failed\nStatus: 5.2.2\nDiagnostic-Code: smtp; 552 mailbox full\n"
        let message = """
            From: MAILER-DAEMON@mx.example.net
            Content-Type: multipart/report; report-type="delivery-status"; boundary="=_b"

            --=_b
            Content-Type: message/delivery-status
            Content-Transfer-Encoding: base64

            \(Crypto.base64Encode(Array(status.utf8)))
            --=_b--

            """
        guard case .bounce(let report) = BounceReport.read(MIMEEntity(bytes: Array(message.utf8))) else { return XCTFail() }
        XCTAssertEqual(report.recipients, [.init(address: "ann@example.net", status: "5.2.2", diagnostic: "552 mailbox full")])
    }
}
