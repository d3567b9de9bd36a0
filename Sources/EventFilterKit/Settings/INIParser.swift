import Foundation

/// Parses eZ Publish INI text, line by line, into an `INIDocument`.
///
/// The grammar is eZ's (`eZINI::parseFile`), with one deliberate difference: a line eZ would
/// silently ignore (`Key = value`, an indented key, `[Unclosed`) is an error here, because an
/// ignored setting is a setting that silently does not apply.
enum INIParser {
    /// Parses the raw bytes of `file` (a path relative to the root, for messages) into `document`.
    static func parse(_ data: Data, file: String, into document: inout INIDocument) throws {
        var lines = splitLines(data)
        try decodeToUTF8(&lines, file: file)
        var block = ""  // eZ starts every file in block ""
        var openedWrapper = false
        for (index, bytes) in lines.enumerated() {
            let lineNumber = index + 1
            let origin = SettingOrigin(file: file, line: lineNumber)
            var line = bytes[...]
            if line.isEmpty || line.first == UInt8(ascii: "#") { continue }
            if lineNumber == 1, isPHPOpener(line) {
                openedWrapper = true
                continue
            }
            if let commentStart = lastDoubleHash(in: line) {
                line = line[line.startIndex..<commentStart]
            }
            if line.allSatisfy(isPHPWhitespace) { continue }
            if openedWrapper, isPHPCloser(line) { continue }
            switch try classify(line, origin: origin) {
            case .block(let name):
                block = name
                document.openBlock(name)
            case .clear(let key):
                document.clearArray(block, key, at: origin)
            case .append(let key, let value):
                document.append(block, key, value, at: origin)
            case .entry(let key, let name, let value):
                document.setEntry(block, key, name: name, value, at: origin)
            case .scalar(let key, let value):
                document.setScalar(block, key, value, at: origin)
            }
        }
    }

    private enum Line {
        case block(String)
        case clear(key: String)
        case append(key: String, value: String)
        case entry(key: String, name: String, value: String)
        case scalar(key: String, value: String)
    }

