/// A stored event: something happened that subscribers may hear about.
///
/// Built-in types: `ezpublish` (content published), `ezcollaboration` (an item awaits a
/// participant), `ezcurrenttime` (made by every run; triggers digests). Ingested webhooks add
/// `kaltura.*`, `panda.*`, `enablex.*` and the names of Standard Webhooks sources.
public struct Event: Sendable, Equatable {
    public let id: Int64
    public let type: String
    public let params: JSONValue
    public let createdAt: Int64
    public let notBefore: Int64?

    public init(id: Int64, type: String, params: JSONValue, createdAt: Int64, notBefore: Int64?) {
        self.id = id
        self.type = type
        self.params = params
        self.createdAt = createdAt
        self.notBefore = notBefore
    }

    public func param(_ name: String) -> String? { params[name]?.stringValue }

    /// The node ids of `path` ("/1/2/60/77/" gives ["1", "2", "60", "77"]), the node itself last.
    public var pathNodes: [String] {
        guard let path = param("path") else { return param("node_id").map { [$0] } ?? [] }
        return path.split(separator: "/").map(String.init)
    }
}

public enum EventType {
    public static let publish = "ezpublish"
    public static let collaboration = "ezcollaboration"
    public static let currentTime = "ezcurrenttime"
    /// A node was deleted (`node_id`): waiting digests leave out what happened to it or below it.
    public static let delete = "ezdelete"

    /// Event types are words, dots, dashes and underscores: they become template and path names.
    public static func validate(_ type: String) throws {
        guard Names.isName(type) else {
            throw EventFilterError.usage("invalid event type '\(type)': use letters, digits, '.', '_' and '-'")
        }
    }
}
