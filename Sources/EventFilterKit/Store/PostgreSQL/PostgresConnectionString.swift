import CPostgreSQL
import Foundation

/// A libpq connection string, either `key=value` pairs or a `postgresql://` URI, and its form
/// with the password hidden: what a message or a log may show of it.
///
///     let target = PostgresConnectionString("postgresql://ann:s3cret@db.example.com/eventfilter")
///     target.redacted                       // "postgresql://ann:***@db.example.com/eventfilter"
///     target.redact("… \"s3cret\" …")       // "… \"***\" …"
///
/// libpq quotes pieces of a connection string it cannot parse (a whole URI, a word without "="),
/// so every libpq message about it passes through `redact(_:)` before anyone sees it.
public struct PostgresConnectionString: Sendable {
    /// The string as given, password included: only for `PQconnectdb`.
    let raw: String
    /// The string with every password value replaced by `***`.
    public let redacted: String
    /// The password values found in the string, as written and percent-decoded.
    let secrets: [String]

    public init(_ raw: String) {
        self.raw = raw
        var redacted = raw
        var secrets: [String] = []
        for rule in Self.passwordPatterns {
            for match in rule.matches(in: redacted, range: NSRange(redacted.startIndex..., in: redacted)).reversed() {
                guard let range = Range(match.range(at: 1), in: redacted) else { continue }
                let value = String(redacted[range])
                if !value.isEmpty && value != "***" { secrets.append(value) }
                redacted.replaceSubrange(range, with: "***")
            }
        }
        secrets += Self.parsedSecrets(raw)
        // Quoted key=value passwords and URI passwords also appear unquoted or decoded in messages.
        secrets += secrets.compactMap { $0.removingPercentEncoding }
        secrets += secrets.filter { $0.hasPrefix("'") && $0.hasSuffix("'") && $0.count >= 2 }.map { String($0.dropFirst().dropLast()) }
        self.redacted = redacted
        self.secrets = Array(Set(secrets.filter { !$0.isEmpty })).sorted { $0.count > $1.count }
    }

    /// `message` with the connection string replaced by its redacted form and every password
    /// value (as a whole word) by `***`.
    public func redact(_ message: String) -> String {
        var text = message.replacingOccurrences(of: raw, with: redacted)
        for secret in secrets {
            let word = "(?<![A-Za-z0-9])" + NSRegularExpression.escapedPattern(for: secret) + "(?![A-Za-z0-9])"
            guard let expression = try? NSRegularExpression(pattern: word) else { continue }
            text = expression.stringByReplacingMatches(
                in: text, range: NSRange(text.startIndex..., in: text), withTemplate: "***")
        }
        return text
    }

    /// Where a secret sits: `password=value` or `password='quoted value'` in key=value form (and
    /// `sslpassword`, the client key's), `scheme://user:password@host` and `?password=value` in a
    /// URI. A greedy user-info match reaches the last "@" before the host, so an unencoded "@" in a
    /// password is hidden too.
    private static let passwordPatterns: [NSRegularExpression] = [
        #"(?i)(?<![A-Za-z0-9_?&])(?:ssl)?password\s*=\s*('(?:[^'\\]|\\.)*'?|\S*)"#,
        #"(?i)[?&](?:ssl)?password=([^&#]*)"#,
        #"(?i)^\s*postgres(?:ql)?://[^/?#:@]*:([^/?#]*)@"#,
    ].map { try! NSRegularExpression(pattern: $0) }

    /// The passwords libpq itself reads from the string, when the string parses (and libpq is
    /// there to parse it; without it the patterns above still find them).
    private static func parsedSecrets(_ raw: String) -> [String] {
        guard PostgresLibrary.failure == nil, let options = PQconninfoParse(raw, nil) else { return [] }
        defer { PQconninfoFree(options) }
        var secrets: [String] = []
        var option = options
        while let keyword = option.pointee.keyword {
            if ["password", "sslpassword"].contains(String(cString: keyword)), let value = option.pointee.val {
                secrets.append(String(cString: value))
            }
            option += 1
        }
        return secrets
    }
}