    private static func classify(_ line: ArraySlice<UInt8>, origin: SettingOrigin) throws -> Line {
        func malformed(_ reason: String) -> SettingsError {
            SettingsError(at: origin, "malformed line \(quote(line)): \(reason)")
        }
        func text(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }

        if line.first == UInt8(ascii: "[") {
            // eZ: #^\[(.+)\]\s*$#, then trim.
            let body = line.dropFirst()
            let trimmedEnd = body.lastIndex(where: { !isPHPWhitespace($0) })
            guard let close = trimmedEnd, body[close] == UInt8(ascii: "]") else {
                throw malformed("a block header needs a closing ']'")
            }
            // Trimmed as bytes: PHP's whitespace is ASCII, and no byte of a multi-byte UTF-8
            // character is ASCII (Foundation's trimming went through NSString, at every start).
            let inner = body[body.startIndex..<close]
            let first = inner.firstIndex(where: { !isPHPWhitespace($0) }) ?? inner.endIndex
            let last = inner.lastIndex(where: { !isPHPWhitespace($0) }).map { $0 + 1 } ?? first
            let name = text(inner[first..<max(first, last)])
            guard !name.isEmpty else { throw malformed("the block name is empty") }
            return .block(name)
        }

        if isPHPOpener(line) {
            throw malformed("the <?php /* opening belongs on the first line of the file")
        }
        if isPHPCloser(line) {
            throw malformed("*/ ?> closes a <?php /* opening on line 1, which is missing")
        }
        let keyEnd = line.firstIndex(where: { !isKeyByte($0) }) ?? line.endIndex
        guard keyEnd > line.startIndex else {
            if let first = line.first, isPHPWhitespace(first) {
                throw malformed("settings must start in column 0, without indentation")
            }
            throw malformed("expected [Block], Key=value, Key[]=value, Key[name]=value or Key[]")
        }
        let key = text(line[line.startIndex..<keyEnd])
        var rest = line[keyEnd...]
        guard let next = rest.first else {
            throw malformed("'\(key)' has no '=' (write \(key)= for an empty value, \(key)[] for an empty array)")
        }
        switch next {
        case UInt8(ascii: "="):
            return .scalar(key: key, value: text(rest.dropFirst()))
        case UInt8(ascii: "["):
            rest = rest.dropFirst()
            guard let close = rest.firstIndex(of: UInt8(ascii: "]")) else {
                throw malformed("'\(key)[' needs a closing ']'")
            }
            let name = text(rest[rest.startIndex..<close])
            let afterName = rest[(close + 1)...]
            if afterName.isEmpty {
                guard name.isEmpty else { throw malformed("'\(key)[\(name)]' has no '='") }
                return .clear(key: key)
            }
            guard afterName.first == UInt8(ascii: "=") else {
                if afterName.allSatisfy(isPHPWhitespace) {
                    throw malformed("trailing whitespace after '\(key)[\(name)]' (eZ would ignore this line)")
                }
                if afterName.first.map(isPHPWhitespace) == true {
                    throw malformed("no spaces are allowed around '='")
                }
                throw malformed("expected '=' after '\(key)[\(name)]'")
            }
            let value = text(afterName.dropFirst())
            return name.isEmpty ? .append(key: key, value: value) : .entry(key: key, name: name, value: value)
        default:
            if isPHPWhitespace(next) {
                let afterSpace = rest.drop(while: isPHPWhitespace)
                if afterSpace.first == UInt8(ascii: "=") {
                    throw malformed("no spaces are allowed around '='")
                }
                if afterSpace.first == UInt8(ascii: "[") {
                    throw malformed("no space is allowed before '['")
                }
                throw malformed("a key cannot contain spaces")
            }
            throw malformed("a key may only contain A-Z a-z 0-9 _ * @ -")
        }
    }

    /// Quotes a line for an error message without its value: the value after `=` may be a
    /// secret (`Secret=whsec_...`), and messages end up in logs and cron mail.
    private static func quote(_ line: ArraySlice<UInt8>) -> String {
        var shown = line
        var elided = false
        if let equals = line.firstIndex(of: UInt8(ascii: "=")), equals + 1 < line.endIndex {
            shown = line[line.startIndex...equals]
            elided = true
        }
        var text = String(decoding: shown, as: UTF8.self)
        if text.count > 60 {
            text = String(text.prefix(60))
            elided = true
        }
        let visible = text.unicodeScalars.map { scalar -> String in
            switch scalar {
            case "\t": return "\\t"
            case "\"": return "\\\""
            default:
                return scalar.properties.generalCategory == .control ? "?" : String(scalar)
            }
        }.joined()
        return "\"" + visible + (elided ? "…" : "") + "\""
    }

    // MARK: Lines and encodings

