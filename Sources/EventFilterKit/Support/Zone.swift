import Foundation

/// IANA time zones and the mapping between instants and local wall times.
///
///     let oslo = try Zone.named("Europe/Oslo")
///     Zone.instant(of: LocalDateTime(year: 2026, month: 3, day: 29, hour: 2, minute: 30), in: oslo)
///     // 02:30 does not exist that night (02:00 -> 03:00): 03:30 CEST = 2026-03-29T01:30:00Z
public enum Zone {
    /// An IANA zone such as `Europe/Oslo`, `America/Argentina/Buenos_Aires` or `UTC`.
    /// Abbreviations (`PST`, `CET`, `EST`) and raw offsets (`GMT+2`) are refused: they either name no
    /// daylight-saving rules at all or name them ambiguously, and a user would get digests an hour off.
    public static func named(_ identifier: String) throws -> TimeZone {
        let isRegionName = identifier.contains("/") && !identifier.hasPrefix("/") && !identifier.hasSuffix("/")
        guard isRegionName || identifier == "UTC" || identifier == "GMT",
              let zone = TimeZone(identifier: identifier)
        else {
            throw TimeError("unknown time zone \(TimeError.quote(identifier)) (expected an IANA name like Europe/Oslo or UTC)")
        }
        return zone
    }

    /// The instant at which clocks in `zone` show `local`.
    ///
    /// A wall time skipped by a spring-forward gap is moved forward by the length of the gap (02:30 in a
    /// 02:00 -> 03:00 gap gives 03:30 local), so a digest due then goes out as soon as that day allows.
    /// A wall time that occurs twice in a fall-back overlap gives the first (earlier) instant, so it is
    /// sent once, not twice.
    public static func instant(of local: LocalDateTime, in zone: TimeZone) -> Int64 {
        let wall = local.wallSeconds
        // Any offset change near `wall` is bracketed by the offsets a day either side of it
        // (offsets are within ±1 day, and zones do not change offset twice within two days).
        let before = offset(at: wall - 86400, in: zone)
        let after = offset(at: wall + 86400, in: zone)
        var earliest: Int64?
        for candidate in before == after ? [before] : [before, after] {
            let instant = wall - candidate
            if offset(at: instant, in: zone) == candidate {
                earliest = min(earliest ?? instant, instant)
            }
        }
        // No offset maps back onto `wall`: it lies in a gap. Reading it with the offset from before the
        // gap lands the same distance past the gap's end.
        return earliest ?? wall - before
    }

    /// The wall time in `zone` at `instant`.
    public static func local(_ instant: Int64, in zone: TimeZone) -> LocalDateTime {
        LocalDateTime(wallSeconds: instant + offset(at: instant, in: zone))
    }

    static func offset(at instant: Int64, in zone: TimeZone) -> Int64 {
        Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant))))
    }
}
