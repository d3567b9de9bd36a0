/// One element of an INI array as read: appended (`Key[]=v`) or set by name (`Key[name]=v`),
/// with the file and line it came from.
struct INIListEntry: Sendable {
    /// `nil` for an appended element, the name for a hash entry.
    let name: String?
    var value: String
    var origin: SettingOrigin
}
