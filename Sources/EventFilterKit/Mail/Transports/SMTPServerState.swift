/// What a transport has learned about its server, kept from one `deliver` call to the next.
struct SMTPServerState {
    /// The first connection-level failure; once set, no message is started.
    var suspendedReason: String?
    /// Some session got past AUTH, so more connections may open.
    var sessionWorked = false
    var transfersStarted = 0
}
