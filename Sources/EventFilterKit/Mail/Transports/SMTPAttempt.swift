import CCurl
import Foundation

/// Everything known about one failed attempt (curl opening the connection, or the mail
/// transaction on it), before it becomes an operator's reason.
struct SMTPAttempt {
    var result: CURLcode
    /// The SMTP reply code that failed the attempt (CURLINFO_RESPONSE_CODE while curl spoke), 0 if none.
    var replyCode: Int
    /// The last reply the server sent during this attempt, as one line.
    var replyText: String?
    var stage: SMTPStage
    /// Whether the TCP connection was up (a silent server differs from an unreachable one).
    var connected: Bool
    /// CURLINFO_OS_ERRNO: why a connect failed (ECONNREFUSED, EHOSTUNREACH, …), 0 if unknown.
    var systemError: Int32
    /// CURLOPT_ERRORBUFFER or what broke the connection, used only where the server said nothing.
    var curlMessage: String
    /// Whether this attempt opened a new connection (CURLINFO_NUM_CONNECTS > 0) rather than
    /// reusing one: a reused connection that dropped says nothing about the server's health.
    var openedConnection: Bool
}