    /// Splits on LF after dropping every CR, as eZ does with `str_replace("\r", "", ...)`.
    /// A UTF-8 byte-order mark is dropped too.
    private static func splitLines(_ data: Data) -> [[UInt8]] {
        var bytes = [UInt8](data)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        bytes.removeAll { $0 == UInt8(ascii: "\r") }
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Array.init)
        if lines.last?.isEmpty == true { lines.removeLast() }  // the final newline ends a line, it does not start one
        return lines
    }

    private enum Charset { case utf8, latin1, windows1252 }

    /// Turns every line into UTF-8 according to the first line's `#?ini charset="..."?`
    /// (default UTF-8), checking that it is valid; a bad byte is reported with its line.
    private static func decodeToUTF8(_ lines: inout [[UInt8]], file: String) throws {
        let charset = try declaredCharset(lines.first ?? [], file: file)
        for index in lines.indices {
            switch charset {
            case .utf8:
                guard String(validating: lines[index], as: UTF8.self) != nil else {
                    throw SettingsError(file: file, line: index + 1, message: "not valid UTF-8 (declare another charset with #?ini charset=\"...\"? on line 1)")
                }
            case .latin1:
                lines[index] = Array(String(String.UnicodeScalarView(lines[index].map { Unicode.Scalar($0) })).utf8)
            case .windows1252:
                guard let text = String(bytes: lines[index], encoding: .windowsCP1252) else {
                    throw SettingsError(file: file, line: index + 1, message: "not valid windows-1252 text")
                }
                lines[index] = Array(text.utf8)
            }
        }
    }

    /// eZ's `/#\?ini(.+)\?/` on the first line, then `charset="..."`.
    private static func declaredCharset(_ firstLine: [UInt8], file: String) throws -> Charset {
        let line = String(decoding: firstLine, as: UTF8.self)
        guard let marker = line.range(of: "#?ini"),
              let charsetKey = line.range(of: "charset=\"", range: marker.upperBound..<line.endIndex),
              let close = line.range(of: "\"", range: charsetKey.upperBound..<line.endIndex)
        else { return .utf8 }
        let name = line[charsetKey.upperBound..<close.lowerBound].lowercased()
        switch name {
        case "utf-8", "utf8", "us-ascii", "ascii": return .utf8
        case "iso-8859-1", "latin1", "latin-1": return .latin1
        case "windows-1252", "cp1252": return .windows1252
        default:
            throw SettingsError(file: file, line: 1, message: "unsupported charset \"\(name)\" (use utf-8, iso-8859-1 or windows-1252)")
        }
    }

    // MARK: Bytes

    /// `<?php /*`, optionally followed by `#?ini charset="..."?`: the opening of an
    /// `.ini.append.php` file, which stops a web server from serving the settings as text.
    private static func isPHPOpener(_ line: ArraySlice<UInt8>) -> Bool {
        guard line.starts(with: Array("<?php".utf8)) else { return false }
        var rest = line.dropFirst(5)
        guard rest.first.map(isPHPWhitespace) == true else { return false }
        rest = rest.drop(while: isPHPWhitespace)
        guard rest.starts(with: Array("/*".utf8)) else { return false }
        rest = rest.dropFirst(2).drop(while: isPHPWhitespace)
        if rest.starts(with: Array("#?ini".utf8)) {
            guard let end = rest.lastIndex(of: UInt8(ascii: "?")), end > rest.startIndex + 4 else { return false }
            rest = rest[(end + 1)...]
        }
        return rest.allSatisfy(isPHPWhitespace)
    }

    /// `*/ ?>`, the closing of an `.ini.append.php` wrapper, with any whitespace around `?>`.
    private static func isPHPCloser(_ line: ArraySlice<UInt8>) -> Bool {
        guard line.starts(with: Array("*/".utf8)) else { return false }
        let rest = line.dropFirst(2).drop(while: isPHPWhitespace)
        guard rest.starts(with: Array("?>".utf8)) else { return false }
        return rest.dropFirst(2).allSatisfy(isPHPWhitespace)
    }

    /// eZ's `/^(.+)##.*/`: the greedy `.+` makes the comment start at the last `##`.
    private static func lastDoubleHash(in line: ArraySlice<UInt8>) -> Int? {
        var index = line.endIndex - 2
        while index > line.startIndex {
            if line[index] == UInt8(ascii: "#"), line[index + 1] == UInt8(ascii: "#") { return index }
            index -= 1
        }
        return nil
    }

    /// eZ's key characters, PCRE `[\w_*@-]` without the Unicode flag.
    private static func isKeyByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "_"), UInt8(ascii: "*"), UInt8(ascii: "@"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    /// PHP's `trim()` set: space, tab, LF, CR, NUL, vertical tab.
    private static func isPHPWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == 0x00 || byte == 0x0B
    }

}
