/// A setting that can never work, named so an operator can fix site.ini.
public struct SMTPConfigurationError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
