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
