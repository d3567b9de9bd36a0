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
}

/// Decides what a failed attempt means for the message and says why in one line that names the
/// server, e.g. `smtp 127.0.0.1:2525: recipient rejected: 550 5.1.1 no such user`.
///
/// Only a 5xx answer to the message itself (MAIL FROM, RCPT TO, DATA) is permanent. Everything
/// the operator can fix (credentials, TLS, certificates, a server that is down) is temporary, so
/// no mail is dropped while settings are wrong.
struct SMTPFailureClassifier {
    let configuration: SMTPConfiguration

    func outcome(of attempt: SMTPAttempt, sender: String) -> DeliveryOutcome {
        let prefix = "smtp \(configuration.serverLabel): "
        if let reason = transportProblem(attempt) {
            return .temporaryFailure(prefix + reason)
        }
        let code = attempt.replyCode
        let reply = attempt.replyText.flatMap { $0.hasPrefix(String(code)) ? $0 : nil } ?? String(code)
        if (400...599).contains(code) {
            if attempt.stage == .authentication {
                return .temporaryFailure(prefix + authenticationFailure(code: code, reply: reply))
            }
            if [530, 534, 538].contains(code) {
                return .temporaryFailure(
                    prefix + "server requires STARTTLS or authentication"
                        + " (check TransportConnectionType, TransportUser): \(reply)")
            }
            let subject: String
            switch attempt.stage {
            case .sender: subject = "sender <\(sender)>"
            case .recipient: subject = "recipient"
            case .data, .message: subject = "message"
            case .connecting, .hello, .starttls, .authentication, .quit:
                // The server refuses the whole session, not this message: the operator has
                // to look, and the mail waits.
                return .temporaryFailure(prefix + "server refused the session: \(reply)")
            }
            return code >= 500
                ? .permanentFailure(prefix + "\(subject) rejected: \(reply)")
                : .temporaryFailure(prefix + "\(subject) deferred: \(reply)")
        }
        let detail = attempt.curlMessage.isEmpty ? "no reply" : attempt.curlMessage
        return .temporaryFailure(prefix + "connection lost \(attempt.stage.during): \(detail)")
    }

    /// Failures of the connection or TLS layer, where the server's reply code says nothing.
    private func transportProblem(_ attempt: SMTPAttempt) -> String? {
        let message = attempt.curlMessage
        switch attempt.result {
        case CURLE_COULDNT_RESOLVE_HOST:
            return "cannot resolve host name \(configuration.server)"
        case CURLE_COULDNT_CONNECT:
            if attempt.systemError == ECONNREFUSED { return "connection refused" }
            if attempt.systemError != 0 { return "cannot connect: \(String(cString: strerror(attempt.systemError)))" }
            return "cannot connect: \(message.lastClause)"
        case CURLE_OPERATION_TIMEDOUT:
            let step = attempt.stage == .connecting && attempt.connected ? "waiting for the greeting" : attempt.stage.during
            return "timed out \(step) (connect timeout \(seconds(configuration.connectTimeout)),"
                + " message timeout \(seconds(configuration.timeout)))"
        case CURLE_PEER_FAILED_VERIFICATION:
            return "certificate verification failed: \(certificateProblem(message))"
        case CURLE_SSL_CACERT_BADFILE:
            return "cannot use CA file \(configuration.caFile ?? "(system default)"): \(message)"
        case CURLE_SSL_CONNECT_ERROR:
            return "TLS handshake failed: \(message)"
        case CURLE_USE_SSL_FAILED:
            if attempt.stage == .starttls, let reply = attempt.replyText {
                return "server refused STARTTLS: \(reply)"
            }
            return "server does not offer STARTTLS (TransportConnectionType=tls)"
        case CURLE_LOGIN_DENIED, CURLE_AUTH_ERROR:
            if attempt.replyCode >= 400, let reply = attempt.replyText {
                return authenticationFailure(code: attempt.replyCode, reply: reply)
            }
            return "authentication failed: the server offers no login method this client supports"
        default:
            return nil
        }
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
