import CCurl

/// What libcurl's debug callback shows while curl opens a connection (CURLOPT_CONNECT_ONLY):
/// the greeting, EHLO, STARTTLS and AUTH, which curl speaks; the stage reached, the server's
/// latest reply (quoted when the set-up fails) and the extensions its EHLO reply lists.
///
/// curl holds an unretained pointer to it (DEBUGDATA); ``SMTPConnection`` keeps it alive for as
/// long as the handle exists. The callback runs on the thread inside `curl_easy_perform`, which
/// is the connection's owner, so no locking is needed.
///
///     exchange.begin()
///     curl_easy_perform(handle)          // the callback feeds clientSent / serverSent
///     exchange.capabilities.pipelining   // from the (last) EHLO reply
final class SMTPExchange {
    private(set) var stage: SMTPStage = .connecting
    /// Set once curl sends QUIT (it does after a failure): later lines are only the goodbye.
    private var closing = false
    /// The lines of the server's latest reply, LF-separated, CR stripped. Never client lines,
    /// so credentials sent during AUTH cannot end up here.
    private var reply: [UInt8] = []
    private var replyComplete = true
    /// Whether the server said anything during this attempt (else an old reply code is stale).
    private(set) var heardServer = false
    /// What the reply to the latest EHLO offered (after STARTTLS curl says EHLO again, and only
    /// the second answer counts, RFC 3207 section 4.2).
    private(set) var capabilities = SMTPCapabilities()

    func begin() {
        stage = .connecting
        closing = false
        reply.removeAll(keepingCapacity: true)
        replyComplete = true
        heardServer = false
        capabilities = SMTPCapabilities()
    }

    func clientSent(_ line: UnsafeRawBufferPointer) {
        guard !closing, let next = SMTPStage(commandLine: line) else { return }
        if next == .quit {
            closing = true
            return
        }
        // AUTH continuation lines are base64 and may spell a command word ("DATA"); curl sends
        // nothing after AUTH but its QUIT (CONNECT_ONLY: the mail transaction is ours), handled
        // above, so no line ends the authentication stage.
        if stage == .authentication { return }
        if next == .hello { capabilities = SMTPCapabilities() }
        stage = next
    }

    /// After a failure curl sends QUIT; its "221 bye" must not replace the reply that failed.
    func serverSent(_ chunk: UnsafeRawBufferPointer) {
        guard !closing else { return }
        var start = chunk.startIndex
        while start < chunk.endIndex {
            let newline = chunk[start...].firstIndex(of: 0x0A) ?? chunk.endIndex
            var line = chunk[start..<newline]
            start = newline < chunk.endIndex ? newline + 1 : newline
            if line.last == 0x0D { line = line.dropLast() }
            guard !line.isEmpty else { continue }
            if replyComplete {
                reply.removeAll(keepingCapacity: true)
            } else {
                reply.append(0x0A)
            }
            reply.append(contentsOf: line)
            if stage == .hello { capabilities.note(line: line) }
            replyComplete = SMTPReply.endsReply(line)
            heardServer = true
        }
    }

    /// The latest reply as one printable line: "550 5.1.1 no such user".
    var replyText: String? {
        guard !reply.isEmpty else { return nil }
        return SMTPReplyText.oneLine(reply)
    }
}
