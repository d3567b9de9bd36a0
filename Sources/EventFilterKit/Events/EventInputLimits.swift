/// Bounds on an event an operator or a script hands in (`event add`, `event import`), checked
/// before anything is stored: a value that large is a mistake (a file pasted into an argument),
/// and it would end up in every subject line and digest.
///
///     try EventInputLimits.check(params: ["name": "Spring release"], key: "release-2026")
public enum EventInputLimits {
    /// The longest text value, in UTF-8 bytes.
    public static let maximumTextBytes = 10_000
    /// The longest params object, serialized.
    public static let maximumParamsBytes = 65_536
    /// The longest param name and dedupe key.
    public static let maximumNameBytes = 200

    public static func check(params: JSONValue, key: String?) throws {
        try check(params: params, serialized: params.serialized, key: key)
    }

    /// The same, for a caller that has `params.serialized` already (it stores that text).
    public static func check(params: JSONValue, serialized: String, key: String?) throws {
        if let key, key.utf8.count > maximumNameBytes {
            throw EventFilterError.usage("key is \(key.utf8.count) bytes, longer than \(maximumNameBytes)")
        }
        try check(params, path: "params")
        let size = serialized.utf8.count
        guard size <= maximumParamsBytes else {
            throw EventFilterError.usage("params are \(size) bytes, longer than \(maximumParamsBytes)")
        }
    }

    private static func check(_ value: JSONValue, path: String) throws {
        switch value {
        case .string(let text) where text.utf8.count > maximumTextBytes:
            throw EventFilterError.usage("\(path) is \(text.utf8.count) bytes, longer than \(maximumTextBytes)")
        case .array(let items):
            for (index, item) in items.enumerated() { try check(item, path: "\(path)[\(index)]") }
        case .object(let members):
            for (name, member) in members {
                guard name.utf8.count <= maximumNameBytes else {
                    throw EventFilterError.usage("\(path) has a name of \(name.utf8.count) bytes, longer than \(maximumNameBytes)")
                }
                try check(member, path: path == "params" ? name : "\(path).\(name)")
            }
        default:
            break
        }
    }
}
