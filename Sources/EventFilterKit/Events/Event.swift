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
