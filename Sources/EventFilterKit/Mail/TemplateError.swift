/// A template error: a parse error with its template name and line, or a template that cannot
/// be found or read.
public struct TemplateError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
