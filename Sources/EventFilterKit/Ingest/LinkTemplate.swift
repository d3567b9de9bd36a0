/// A per-source link to where people watch an object, with placeholders the notification fills:
/// `EntryURL=https://videos.example.org/media/{entry_id}` in a `[Source-NAME]` block.
///
///     let template = try LinkTemplate("https://videos.example.org/media/{entry_id}", placeholders: ["entry_id"])
///     template.url(["entry_id": "0_a b"])   // "https://videos.example.org/media/0_a%20b"
///
/// Only http and https, with a literal host: a sender's value can never choose where the link
/// goes. Values are percent-encoded (RFC 3986: everything but the unreserved `A-Z a-z 0-9 - . _ ~`),
/// so they stay inside their path segment or query value and cannot add a `?`, `#`, `/` or quote.
public struct LinkTemplate: Sendable, Equatable {
    public let text: String
    private let pieces: [Piece]

    private enum Piece: Sendable, Equatable {
        case literal(String)
        case placeholder(String)
    }

    /// Throws a one-line reason (without the settings location) when the template is unusable.
    public init(_ text: String, placeholders known: Set<String>) throws {
        self.text = text
        let lower = text.lowercased()
        guard let schemeEnd = ["https://", "http://"].first(where: { lower.hasPrefix($0) })?.count else {
            throw LinkTemplateError("must be an http:// or https:// URL")
        }
        guard !text.unicodeScalars.contains(where: {
            $0.properties.generalCategory == .control || $0 == " " || $0 == "\"" || $0 == "<" || $0 == ">" || $0 == "\\"
                || $0.value > 0x7E
        }) else {
            throw LinkTemplateError("must be a URL without spaces, quotes, angle brackets or non-ASCII characters")
        }
        let afterScheme = text.dropFirst(schemeEnd)
        let host = afterScheme.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !host.isEmpty, !host.contains("{"), !host.contains("}") else {
            throw LinkTemplateError("must name its host literally, without placeholders")
        }

        var pieces: [Piece] = []
        var rest = Substring(text)
        while let open = rest.firstIndex(where: { $0 == "{" || $0 == "}" }) {
            guard rest[open] == "{", let close = rest[open...].firstIndex(of: "}") else {
                throw LinkTemplateError("has an unmatched '{' or '}'")
            }
            let name = String(rest[rest.index(after: open)..<close])
            guard known.contains(name) else {
                throw LinkTemplateError(
                    "has an unknown placeholder {\(name)}; use \(known.sorted().map { "{\($0)}" }.joined(separator: ", "))")
            }
            if open > rest.startIndex { pieces.append(.literal(String(rest[..<open]))) }
            pieces.append(.placeholder(name))
            rest = rest[rest.index(after: close)...]
        }
        if !rest.isEmpty { pieces.append(.literal(String(rest))) }
        self.pieces = pieces
    }

    /// The link for these values; nil when a placeholder it uses has no value.
    public func url(_ values: [String: String]) -> String? {
        var url = ""
        for piece in pieces {
            switch piece {
            case .literal(let literal): url += literal
            case .placeholder(let name):
                guard let value = values[name], !value.isEmpty else { return nil }
                url += Self.percentEncoded(value)
            }
        }
        return url
    }

    static func percentEncoded(_ value: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(byte)
            default:
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
