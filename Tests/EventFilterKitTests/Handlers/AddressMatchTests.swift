import XCTest
@testable import EventFilterKit

/// The author is left out of an event's readers whatever the case of either address.
final class AddressMatchTests: XCTestCase {
    func testAddressesMatchWithoutRegardToCaseAndOnlyWhenTheyAreTheSameAddress() {
        let author = AddressMatch("Carol@Example.com")
        XCTAssertTrue(author.matches("carol@example.com"))
        XCTAssertTrue(author.matches("CAROL@EXAMPLE.COM"))
        XCTAssertFalse(author.matches("carol@example.co"))
        XCTAssertFalse(author.matches("carol@example.comm"))
        XCTAssertFalse(author.matches("karol@example.com"))
        XCTAssertFalse(author.matches("carol@example.com "))
        XCTAssertFalse(author.matches("carol[example.com"), "only letters fold: @ is not [ lower-cased")
        XCTAssertTrue(AddressMatch("kari@example.com").matches("\u{212A}ari@example.com"), "the Kelvin sign lower-cases to k")
    }

    func testAddressesBeyondASCIIAreComparedLowerCased() {
        let author = AddressMatch("Øyvind@Example.no")
        XCTAssertTrue(author.matches("øyvind@example.no"))
        XCTAssertTrue(author.matches("ØYVIND@EXAMPLE.NO"))
        XCTAssertFalse(author.matches("oyvind@example.no"))
    }
}
