import Foundation
import XCTest
@testable import EventFilterKit

/// Bounces as a remote server would send them, addressed to a message's VERP envelope sender
/// (the installation's secret read from the store, the bounce address `bounces@example.org`).
///
///     let address = try root.verpAddress(id: 1)
///     let result = try root.bounceByVERP(id: 1, now: "2026-05-04T10:30:00Z")
extension TestRoot {
    /// The VERP envelope sender of message `id`, as delivery made it.
    func verpAddress(id: Int64) throws -> String {
        let secret = try XCTUnwrap(Crypto.hexDecode(try text("SELECT \(hexSQL("value")) FROM installation_secret WHERE name = 'verp'")))
        return VERPAddress(bounceAddress: "bounces@example.org", secret: secret).envelopeSender(for: id)
    }

    /// `eventfilter bounce` given a qmail failure notice of message `id`, sent to its VERP address.
    func bounceByVERP(id: Int64, now: String) throws -> TestRoot.Result {
        let address = try verpAddress(id: id)
        return try run(["bounce", address], now: now, stdin: BounceSamples.fill(BounceSamples.qmailFailureNotice, to: address))
    }
}
