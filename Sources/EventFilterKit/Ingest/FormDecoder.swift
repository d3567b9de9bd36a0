/// Decodes `application/x-www-form-urlencoded` bodies and query strings (WHATWG URL §5.1),
/// strictly: a broken percent escape, a NUL or a value that is not UTF-8 is an error, not a guess.
///
///     try FormDecoder.decode(Array("name=My+clip&tags=a%2Cb".utf8))
///     // [("name", "My clip"), ("tags", "a,b")]
///
/// Pairs keep their order and duplicates; callers decide what a repeated name means.
enum FormDecoder {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func decode(_ bytes: [UInt8]) throws -> [(name: String, value: String)] {
        var pairs: [(name: String, value: String)] = []
        for segment in bytes.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let equals = segment.firstIndex(of: UInt8(ascii: "="))
            let rawName = equals.map { segment[segment.startIndex..<$0] } ?? segment[...]
            let rawValue = equals.map { segment[segment.index(after: $0)...] } ?? []
            let name = try text(percentDecoded(rawName), what: "a field name")
            guard !name.isEmpty else { throw Failure(description: "bad form encoding: a field has no name") }
            let value = try text(percentDecoded(rawValue), what: "field \(IngestText.quoted(name))")
            pairs.append((name: name, value: value))
        }
        return pairs
    }

    private static func percentDecoded(_ bytes: ArraySlice<UInt8>) throws -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "+"):
                out.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard index + 2 < bytes.endIndex,
                    let high = Crypto.hexValue(bytes[index + 1]), let low = Crypto.hexValue(bytes[index + 2])
                else { throw Failure(description: "bad form encoding: '%' is not followed by two hex digits") }
                out.append(high << 4 | low)
                index += 2
            default:
                out.append(byte)
            }
            index += 1
        }
        return out
    }

    private static func text(_ bytes: [UInt8], what: String) throws -> String {
        // NUL has no business in a notification, and rejecting it (with non-UTF-8) also refuses
        // the padding bytes of a hash length-extension forgery against the secret-prefix schemes.
        guard !bytes.contains(0), let string = String(validating: bytes, as: UTF8.self) else {
            throw Failure(description: "bad form encoding: \(what) is not valid UTF-8 text")
        }
        return string
    }
}
