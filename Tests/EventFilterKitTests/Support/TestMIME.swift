import Foundation

/// A small, independent MIME reader for tests: unfolds headers, splits multipart bodies,
/// decodes quoted-printable and base64 and RFC 2047 words. It shares no code with the
/// composer, so a composer bug cannot hide behind the same bug here.
enum TestMIME {
    struct Decoded {
        var headers: [(name: String, value: String)]
        var text: String
        var html: String?
    }

    struct Failure: Error, CustomStringConvertible { let description: String }

    static func decode(_ bytes: [UInt8]) throws -> Decoded {
        let message = String(decoding: bytes, as: UTF8.self)
        let (headers, body) = try splitHeaders(message)
        let contentType = headers.first { $0.name.lowercased() == "content-type" }?.value ?? "text/plain"
        var text = ""
        var html: String?
        if contentType.lowercased().hasPrefix("multipart/") {
            guard let boundary = parameter("boundary", of: contentType) else { throw Failure(description: "multipart without boundary") }
            for part in try parts(body, boundary: boundary) {
                let (partHeaders, partBody) = try splitHeaders(part)
                let type = partHeaders.first { $0.name.lowercased() == "content-type" }?.value.lowercased() ?? "text/plain"
                let decoded = decodeBody(partBody, encoding: partHeaders.first { $0.name.lowercased() == "content-transfer-encoding" }?.value)
                if type.hasPrefix("text/plain") { text = decoded } else if type.hasPrefix("text/html") { html = decoded }
            }
        } else {
            text = decodeBody(body, encoding: headers.first { $0.name.lowercased() == "content-transfer-encoding" }?.value)
        }
        return Decoded(headers: headers, text: text, html: html)
    }

    static func splitHeaders(_ message: String) throws -> ([(name: String, value: String)], String) {
        guard let separator = message.range(of: "\r\n\r\n") else { throw Failure(description: "no blank line after the headers") }
        let head = String(message[..<separator.lowerBound])
        let body = String(message[separator.upperBound...])
        var headers: [(name: String, value: String)] = []
        for line in head.components(separatedBy: "\r\n") {
            if line.hasPrefix(" ") || line.hasPrefix("\t") {
                guard !headers.isEmpty else { throw Failure(description: "continuation line before any header") }
                headers[headers.count - 1].value += line
            } else {
                guard let colon = line.firstIndex(of: ":") else { throw Failure(description: "header line without a colon: \(line)") }
                headers.append((String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)))
            }
        }
        return (headers, body)
    }

    static func parameter(_ name: String, of value: String) -> String? {
        for piece in value.split(separator: ";").dropFirst() {
            let pair = piece.trimmingCharacters(in: .whitespaces)
            if pair.lowercased().hasPrefix(name + "=") {
                return String(pair.dropFirst(name.count + 1)).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }
        return nil
    }

    static func parts(_ body: String, boundary: String) throws -> [String] {
        let delimiter = "--" + boundary
        var pieces = body.components(separatedBy: "\r\n" + delimiter)
        // The first delimiter may open the body without a preceding CRLF.
        if pieces.first?.hasPrefix(delimiter) == true { pieces[0] = String(pieces[0].dropFirst(delimiter.count)) } else { pieces.removeFirst() }
        guard pieces.last?.hasPrefix("--") == true else { throw Failure(description: "multipart without a closing delimiter") }
        pieces.removeLast()
        // "\r\n" is one Character in Swift, so drop one.
        return pieces.map { piece in piece.hasPrefix("\r\n") ? String(piece.dropFirst()) : piece }
    }

    static func decodeBody(_ body: String, encoding: String?) -> String {
        switch encoding?.lowercased() {
        case "quoted-printable": return decodeQuotedPrintable(body)
        case "base64":
            let data = Data(base64Encoded: body.replacingOccurrences(of: "\r\n", with: "")) ?? Data()
            return String(decoding: data, as: UTF8.self)
        default: return body
        }
    }

    static func decodeQuotedPrintable(_ text: String) -> String {
        var bytes: [UInt8] = []
        let input = Array(text.utf8)
        var index = 0
        while index < input.count {
            let byte = input[index]
            if byte == UInt8(ascii: "=") {
                if index + 2 < input.count, input[index + 1] == 13, input[index + 2] == 10 { index += 3; continue }  // soft break
                if index + 2 < input.count, let value = UInt8(String(decoding: input[(index + 1)...(index + 2)], as: UTF8.self), radix: 16) {
                    bytes.append(value)
                    index += 3
                    continue
                }
            }
            bytes.append(byte)
            index += 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Decodes RFC 2047 encoded-words (B and Q); whitespace between adjacent words is dropped.
    static func decodeEncodedWords(_ value: String) -> String {
        let pattern = try! NSRegularExpression(pattern: #"=\?([^?]+)\?([BbQq])\?([^?]*)\?="#)
        let ns = value as NSString
        var result = ""
        var last = 0
        var previousWasWord = false
        for match in pattern.matches(in: value, range: NSRange(location: 0, length: ns.length)) {
            let between = ns.substring(with: NSRange(location: last, length: match.range.location - last))
            if !(previousWasWord && between.trimmingCharacters(in: .whitespaces).isEmpty) { result += between }
            let encoding = ns.substring(with: match.range(at: 2)).uppercased()
            let payload = ns.substring(with: match.range(at: 3))
            if encoding == "B" {
                result += String(decoding: Data(base64Encoded: payload) ?? Data(), as: UTF8.self)
            } else {
                result += decodeQuotedPrintable(payload.replacingOccurrences(of: "_", with: " "))
            }
            last = match.range.location + match.range.length
            previousWasWord = true
        }
        result += ns.substring(from: last)
        return result
    }
}
