import EventFilterKit
import Foundation

/// The conversions declarations use, so every command checks an e-mail address, a time zone or a
/// count the same way, before anything is opened. A complaint becomes a usage error (exit 2).
///
///     static let timezone = Option("timezone", value: "IANA_ZONE", help: "...", parse: ValueParser.zone)
enum ValueParser {
    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    /// Any word, as given.
    @Sendable static func string(_ word: String) throws -> String { word }

    /// A file or directory path: not empty.
    @Sendable static func path(_ word: String) throws -> String {
        guard !word.isEmpty else { throw Invalid(description: "an empty path") }
        return word
    }

    /// ISO 8601 with an offset or `Z`, as Unix seconds.
    @Sendable static func time(_ word: String) throws -> Int64 { try Timestamp.parse(word) }

    /// `local@domain` as mail headers accept it (RFC 5322 dot-atom, at most 254 characters).
    @Sendable static func email(_ word: String) throws -> String {
        do { _ = try Mailbox(address: word) } catch { throw Invalid(description: ErrorReport.message(error)) }
        return word
    }

    /// An IANA time zone name (`Europe/Oslo`, `UTC`).
    @Sendable static func zone(_ word: String) throws -> String {
        _ = try Zone.named(word)
        return word
    }

    /// The longest display name: it goes into From/To headers, where a line holds 998 characters.
    static let maximumNameLength = 200

    /// A person's display name: one line of printable characters, at most 200 of them.
    @Sendable static func displayName(_ word: String) throws -> String {
        guard word.count <= maximumNameLength else {
            throw Invalid(description: "longer than \(maximumNameLength) characters (\(word.count))")
        }
        guard !word.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw Invalid(description: "contains a line break or control character")
        }
        return word
    }

    /// A whole number from 1 to 1,000,000: a limit or a count.
    @Sendable static func count(_ word: String) throws -> Int {
        guard let value = Int(word), (1...1_000_000).contains(value) else {
            throw Invalid(description: "expected a whole number from 1 to 1000000, got '\(word.prefix(40))'")
        }
        return value
    }

    /// A number of worker processes: 1 to 64 (each holds a connection to the store).
    @Sendable static func workers(_ word: String) throws -> Int {
        guard let value = Int(word), (1...64).contains(value) else {
            throw Invalid(description: "expected a number of workers from 1 to 64, got '\(word.prefix(40))'")
        }
        return value
    }

    /// A stored row's id: a positive whole number.
    @Sendable static func id(_ word: String) throws -> Int64 {
        guard let value = Int64(word), value > 0 else {
            throw Invalid(description: "expected a positive whole number, got '\(word.prefix(40))'")
        }
        return value
    }
}
