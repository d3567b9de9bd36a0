/// A parsed template in a small subset of Mustache.
///
/// - `{{name}}` inserts a value, HTML-escaped (`& < > " '`) when rendering with `escapeHTML`;
///   `{{{name}}}` and `{{& name}}` insert it raw. `.html` values are never escaped.
/// - `{{#name}}...{{/name}}` renders once per row of a list (the row's keys layered over the
///   outer context), or once for `true` or non-empty text. `{{^name}}...{{/name}}` renders when
///   the value is missing, false, empty text or an empty list.
/// - `{{! comment }}` renders nothing.
/// - A missing name renders empty. Partials and delimiter changes are not supported.
/// - A line holding only a section, inverted, closing or comment tag (and whitespace) is removed
///   with its line break, as in Mustache, so that text templates read naturally.
///
///     let template = try Template(source: """
///         {{#items}}
///         * {{subject}}
///         {{/items}}
///         {{^items}}
///         Nothing new.
///         {{/items}}
///         """, name: "digest.txt")
///     template.render(["items": .list([["subject": "A & B"]])], escapeHTML: false)   // "* A & B\n"
public struct Template: Sendable {
    public let name: String
    private let nodes: [Node]
    private let sizeHint: Int

    indirect enum Node: Sendable {
        case text(String)
        case variable(String, escaped: Bool)
        case section(String, inverted: Bool, children: [Node])
    }

    /// Parses `source`; `name` appears in error messages (`name:line: ...`).
    public init(source: String, name: String) throws {
        self.name = name
        self.nodes = try TemplateParser(source: source, name: name).parse()
        self.sizeHint = source.utf8.count
    }

    /// Renders with `context`. With `escapeHTML`, `{{name}}` escapes text values for HTML.
    public func render(_ context: [String: TemplateValue], escapeHTML: Bool) -> String {
        var output = ""
        output.reserveCapacity(sizeHint + sizeHint / 2)
        var scopes = [context]
        Self.render(nodes, scopes: &scopes, escapeHTML: escapeHTML, into: &output)
        return output
    }

    private static func render(
        _ nodes: [Node], scopes: inout [[String: TemplateValue]], escapeHTML: Bool, into output: inout String
    ) {
        for node in nodes {
            switch node {
            case .text(let text):
                output += text
            case .variable(let name, let escaped):
                switch lookup(name, in: scopes) {
                case .text(let text)?:
                    if escaped && escapeHTML {
                        appendEscaped(text, to: &output)
                    } else {
                        output += text
                    }
                case .html(let html)?:
                    output += html
                case .bool?, .list?, nil:
                    break
                }
            case .section(let name, let inverted, let children):
                let value = lookup(name, in: scopes)
                if inverted {
                    if !(value?.isTruthy ?? false) {
                        render(children, scopes: &scopes, escapeHTML: escapeHTML, into: &output)
                    }
                } else if case .list(let rows)? = value {
                    for row in rows {
                        scopes.append(row)
                        render(children, scopes: &scopes, escapeHTML: escapeHTML, into: &output)
                        scopes.removeLast()
                    }
                } else if value?.isTruthy ?? false {
                    render(children, scopes: &scopes, escapeHTML: escapeHTML, into: &output)
                }
            }
        }
    }

    private static func lookup(_ name: String, in scopes: [[String: TemplateValue]]) -> TemplateValue? {
        for scope in scopes.reversed() {
            if let value = scope[name] { return value }
        }
        return nil
    }

