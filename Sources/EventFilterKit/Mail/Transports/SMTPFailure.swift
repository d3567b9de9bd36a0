import CCurl
import Foundation

/// Everything known about one failed `curl_easy_perform`, before it becomes an operator's reason.
struct SMTPAttempt {
    var result: CURLcode
    /// CURLINFO_RESPONSE_CODE: the SMTP reply code curl last acted on (0 if none).
    var replyCode: Int
    /// The last reply the server sent during this attempt, as one line.
    var replyText: String?
    var stage: SMTPStage
    /// Whether the TCP connection was up (a silent server differs from an unreachable one).
    var connected: Bool
    /// CURLINFO_OS_ERRNO: why a connect failed (ECONNREFUSED, EHOSTUNREACH, …), 0 if unknown.
    var systemError: Int32
    /// CURLOPT_ERRORBUFFER: curl's own sentence, used only where the server said nothing.
    var curlMessage: String
    /// Whether this attempt opened a new connection (CURLINFO_NUM_CONNECTS > 0) rather than
    /// reusing one: a reused connection that dropped says nothing about the server's health.
    var openedConnection: Bool
}

/// What a finished attempt means for its message and for the rest of the run.
struct SMTPVerdict: Equatable {
    var outcome: DeliveryOutcome
    /// Set when the failure is the server's or the settings' rather than this message's
    /// (connect, DNS, TLS, greeting, EHLO, AUTH): every later message would meet it too. The
    /// reason without the `smtp host:port: ` prefix.
    var sessionFailure: String?
    /// The session got as far as MAIL FROM: greeting, EHLO, TLS and AUTH all worked.
    var sessionWorked: Bool
}

/// Decides what a failed attempt means for the message and says why in one line that names the
/// server, e.g. `smtp 127.0.0.1:2525: recipient rejected: 550 5.1.1 no such user`.
///
/// Only a 5xx answer to the message itself (MAIL FROM, RCPT TO, DATA) is permanent. Everything
/// the operator can fix (credentials, TLS, certificates, a server that is down) is temporary, so
/// no mail is dropped while settings are wrong.
///
/// A failure before MAIL FROM (connect, DNS, TLS, greeting, EHLO, AUTH), a 530/534/538 demand
/// for TLS or login, a timeout at any stage, and a 421 reply at any stage are the session's:
/// ``SMTPVerdict/sessionFailure`` says so, and the transport stops contacting the server for the
/// rest of the run, like Postfix's "dead destination". A server that stops answering after MAIL
/// FROM would make every later message wait a full timeout too, and 421 is the server saying it
/// is closing the channel (RFC 5321 section 3.8), whatever command it answers.
struct SMTPFailureClassifier {
    let configuration: SMTPConfiguration

    func verdict(of attempt: SMTPAttempt, sender: String) -> SMTPVerdict {
        let prefix = "smtp \(configuration.serverLabel): "
        let worked = attempt.stage.isAfterSessionSetup
        func session(_ reason: String) -> SMTPVerdict {
            SMTPVerdict(outcome: .temporaryFailure(prefix + reason), sessionFailure: reason, sessionWorked: worked)
        }
        func message(_ outcome: DeliveryOutcome) -> SMTPVerdict {
            SMTPVerdict(outcome: outcome, sessionFailure: nil, sessionWorked: worked)
        }
        if let problem = transportProblem(attempt) {
            return session(problem)
        }
        let code = attempt.replyCode
        let reply = attempt.replyText.flatMap { $0.hasPrefix(String(code)) ? $0 : nil } ?? String(code)
        if (400...599).contains(code) {
            if code == 421 {
                return session("server closed the session: \(reply) (\(attempt.stage.answering))")
            }
            if attempt.stage == .authentication {
                return session(authenticationFailure(code: code, reply: reply))
            }
            if [530, 534, 538].contains(code) {
                return session("server requires STARTTLS or authentication"
                               + " (check TransportConnectionType, TransportUser): \(reply)")
            }
            let subject: String
            switch attempt.stage {
            case .sender: subject = "sender <\(sender)>"
            case .recipient: subject = "recipient"
            case .data, .message, .endOfData: subject = "message"
            case .connecting, .hello, .starttls, .authentication, .quit:
                // The server refuses the whole session, not this message: the operator has
                // to look, and the mail waits.
                return session("server refused the session: \(reply)")
            }
            return code >= 500
                ? message(.permanentFailure(prefix + "\(subject) rejected: \(reply)"))
                : message(.temporaryFailure(prefix + "\(subject) deferred: \(reply)"))
        }
        let detail = attempt.curlMessage.isEmpty ? "no reply" : attempt.curlMessage
        let reason = "connection lost \(attempt.stage.during): \(detail)"
        // A server that hangs up before MAIL FROM refuses us; a cached connection found dead
        // when reused (nothing sent yet, nothing opened) only needs a new one.
        let refusedUs = attempt.stage.isSessionSetup && (attempt.stage != .connecting || attempt.openedConnection)
        return refusedUs ? session(reason) : message(.temporaryFailure(prefix + reason))
    }

