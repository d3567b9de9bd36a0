import EventFilterKit
import Foundation

/// One request header given on the command line: `Name: value`, a token name and a one-line value.
struct RequestHeader: Sendable {
    let name: String
    let value: String

    @Sendable static func parse(_ line: String) throws -> RequestHeader {
        guard let colon = line.firstIndex(of: ":") else {
            throw ValueParser.Invalid(description: "must look like 'Name: value', got '\(line.prefix(60))'")
        }
        let name = String(line[..<colon])
        let isToken = !name.isEmpty && name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "!#$%&'*+-.^_`|~".unicodeScalars.contains($0)
        }
        guard isToken else {
            throw ValueParser.Invalid(description: "'\(name.prefix(60))' is not an HTTP field name")
        }
        let value = String(line[line.index(after: colon)...]).trimmingCharacters(in: CharacterSet(charactersIn: " \t"))
        return RequestHeader(name: name, value: try oneLine(value))
    }

    /// A header value never holds a line break: it would start a header of its own.
    @Sendable static func oneLine(_ value: String) throws -> String {
        guard !value.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) else {
            throw ValueParser.Invalid(description: "must be one line")
        }
        return value
    }

    /// An HTTP method: upper-case letters.
    @Sendable static func method(_ word: String) throws -> String {
        guard !word.isEmpty, word.count <= 20, word.utf8.allSatisfy({ $0 >= 65 && $0 <= 90 }) else {
            throw ValueParser.Invalid(description: "must be an upper-case HTTP method such as POST, got '\(word.prefix(60))'")
        }
        return word
    }
}
