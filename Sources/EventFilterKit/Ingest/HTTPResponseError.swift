/// A request that could not even be read (CGI environment, body length), as the response to send.
///
///     switch CGI.request(environment: env, body: CGI.readStandardInput, bodyLimit: limit) {
///     case .success(let request): handle(request)
///     case .failure(let error): FileHandle.standardOutput.write(Data(error.response.cgiBytes))
///     }
public struct HTTPResponseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var response: HTTPResponse

    public init(status: Int, reason: String) {
        response = HTTPResponse(status: status, body: reason)
    }

    public var status: Int { response.status }
    public var reason: String { response.body }
    public var description: String { "\(response.status) \(response.body)" }
}
