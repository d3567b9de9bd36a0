/// The one definition of a name: what event types, handler names, source names, path segments
/// and thread ids are made of, because they end up in file paths, template names and headers.
///
///     Names.isName("kaltura.entry_add")                  // true
///     Names.isName("entry_add", allowingDot: false)      // true
///     Names.isName("../etc")                             // false
enum Names {
    /// ASCII letters, digits, `_` and `-`, and `.` where a name may have parts.
    static func isNameByte(_ byte: UInt8, allowingDot: Bool = true) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        case UInt8(ascii: "."):
            return allowingDot
        default:
            return false
        }
    }

    /// 1 to `maxLength` name characters.
    static func isName(_ text: String, allowingDot: Bool = true, maxLength: Int = 100) -> Bool {
        !text.isEmpty && text.utf8.count <= maxLength && text.utf8.allSatisfy { isNameByte($0, allowingDot: allowingDot) }
    }
}
