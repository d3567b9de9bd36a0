/// A value a template can show or branch on.
///
/// Literals make contexts short to write:
///
///     let context: [String: TemplateValue] = [
///         "name": "Blåbær", "is_update": true,
///         "items": .list([["subject": "One"], ["subject": "Two"]]),
///         "body": .html("<p>Already <em>safe</em> HTML</p>"),
///     ]
public indirect enum TemplateValue: Sendable {
    /// Text, HTML-escaped by `{{name}}` when the template renders HTML.
    case text(String)
    /// Markup that is already safe HTML; never escaped.
    case html(String)
    case bool(Bool)
    /// Rows for a `{{#name}}...{{/name}}` section; each row's keys shadow the outer ones.
    case list([[String: TemplateValue]])

    /// Whether a section over this value renders: true, non-empty text or a non-empty list.
    var isTruthy: Bool {
        switch self {
        case .text(let text), .html(let text): return !text.isEmpty
        case .bool(let flag): return flag
        case .list(let rows): return !rows.isEmpty
        }
    }
}

extension TemplateValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral {
    public init(stringLiteral value: String) { self = .text(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}
