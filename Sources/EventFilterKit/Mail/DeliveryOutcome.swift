/// What became of one delivery attempt.
public enum DeliveryOutcome: Sendable, Equatable {
    /// The server (or file, or sendmail) took responsibility for the message. The reply says how,
    /// as one line, and is kept with the sent message so an operator can find it in the mail
    /// server's log: SMTP's reply to the end of the message ("250 2.0.0 Ok: queued as 4F2A1"),
    /// "sendmail /usr/sbin/sendmail: exited 0", or "written to /srv/mail/42.eml".
    case accepted(String)
    /// Try again later: a 4xx reply, a refused connection, a timeout.
    case temporaryFailure(String)
    /// Do not try again: a 5xx reply. The reason keeps the server's own words.
    case permanentFailure(String)
}