    /// Failures of the connection or TLS layer, where the server's reply code says nothing.
    /// All of them are the session's, a timeout included at every stage: the next message would
    /// wait for the same silent server.
    private func transportProblem(_ attempt: SMTPAttempt) -> String? {
        let message = attempt.curlMessage
        let reason: String
        switch attempt.result {
        case CURLE_COULDNT_RESOLVE_HOST:
            reason = "cannot resolve host name \(configuration.server)"
        case CURLE_COULDNT_CONNECT:
            if attempt.systemError == ECONNREFUSED {
                reason = "connection refused"
            } else if attempt.systemError != 0 {
                reason = "cannot connect: \(String(cString: strerror(attempt.systemError)))"
            } else {
                reason = "cannot connect: \(message.lastClause)"
            }
        case CURLE_OPERATION_TIMEDOUT:
            let step = attempt.stage == .connecting && attempt.connected ? "waiting for the greeting" : attempt.stage.during
            reason = "timed out \(step) (connect timeout \(seconds(configuration.connectTimeout)),"
                + " message timeout \(seconds(configuration.timeout)))"
        case CURLE_PEER_FAILED_VERIFICATION:
            reason = "certificate verification failed: \(certificateProblem(message))"
        case CURLE_SSL_CACERT_BADFILE:
            reason = "cannot use CA file \(configuration.caFile ?? "(system default)"): \(message)"
        case CURLE_SSL_CONNECT_ERROR:
            reason = "TLS handshake failed: \(message)"
        case CURLE_USE_SSL_FAILED:
            if attempt.stage == .starttls, let reply = attempt.replyText {
                reason = "server refused STARTTLS: \(reply)"
            } else {
                reason = "server does not offer STARTTLS (TransportConnectionType=tls)"
            }
        case CURLE_LOGIN_DENIED, CURLE_AUTH_ERROR:
            if attempt.replyCode >= 400, let reply = attempt.replyText {
                reason = authenticationFailure(code: attempt.replyCode, reply: reply)
            } else {
                reason = "authentication failed: the server offers no login method this client supports"
            }
        default:
            return nil
        }
        return reason
    }

    private func authenticationFailure(code: Int, reply: String) -> String {
        let meaning: String
        switch code {
        case 535: meaning = "wrong user name or password"
        case 534: meaning = "the server wants a stronger login method"
        case 538: meaning = "the server wants TLS before login"
        case 454: meaning = "temporary server problem"
        default: meaning = "the server refused the login"
        }
        return "authentication failed (\(code)): \(meaning) (server said: \(reply))"
    }

    /// "SSL certificate problem: self-signed certificate" -> "self-signed certificate".
    private func certificateProblem(_ message: String) -> String {
        for prefix in ["SSL certificate problem: ", "SSL: "] where message.hasPrefix(prefix) {
            return String(message.dropFirst(prefix.count))
        }
        return message.isEmpty ? "unknown reason" : message
    }

    private func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }
}

extension SMTPStage {
    /// Connecting, greeting, EHLO, STARTTLS or AUTH: the steps every message on a new
    /// connection goes through, so a failure here would repeat for all of them.
    var isSessionSetup: Bool {
        switch self {
        case .connecting, .hello, .starttls, .authentication: return true
        case .sender, .recipient, .data, .message, .endOfData, .quit: return false
        }
    }

    /// MAIL FROM was sent: the session setup worked.
    var isAfterSessionSetup: Bool {
        switch self {
        case .sender, .recipient, .data, .message, .endOfData: return true
        case .connecting, .hello, .starttls, .authentication, .quit: return false
        }
    }

    /// Where a reply came: "in reply to MAIL FROM", "in its greeting".
    var answering: String {
        switch self {
        case .connecting: return "in its greeting"
        case .hello: return "in reply to EHLO"
        case .starttls: return "in reply to STARTTLS"
        case .authentication: return "in reply to AUTH"
        case .sender: return "in reply to MAIL FROM"
        case .recipient: return "in reply to RCPT TO"
        case .data: return "in reply to DATA"
        case .message, .endOfData: return "in reply to the message"
        case .quit: return "in reply to QUIT"
        }
    }

    /// "while waiting for the RCPT TO reply", for timeouts and dropped connections.
    var during: String {
        switch self {
        case .connecting: return "while connecting"
        case .hello: return "waiting for the EHLO reply"
        case .starttls: return "during STARTTLS"
        case .authentication: return "during authentication"
        case .sender: return "waiting for the MAIL FROM reply"
        case .recipient: return "waiting for the RCPT TO reply"
        case .data: return "waiting for the DATA reply"
        case .message: return "while sending the message"
        case .endOfData: return "waiting for the reply to the message"
        case .quit: return "while closing"
        }
    }
}

extension String {
    /// "Failed to connect to x port 1 after 0 ms: No route to host" -> "No route to host".
    fileprivate var lastClause: String {
        guard let range = range(of: ": ", options: .backwards) else { return self }
        return String(self[range.upperBound...])
    }
}
