import Foundation

/// Bounces as published, with the address they were sent to replaced by `{{to}}` (the VERP
/// address a test fills in). The delivery-status parts of the three RFC 3464 reports are that
/// RFC's examples as printed; the Postfix reports are made live by `PostfixTestServer`.
enum BounceSamples {
    /// RFC 3464's simple DSN: a message that could not be delivered for 5 days, reported
    /// as `Action: failed` with the transient status 4.0.0 (sendmail's wording).
    static let rfc3464SimpleDSN = """
        Date: Thu, 7 Jul 1994 17:16:05 -0400
        From: Mail Delivery Subsystem <MAILER-DAEMON@CS.UTK.EDU>
        Message-Id: <199407072116.RAA14128@CS.UTK.EDU>
        Subject: Returned mail: Cannot send message for 5 days
        To: <{{to}}>
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=delivery-status;
             boundary="RAA14128.773615765/CS.UTK.EDU"

        --RAA14128.773615765/CS.UTK.EDU

        The original message was received at Sat, 2 Jul 1994 17:10:28 -0400
        from root@localhost

           ----- The following addresses had delivery problems -----
        <louisl@larry.slip.umd.edu>  (unrecoverable error)

           ----- Transcript of session follows -----
        <louisl@larry.slip.umd.edu>... Deferred: Connection timed out
               with larry.slip.umd.edu.
        Message could not be delivered for 5 days
        Message will be deleted from queue

        --RAA14128.773615765/CS.UTK.EDU
        content-type: message/delivery-status

        Reporting-MTA: dns; cs.utk.edu

        Original-Recipient: rfc822;louisl@larry.slip.umd.edu
        Final-Recipient: rfc822;louisl@larry.slip.umd.edu
        Action: failed
        Status: 4.0.0
        Diagnostic-Code: smtp; 426 connection timed out
        Last-Attempt-Date: Thu, 7 Jul 1994 17:15:49 -0400

        --RAA14128.773615765/CS.UTK.EDU
        content-type: message/rfc822

        [original message goes here]
        --RAA14128.773615765/CS.UTK.EDU--

        """

    /// RFC 3464's multi-recipient DSN: two recipients failed (5.0.0), one delayed (4.0.0).
    static let rfc3464MultiRecipientDSN = """
        Date: Fri, 8 Jul 1994 09:21:47 -0400
        From: Mail Delivery Subsystem <MAILER-DAEMON@CS.UTK.EDU>
        Subject: Returned mail: User unknown
        To: <{{to}}>
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=delivery-status;
             boundary="JAA13167.773673707/CS.UTK.EDU"

        --JAA13167.773673707/CS.UTK.EDU
        content-type: text/plain; charset=us-ascii

           ----- The following addresses had delivery problems -----
        <arathib@vnet.ibm.com>  (unrecoverable error)
        <wsnell@sdcc13.ucsd.edu>  (unrecoverable error)

        --JAA13167.773673707/CS.UTK.EDU
        content-type: message/delivery-status

        Reporting-MTA: dns; cs.utk.edu

        Original-Recipient: rfc822;arathib@vnet.ibm.com
        Final-Recipient: rfc822;arathib@vnet.ibm.com
        Action: failed
        Status: 5.0.0 (permanent failure)
        Diagnostic-Code: smtp;  550 'arathib@vnet.IBM.COM' is not a
            registered gateway user
        Remote-MTA: dns; vnet.ibm.com

        Original-Recipient: rfc822;johnh@hpnjld.njd.hp.com
        Final-Recipient: rfc822;johnh@hpnjld.njd.hp.com
        Action: delayed
        Status: 4.0.0 (hpnjld.njd.jp.com: host name lookup failure)

        Original-Recipient: rfc822;wsnell@sdcc13.ucsd.edu
        Final-Recipient: rfc822;wsnell@sdcc13.ucsd.edu
        Action: failed
        Status: 5.0.0
        Diagnostic-Code: smtp; 550 user unknown
        Remote-MTA: dns; sdcc13.ucsd.edu

        --JAA13167.773673707/CS.UTK.EDU
        content-type: message/rfc822

        [original message goes here]
        --JAA13167.773673707/CS.UTK.EDU--

        """

