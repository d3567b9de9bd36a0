/// The envelope form of addresses (``SMTPEnvelope/wireForm(of:)``) for one connection, with
/// each domain that is not ASCII converted once: the conversion (a locale, a libcurl URL handle
/// and IDNA per call) would otherwise run again for every message to the same domain.
///
///     let forms = SMTPDomainForms()
///     forms.wireForm(of: "ann@b\u{FC}cher.example")   // "ann@xn--bcher-kva.example", converted
///     forms.wireForm(of: "bob@b\u{FC}cher.example")   // the same domain: from the cache
///
/// Not thread-safe: it belongs to one connection, used by one thread at a time.
final class SMTPDomainForms {
    /// At most this many domains are kept (then the cache starts again), so a run to many
    /// distinct domains holds bounded memory.
    static let capacity = 1024

    /// A domain's bytes to its ASCII form, or to nil when it goes as it came.
    private var known: [ArraySlice<UInt8>: [UInt8]?] = [:]

    /// Appends the envelope form of `address` to `bytes`; an address all ASCII (the usual one)
    /// goes as it is, with no array of its own made for it.
    func appendWireForm(of address: String, to bytes: inout [UInt8]) {
        if SMTPEnvelope.hasNonASCII(address) {
            bytes.append(contentsOf: wireForm(of: address))
        } else {
            bytes.append(contentsOf: address.utf8)
        }
    }

    func wireForm(of address: String) -> [UInt8] {
        SMTPEnvelope.wireForm(of: address) { domain in
            if let cached = known[domain] { return cached }
            let ascii = SMTPEnvelope.asciiForm(ofDomain: domain)
            if known.count >= Self.capacity { known.removeAll(keepingCapacity: true) }
            known[domain] = .some(ascii)
            return ascii
        }
    }
}
