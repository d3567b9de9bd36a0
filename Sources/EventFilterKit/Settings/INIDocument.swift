import Foundation

/// Everything read so far for one INI name. Files are parsed into the same document in merge
/// order, exactly as eZ parses them into one `BlockValues`: that is what makes a later
/// `Key[]=v` append to an earlier file's array and a later `Key=v` replace a scalar.
struct INIDocument: Sendable {
    private(set) var blocks: [String: [String: INIValue]] = [:]
    private(set) var blockOrder: [String] = []

    mutating func openBlock(_ name: String) {
        if blocks[name] == nil {
            blocks[name] = [:]
            blockOrder.append(name)
        }
    }

    mutating func setScalar(_ block: String, _ key: String, _ value: String, at origin: SettingOrigin) {
        openBlock(block)
        blocks[block]![key] = .scalar(value, origin)
    }

    mutating func clearArray(_ block: String, _ key: String, at origin: SettingOrigin) {
        openBlock(block)
        blocks[block]![key] = .list([], lastChange: origin)
    }

    mutating func append(_ block: String, _ key: String, _ value: String, at origin: SettingOrigin) {
        openBlock(block)
        var entries = existingEntries(block, key)
        entries.append(INIListEntry(name: nil, value: value, origin: origin))
        blocks[block]![key] = .list(entries, lastChange: origin)
    }

    /// Overwriting an entry keeps its position, as a PHP array does.
    mutating func setEntry(_ block: String, _ key: String, name: String, _ value: String, at origin: SettingOrigin) {
        openBlock(block)
        var entries = existingEntries(block, key)
        if let index = entries.firstIndex(where: { $0.name == name }) {
            entries[index].value = value
            entries[index].origin = origin
        } else {
            entries.append(INIListEntry(name: name, value: value, origin: origin))
        }
        blocks[block]![key] = .list(entries, lastChange: origin)
    }

    /// An array's entries; a scalar is dropped when the key turns into an array (PHP would
    /// fail on `$string[] = ...`; starting a fresh array is the useful reading).
    private func existingEntries(_ block: String, _ key: String) -> [INIListEntry] {
        if case .list(let entries, _)? = blocks[block]?[key] { return entries }
        return []
    }
}