    /// Appends `text` HTML-escaped. Works on the UTF-8 bytes: the five escaped characters are
    /// ASCII, and no byte of a multi-byte character is ASCII, so the runs between them are
    /// copied whole rather than a scalar at a time (a digest of long lists is mostly such runs).
    static func appendEscaped(_ text: String, to output: inout String) {
        let utf8 = text.utf8
        guard let first = utf8.firstIndex(where: { escape($0) != nil }) else {
            output += text
            return
        }
        var escaped: [UInt8] = []
        escaped.reserveCapacity(utf8.count + 16)
        escaped.append(contentsOf: utf8[..<first])
        var runStart = first
        var index = first
        while index < utf8.endIndex {
            if let replacement = escape(utf8[index]) {
                escaped.append(contentsOf: utf8[runStart..<index])
                escaped.append(contentsOf: replacement)
                runStart = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        escaped.append(contentsOf: utf8[runStart...])
        output += String(decoding: escaped, as: UTF8.self)
    }

    private static let amp = Array("&amp;".utf8), lt = Array("&lt;".utf8), gt = Array("&gt;".utf8)
    private static let quot = Array("&quot;".utf8), apos = Array("&#39;".utf8)

    /// The entity standing for `byte`, or nil when it stands for itself.
    @inline(__always)
    private static func escape(_ byte: UInt8) -> [UInt8]? {
        switch byte {
        case UInt8(ascii: "&"): return amp
        case UInt8(ascii: "<"): return lt
        case UInt8(ascii: ">"): return gt
        case UInt8(ascii: "\""): return quot
        case UInt8(ascii: "'"): return apos
        default: return nil
        }
    }
}

/// Turns template source into nodes, one pass over its UTF-8 bytes.
private struct TemplateParser {
    let bytes: [UInt8]
    let name: String

    init(source: String, name: String) {
        self.bytes = Array(source.utf8)
        self.name = name
    }

    private struct OpenSection {
        let name: String
        let inverted: Bool
        let offset: Int
        var children: [Template.Node]
    }

    private enum TagKind {
        case variable(escaped: Bool)
        case section(inverted: Bool)
        case close
        case comment
    }

    func parse() throws -> [Template.Node] {
        var open: [OpenSection] = []
        var current: [Template.Node] = []
        var position = 0

        while let tagStart = find([123, 123], from: position) {  // {{
            var contentStart = tagStart + 2
            let triple = contentStart < bytes.count && bytes[contentStart] == 123
            if triple { contentStart += 1 }
            guard let contentEnd = find(triple ? [125, 125, 125] : [125, 125], from: contentStart) else {
                throw error(at: tagStart, triple ? "unclosed tag '{{{' (expected '}}}')" : "unclosed tag '{{' (expected '}}')")
            }
            let tagEnd = contentEnd + (triple ? 3 : 2)

            var kind = TagKind.variable(escaped: !triple)
            var nameStart = contentStart
            if !triple && contentStart < contentEnd {
                switch bytes[contentStart] {
                case UInt8(ascii: "#"): kind = .section(inverted: false)
                case UInt8(ascii: "^"): kind = .section(inverted: true)
                case UInt8(ascii: "/"): kind = .close
                case UInt8(ascii: "!"): kind = .comment
                case UInt8(ascii: "&"): kind = .variable(escaped: false)
                case UInt8(ascii: ">"): throw error(at: tagStart, "partials ('{{>') are not supported")
                case UInt8(ascii: "="): throw error(at: tagStart, "changing delimiters ('{{=') is not supported")
                case UInt8(ascii: "{"), UInt8(ascii: "}"): throw error(at: tagStart, "unbalanced braces in tag")
                default: break
                }
                if case .variable(escaped: true) = kind {} else { nameStart += 1 }
            }

            var tagName = ""
            if case .comment = kind {} else {
                tagName = try parseName(from: nameStart, to: contentEnd, tagStart: tagStart)
            }

            // A tag alone on its line, other than a variable, takes the whole line with it.
            var textEnd = tagStart
            var next = tagEnd
            if case .variable = kind {} else if let (lineStart, lineEnd) = standaloneLine(tagStart, tagEnd) {
                textEnd = lineStart
                next = lineEnd
            }
            if textEnd > position {
                current.append(.text(String(decoding: bytes[position..<textEnd], as: UTF8.self)))
            }
            position = next

            switch kind {
            case .variable(let escaped):
                current.append(.variable(tagName, escaped: escaped))
            case .section(let inverted):
                open.append(OpenSection(name: tagName, inverted: inverted, offset: tagStart, children: current))
                current = []
            case .close:
                guard let section = open.popLast() else {
                    throw error(at: tagStart, "closing tag '\(tagName)' has no open section")
                }
                guard section.name == tagName else {
                    throw error(
                        at: tagStart,
                        "closing tag '\(tagName)' does not match section '\(section.name)' opened on line \(line(of: section.offset))")
                }
                let node = Template.Node.section(section.name, inverted: section.inverted, children: current)
                current = section.children
                current.append(node)
            case .comment:
                break
            }
        }
        if position < bytes.count {
            current.append(.text(String(decoding: bytes[position...], as: UTF8.self)))
        }
        if let section = open.last {
            throw error(at: section.offset, "unclosed section '\(section.name)'")
        }
        return current
    }

    /// Names are letters, digits, `_`, `-` and `.`, with optional spaces around them.
    private func parseName(from start: Int, to end: Int, tagStart: Int) throws -> String {
        var first = start, last = end
        while first < last && isBlank(bytes[first]) { first += 1 }
        while last > first && isBlank(bytes[last - 1]) { last -= 1 }
        if first == last { throw error(at: tagStart, "empty tag") }
        for byte in bytes[first..<last] where !(HeaderCheck.isAlphanumeric(byte)
            || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")) {
            let text = String(decoding: bytes[first..<last], as: UTF8.self)
            throw error(at: tagStart, "invalid name \(HeaderCheck.quoted(text)) in tag")
        }
        return String(decoding: bytes[first..<last], as: UTF8.self)
    }

    /// When only spaces and tabs surround the tag on its line, returns where that line starts
    /// and where the next one starts.
    private func standaloneLine(_ tagStart: Int, _ tagEnd: Int) -> (Int, Int)? {
        var lineStart = tagStart
        while lineStart > 0 && isBlank(bytes[lineStart - 1]) { lineStart -= 1 }
        if lineStart > 0 && bytes[lineStart - 1] != 10 { return nil }
        var lineEnd = tagEnd
        while lineEnd < bytes.count && isBlank(bytes[lineEnd]) { lineEnd += 1 }
        if lineEnd == bytes.count { return (lineStart, lineEnd) }
        if bytes[lineEnd] == 10 { return (lineStart, lineEnd + 1) }
        if bytes[lineEnd] == 13 && lineEnd + 1 < bytes.count && bytes[lineEnd + 1] == 10 {
            return (lineStart, lineEnd + 2)
        }
        return nil
    }

    private func isBlank(_ byte: UInt8) -> Bool {
        byte == 32 || byte == 9
    }

    private func find(_ needle: [UInt8], from start: Int) -> Int? {
        var index = start
        while index + needle.count <= bytes.count {
            if bytes[index] == needle[0] && (needle.count == 1 || bytes[index + 1] == needle[1])
                && (needle.count < 3 || bytes[index + 2] == needle[2]) {
                return index
            }
            index += 1
        }
        return nil
    }

    private func line(of offset: Int) -> Int {
        var line = 1
        for byte in bytes[..<offset] where byte == 10 { line += 1 }
        return line
    }

    private func error(at offset: Int, _ message: String) -> TemplateError {
        TemplateError("\(name):\(line(of: offset)): \(message)")
    }
}
