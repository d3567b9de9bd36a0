/// One address to compare many against, without regard to case, lower-cased once: the author an
/// event's readers are checked against. Most addresses differ in length or in a byte that is no
/// letter, so they are told apart on their bytes without making a string; only addresses with
/// letters beyond ASCII are lower-cased (as Unicode lower-cases them) to compare.
///
///     let author = AddressMatch("Ann@Example.com")
///     author.matches("ann@example.COM")   // true
struct AddressMatch {
    private let lowered: String
    private let asciiOnly: Bool

    init(_ address: String) {
        lowered = address.lowercased()
        asciiOnly = lowered.utf8.allSatisfy { $0 < 0x80 }
    }

    func matches(_ address: String) -> Bool {
        if asciiOnly {
            let bytes = address.utf8
            // An address with bytes beyond ASCII may still lower-case to this one (the Kelvin
            // sign lower-cases to k): those alone take the slow comparison below.
            if bytes.count == lowered.utf8.count {
                var same = true
                for (byte, target) in zip(bytes, lowered.utf8) {
                    if byte >= 0x80 { same = false; break }
                    let folded = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
                    if folded != target { same = false; break }
                }
                if same { return true }
            }
            guard bytes.contains(where: { $0 >= 0x80 }) else { return false }
        }
        return address.lowercased() == lowered
    }
}
