/// Pieces every source needs: body decoding, path building, dedupe keys.
enum WebhookParsing {
    /// The body as form fields. A repeated name is refused unless it uses PHP's array syntax
    /// (`encoding_ids[0]=a&encoding_ids[1]=b` or `ids[]=a&ids[]=b`), which becomes a list.
    static func formFields(_ body: [UInt8], allowArrays: Bool) throws -> [String: JSONValue] {
        let pairs: [(name: String, value: String)]
        do {
            pairs = try FormDecoder.decode(body)
        } catch {
            throw WebhookRejection.malformed("\(error)")
        }
        var fields: [String: JSONValue] = [:]
        var lists: [String: [(index: Int?, value: String)]] = [:]
        for pair in pairs {
            if allowArrays, let (base, index) = arrayName(pair.name) {
                guard fields[base] == nil else { throw duplicate(base) }
                lists[base, default: []].append((index, pair.value))
                continue
            }
            guard fields[pair.name] == nil, lists[pair.name] == nil else { throw duplicate(pair.name) }
            fields[pair.name] = .string(pair.value)
        }
        for (base, entries) in lists {
            // Explicit indexes give the order; `[]` entries keep the order they arrived in.
            let ordered = entries.enumerated().sorted { lhs, rhs in
                (lhs.element.index ?? lhs.offset, lhs.offset) < (rhs.element.index ?? rhs.offset, rhs.offset)
            }
            fields[base] = .array(ordered.map { .string($0.element.value) })
        }
        return fields
    }

    private static func duplicate(_ name: String) -> WebhookRejection {
        .malformed("form field \(IngestText.quoted(name)) appears more than once")
    }

    /// `name[3]` → ("name", 3); `name[]` → ("name", nil); anything else → nil.
    private static func arrayName(_ name: String) -> (String, Int?)? {
        guard name.hasSuffix("]"), let open = name.firstIndex(of: "["), open != name.startIndex else { return nil }
        let inner = name[name.index(after: open)..<name.index(before: name.endIndex)]
        if inner.isEmpty { return (String(name[..<open]), nil) }
        guard let index = Int(inner), index >= 0 else { return nil }
        return (String(name[..<open]), index)
    }

    /// The body as a JSON object.
    static func jsonObject(_ body: [UInt8], what: String = "body") throws -> [String: JSONValue] {
        let value: JSONValue
        do {
            value = try JSONValue.parse(body)
        } catch {
            throw WebhookRejection.malformed("\(what) is not valid JSON")
        }
        guard let object = value.objectValue else { throw WebhookRejection.malformed("\(what) is not a JSON object") }
        return object
    }

    /// True when the body, after leading whitespace, opens a JSON object.
    static func looksLikeJSONObject(_ body: [UInt8]) -> Bool {
        body.first { ![UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n")].contains($0) }
            == UInt8(ascii: "{")
    }

    /// The source prefix followed by one segment per level of the sender's hierarchy, each ending in `/`.
    /// A segment must be usable as a node id: no `/`, no control characters, at most 200 bytes.
    static func path(_ source: WebhookSource, _ segments: [(field: String, value: String)]) throws -> String {
        var path = source.normalizedPrefix
        for segment in segments {
            guard isPathSegment(segment.value) else {
                throw WebhookRejection.malformed(
                    "\(segment.field) \(IngestText.quoted(segment.value)) cannot be part of a path")
            }
            path += segment.value + "/"
        }
        return path
    }

    static func isPathSegment(_ value: String) -> Bool {
        !value.isEmpty && value.utf8.count <= 200 && value != "." && value != ".."
            && !value.unicodeScalars.contains { $0 == "/" || $0.properties.generalCategory == .control }
    }

    /// The dedupe key for senders without a message id: a hash of the exact body, per source.
    static func bodyHashKey(_ source: WebhookSource, _ body: [UInt8]) -> String {
        "\(source.type.rawValue):\(source.name):sha256:\(Crypto.hexEncode(Crypto.hash(.sha256, body)))"
    }

    /// A JSON scalar as text, or nil for null, empty, arrays and objects.
    static func text(_ value: JSONValue?) -> String? {
        guard let text = value?.stringValue, !text.isEmpty else { return nil }
        return text
    }

    /// A unix time given as a JSON number or a string of digits.
    static func unixTime(_ value: JSONValue?) -> Int64? {
        switch value {
        case .number(let number)?:
            guard number.rounded() == number, abs(number) < 1e15 else { return nil }
            return Int64(number)
        case .string(let string)?:
            guard !string.isEmpty, string.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), string.utf8.count <= 15 else { return nil }
            return Int64(string)
        default:
            return nil
        }
    }
}
