import CCurl
import Foundation

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

extension String {
    /// "Failed to connect to x port 1 after 0 ms: No route to host" -> "No route to host".
    fileprivate var lastClause: String {
        guard let range = range(of: ": ", options: .backwards) else { return self }
        return String(self[range.upperBound...])
    }
}
