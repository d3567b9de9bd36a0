/// One complete FastCGI request as the web server sent it: its id, its parameters (the CGI
/// environment, RFC 3875 §4.1) and its body (FCGI_STDIN).
///
///     let request = FastCGIRequest(id: 1, keepConnection: true,
///                                  params: ["REQUEST_METHOD": "POST", "PATH_INFO": "/panda"], body: [])
///     request.params["PATH_INFO"]   // "/panda"
///     request.variables.pathInfo    // "/panda", without making the other parameters into text
public struct FastCGIRequest: Sendable, Equatable {
    public var id: UInt16
    /// FCGI_KEEP_CONN: the connection stays open for the next request when true.
    public var keepConnection: Bool
    /// The parameters as sent: FastCGI's name-value pairs (§3.4), well-formed. Kept encoded
    /// because a request reads a handful of the twenty or more a web server sends.
    public let encodedParams: [UInt8]
    /// The body; empty when `bodyTooLarge`.
    public var body: [UInt8]
    /// The body went over the limit: its bytes were read and dropped, and the answer is 413.
    public var bodyTooLarge: Bool

    public init(id: UInt16, keepConnection: Bool, params: [String: String], body: [UInt8], bodyTooLarge: Bool = false) {
        self.init(id: id, keepConnection: keepConnection,
                  encodedParams: FastCGIRecord.encodePairs(params.map { (Array($0.key.utf8), Array($0.value.utf8)) }),
                  body: body, bodyTooLarge: bodyTooLarge)
    }

    /// `encodedParams` must be well-formed (`FastCGIRecord.pairsAreWellFormed`).
    init(id: UInt16, keepConnection: Bool, encodedParams: [UInt8], body: [UInt8], bodyTooLarge: Bool) {
        self.id = id
        self.keepConnection = keepConnection
        self.encodedParams = encodedParams
        self.body = body
        self.bodyTooLarge = bodyTooLarge
    }

    /// Every parameter as text (bytes that are not UTF-8 become U+FFFD); a repeated name keeps its last value.
    public var params: [String: String] { FastCGIRecord.decodeParams(encodedParams) ?? [:] }

    /// The parameters a request is built from (`CGI.request(variables:body:bodyLimit:)`).
    public var variables: CGIVariables { CGIVariables(fastCGIParams: encodedParams) ?? CGIVariables() }

    /// Equal when they carry the same parameters, whatever their order on the wire.
    public static func == (a: FastCGIRequest, b: FastCGIRequest) -> Bool {
        a.id == b.id && a.keepConnection == b.keepConnection && a.body == b.body && a.bodyTooLarge == b.bodyTooLarge
            && (a.encodedParams == b.encodedParams || a.params == b.params)
    }
}
