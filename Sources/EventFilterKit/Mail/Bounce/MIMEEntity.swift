import Foundation

/// A received message or one of its MIME parts, read leniently: bounces come from every kind of
/// mail server, so a malformed part is kept as text rather than refused.
///
/// Header fields are unfolded (RFC 5322 §2.2.3); CRLF and bare LF line endings are both accepted
/// (Postfix's `pipe` delivers LF). Multipart bodies (RFC 2046 §5.1) are split at their boundary,
/// nested up to a few levels.
///
///     let message = MIMEEntity(bytes: Array(stdin))
///     message.header("Subject")                         // "Undelivered Mail Returned to Sender"
///     message.contentType                               // "multipart/report"
///     message.parts.first { $0.contentType == "message/delivery-status" }
final class MIMEEntity {
    let headers: [(name: String, value: String)]
    let body: ArraySlice<UInt8>
    private let depth: Int
    /// Deeper nesting than this is read as text: no real bounce needs more, and it bounds the work.
    private static let maximumDepth = 6

    init(bytes: ArraySlice<UInt8>, depth: Int = 0) {
        self.depth = depth
        let (headerEnd, bodyStart) = Self.headerBoundary(bytes)
        headers = Self.parseHeaders(bytes[bytes.startIndex..<headerEnd])
        body = bytes[bodyStart...]
    }

    convenience init(bytes: [UInt8]) {
        self.init(bytes: bytes[...])
    }

    /// The first field with this name (case-insensitive), unfolded and trimmed.
    func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    func headers(named name: String) -> [String] {
        headers.filter { $0.name.caseInsensitiveCompare(name) == .orderedSame }.map(\.value)
    }

    /// `type/subtype`, lowercased; `text/plain` when absent (RFC 2045 §5.2).
    var contentType: String {
        let value = header("Content-Type") ?? "text/plain"
        let type = value.split(separator: ";", maxSplits: 1).first.map(String.init) ?? value
        return type.trimmingCharacters(in: .whitespaces).lowercased()
    }

    /// A parameter of Content-Type (`boundary`, `report-type`), unquoted; the name is case-insensitive.
    func contentTypeParameter(_ name: String) -> String? {
        guard let value = header("Content-Type") else { return nil }
        return Self.parameters(of: value)[name.lowercased()]
    }

    /// The parts of a multipart body, or none.
    lazy var parts: [MIMEEntity] = {
        guard depth < Self.maximumDepth, contentType.hasPrefix("multipart/"),
              let boundary = contentTypeParameter("boundary"), !boundary.isEmpty else { return [] }
        return Self.split(body, boundary: Array(("--" + boundary).utf8)).map { MIMEEntity(bytes: $0, depth: depth + 1) }
    }()

    /// A returned message (`message/rfc822`, `message/global`, `text/rfc822-headers`) read as a message of its own.
    var enclosed: MIMEEntity? {
        guard depth < Self.maximumDepth,
              ["message/rfc822", "message/global", "text/rfc822-headers", "message/rfc822-headers"].contains(contentType) else { return nil }
        return MIMEEntity(bytes: decodedBody[...], depth: depth + 1)
    }

    /// This entity and all below it, depth first.
    var allEntities: [MIMEEntity] {
        [self] + parts.flatMap(\.allEntities) + (enclosed.map { $0.allEntities } ?? [])
    }

    /// The body with its Content-Transfer-Encoding (base64, quoted-printable) undone.
    var decodedBody: [UInt8] {
        switch (header("Content-Transfer-Encoding") ?? "").trimmingCharacters(in: .whitespaces).lowercased() {
        case "base64":
            let compact = String(decoding: body.filter { !Self.isSpace($0) }, as: UTF8.self)
            return Crypto.base64Decode(compact) ?? Array(body)
        case "quoted-printable":
            return Self.decodeQuotedPrintable(body)
        default:
            return Array(body)
        }
    }

    /// The decoded body as text (invalid UTF-8 replaced), with LF line endings.
    var text: String {
        String(decoding: decodedBody, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
    }

    // MARK: Parsing

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }

    /// Where the header section ends and the body starts: after the first empty line.
    private static func headerBoundary(_ bytes: ArraySlice<UInt8>) -> (Int, Int) {
        var index = bytes.startIndex
        var lineStart = index
        while index < bytes.endIndex {
            if bytes[index] == 0x0A {
                let line = bytes[lineStart..<index]
                if line.isEmpty || (line.count == 1 && line.first == 0x0D) { return (lineStart, index + 1) }
                lineStart = index + 1
            }
            index += 1
        }
        return (bytes.endIndex, bytes.endIndex)
    }