    /// RFC 3464's delayed DSN: `Action: delayed`, 4.0.0.
    static let rfc3464DelayedDSN = """
        Date: Fri, 8 Jul 1994 09:23:01 -0400
        From: Mail Delivery Subsystem <MAILER-DAEMON@CS.UTK.EDU>
        Subject: Warning: message delayed 4 hours
        To: <{{to}}>
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=delivery-status;
            boundary="JAA13167.773673707/CS.UTK.EDU"

        --JAA13167.773673707/CS.UTK.EDU
        Content-type: text/plain; charset=us-ascii

        Your message has been delayed; delivery will continue to be attempted.

        --JAA13167.773673707/CS.UTK.EDU
        Content-type: message/delivery-status

        Reporting-MTA: dns; sun2.nsfnet-relay.ac.uk

        Final-Recipient: rfc822;thomas@de-montfort.ac.uk
        Status: 4.0.0 (unknown temporary failure)
        Action: delayed

        --JAA13167.773673707/CS.UTK.EDU--

        """

    /// A success notice (RFC 3464 `Action: delivered`, asked for with NOTIFY=SUCCESS): no bounce.
    static let deliveredDSN = """
        From: Mail Delivery System <MAILER-DAEMON@mx.example.net>
        To: {{to}}
        Subject: Successful Mail Delivery Report
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=delivery-status; boundary="B"

        --B
        Content-Type: message/delivery-status

        Reporting-MTA: dns; mx.example.net

        Final-Recipient: rfc822; ann@example.net
        Action: delivered
        Status: 2.0.0
        Diagnostic-Code: smtp; 250 2.0.0 Ok: queued

        --B--

        """

    /// qmail's bounce ("failure notice"), its fixed wording with the `#5.1.1` code; the VERP
    /// address is the envelope recipient, which qmail-local puts in `Delivered-To`.
    static let qmailFailureNotice = """
        Return-Path: <>
        Delivered-To: {{to}}
        From: MAILER-DAEMON@mx.example.net
        To: {{to}}
        Subject: failure notice

        Hi. This is the qmail-send program at mx.example.net.
        I'm afraid I wasn't able to deliver your message to the following addresses.
        This is a permanent error; I've given up. Sorry it didn't work out.

        <ghost@example.net>:
        Sorry, no mailbox here by that name. (#5.1.1)

        --- Below this line is a copy of the message.

        Return-Path: <{{to}}>
        Subject: News

        Hello.

        """

    /// Exim's default bounce (plain text, no report); its To: here is the bare bounce mailbox (a
    /// forwarder rewrote it), so only the returned message's Return-Path names the VERP address.
    static let eximDeliveryFailed = """
        Return-path: <>
        From: Mail Delivery System <Mailer-Daemon@mx.example.net>
        To: bounces@example.org
        Subject: Mail delivery failed: returning message to sender
        Auto-Submitted: auto-replied

        This message was created automatically by mail delivery software.

        A message that you sent could not be delivered to one or more of its
        recipients. This is a permanent error. The following address(es) failed:

          ghost@example.net
            SMTP error from remote mail server after RCPT TO:<ghost@example.net>:
            550 5.1.1 <ghost@example.net>: Recipient address rejected: User unknown

        ------ This is a copy of the message, including all the headers. ------

        Return-path: <{{to}}>
        Received: from [192.0.2.1] by mx.example.net with esmtp
        From: Test Site <notify@example.com>
        Subject: News

        Hello.

        """

    /// An out-of-office reply to the envelope sender: not a bounce.
    static let vacationReply = """
        From: Ann Reader <ann@example.net>
        To: {{to}}
        Subject: Out of office: News
        Auto-Submitted: auto-replied

        I am away until Monday and will read your message when I am back.

        """

    /// A read receipt (RFC 8098): a report, but not about delivery.
    static let readReceipt = """
        From: Ann Reader <ann@example.net>
        To: {{to}}
        Subject: Read: News
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=disposition-notification; boundary="R"

        --R
        Content-Type: message/disposition-notification

        Final-Recipient: rfc822; ann@example.net
        Disposition: manual-action/MDN-sent-manually; displayed

        --R--

        """

    static func fill(_ sample: String, to address: String) -> String {
        sample.replacingOccurrences(of: "{{to}}", with: address)
    }
}
