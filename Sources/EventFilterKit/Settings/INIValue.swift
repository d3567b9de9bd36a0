/// The value of one key after some files were read: a scalar, or an array whose elements were
/// appended (`Key[]=v`) or set by name (`Key[name]=v`), as in eZ's `BlockValues`.
enum INIValue: Sendable {
    case scalar(String, SettingOrigin)
    /// `lastChange` is the line that last cleared, appended to or set an element of the array.
    case list([INIListEntry], lastChange: SettingOrigin)

    var lastChange: SettingOrigin {
        switch self {
        case .scalar(_, let origin), .list(_, let origin): return origin
        }
    }
}