    static func parseHeaders(_ bytes: ArraySlice<UInt8>) -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = []
        // Split on bytes: in a Swift String, CR LF is one Character and never equals "\n".
        for rawLine in bytes.split(separator: 0x0A, omittingEmptySubsequences: true) {
            let line = Substring(String(decoding: rawLine.last == 0x0D ? rawLine.dropLast() : rawLine, as: UTF8.self))
            if let first = line.first, first == " " || first == "\t" {
                if !fields.isEmpty { fields[fields.count - 1].value += " " + line.trimmingCharacters(in: .whitespaces) }
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue }  // a line that is no field (mbox "From ") is skipped
            let name = line[..<colon].trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty, !name.contains(" ") else { continue }
            fields.append((name: name, value: line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        return fields.map { (name: $0.name, value: $0.value.trimmingCharacters(in: .whitespaces)) }
    }

    /// `type/subtype; name=value; name="quoted value"` → lowercased names to values.
    static func parameters(of value: String) -> [String: String] {
        var result: [String: String] = [:]
        var scalars = Substring(value)
        guard let semicolon = scalars.firstIndex(of: ";") else { return result }
        scalars = scalars[scalars.index(after: semicolon)...]
        while !scalars.isEmpty {
            scalars = scalars.drop { $0 == " " || $0 == "\t" || $0 == ";" }
            guard let equals = scalars.firstIndex(of: "=") else { break }
            let name = scalars[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            scalars = scalars[scalars.index(after: equals)...].drop { $0 == " " || $0 == "\t" }
            var parameter = ""
            if scalars.first == "\"" {
                scalars = scalars.dropFirst()
                var escaped = false
                while let character = scalars.first {
                    scalars = scalars.dropFirst()
                    if escaped { parameter.append(character); escaped = false; continue }
                    if character == "\\" { escaped = true; continue }
                    if character == "\"" { break }
                    parameter.append(character)
                }
                scalars = scalars.drop { $0 != ";" }
            } else {
                let end = scalars.firstIndex(of: ";") ?? scalars.endIndex
                parameter = scalars[..<end].trimmingCharacters(in: .whitespaces)
                scalars = scalars[end...]
            }
            if !name.isEmpty && result[name] == nil { result[name] = parameter }
        }
        return result
    }

    /// The parts between `--boundary` lines, up to the closing `--boundary--` (or the end).
    private static func split(_ body: ArraySlice<UInt8>, boundary: [UInt8]) -> [ArraySlice<UInt8>] {
        var parts: [ArraySlice<UInt8>] = []
        var partStart: Int?
        var lineStart = body.startIndex
        var index = body.startIndex
        while lineStart < body.endIndex {
            index = body[lineStart...].firstIndex(of: 0x0A) ?? body.endIndex
            var lineEnd = index
            while lineEnd > lineStart && (body[lineEnd - 1] == 0x0D || body[lineEnd - 1] == 0x20 || body[lineEnd - 1] == 0x09) { lineEnd -= 1 }
            let line = body[lineStart..<lineEnd]
            if line.starts(with: boundary) {
                let rest = line.dropFirst(boundary.count)
                if rest.isEmpty || rest.elementsEqual("--".utf8) {
                    if let start = partStart {
                        // The line break before the boundary belongs to the boundary (RFC 2046 §5.1.1).
                        var end = lineStart
                        if end > start && body[end - 1] == 0x0A { end -= 1 }
                        if end > start && body[end - 1] == 0x0D { end -= 1 }
                        parts.append(body[start..<end])
                    }
                    if !rest.isEmpty { return parts }
                    partStart = min(index + 1, body.endIndex)
                }
            }
            lineStart = index + 1
        }
        if let start = partStart, start < body.endIndex { parts.append(body[start...]) }
        return parts
    }

    private static func decodeQuotedPrintable(_ body: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(body.count)
        var index = body.startIndex
        while index < body.endIndex {
            let byte = body[index]
            if byte == UInt8(ascii: "=") {
                let next = body.index(after: index)
                if next < body.endIndex && (body[next] == 0x0A || body[next] == 0x0D) {
                    // A soft line break.
                    index = next
                    if body[index] == 0x0D { index += 1 }
                    if index < body.endIndex && body[index] == 0x0A { index += 1 }
                    continue
                }
                if next + 1 < body.endIndex, let high = Crypto.hexValue(body[next]), let low = Crypto.hexValue(body[next + 1]) {
                    out.append(high << 4 | low)
                    index = next + 2
                    continue
                }
            }
            out.append(byte)
            index += 1
        }
        return out
    }
}
