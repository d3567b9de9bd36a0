/// One complete FastCGI request as the web server sent it: its id, its parameters (the CGI
/// environment, RFC 3875 §4.1) and its body (FCGI_STDIN).
///
///     let request = FastCGIRequest(id: 1, keepConnection: true,
///                                  params: ["REQUEST_METHOD": "POST", "PATH_INFO": "/panda"], body: [])
///     request.params["PATH_INFO"]   // "/panda"
public struct FastCGIRequest: Sendable, Equatable {
    public var id: UInt16
    /// FCGI_KEEP_CONN: the connection stays open for the next request when true.
    public var keepConnection: Bool
    /// The parameters, as text (bytes that are not UTF-8 become U+FFFD); a repeated name keeps its last value.
    public var params: [String: String]
    /// The body; empty when `bodyTooLarge`.
    public var body: [UInt8]
    /// The body went over the limit: its bytes were read and dropped, and the answer is 413.
    public var bodyTooLarge: Bool

    public init(id: UInt16, keepConnection: Bool, params: [String: String], body: [UInt8], bodyTooLarge: Bool = false) {
        self.id = id
        self.keepConnection = keepConnection
        self.params = params
        self.body = body
        self.bodyTooLarge = bodyTooLarge
    }
}
