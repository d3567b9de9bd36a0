/// The kernel's own event types, with eZ Publish's names, and the rule every type follows.
///
///     try EventType.validate("kaltura.entry_add")   // fine
///     try EventType.validate("a b")                 // invalid event type 'a b': use letters, digits, '.', '_' and '-'
public enum EventType {
    public static let publish = "ezpublish"
    public static let collaboration = "ezcollaboration"
    public static let currentTime = "ezcurrenttime"
    /// A node was deleted (`node_id`): waiting digests leave out what happened to it or below it.
    public static let delete = "ezdelete"

    /// Event types are words, dots, dashes and underscores: they become template and path names.
    public static func validate(_ type: String) throws {
        guard Names.isName(type) else {
            // Up to twice the longest valid type in full; a 100 KB one is not repeated in full.
            let scalars = type.unicodeScalars
            let shown = scalars.count > 200 ? String(String.UnicodeScalarView(scalars.prefix(200))) + "..." : type
            throw EventFilterError.usage("invalid event type '\(shown)': use letters, digits, '.', '_' and '-'")
        }
    }
}
