import XCTest
@testable import EventFilterKit

/// The fast parser for plain JSON gives what Foundation gives, or leaves the text to Foundation.
final class PlainJSONParserTests: XCTestCase {
    private func plain(_ text: String) -> JSONValue? { PlainJSONParser.parse(Array(text.utf8)) }

    func testTypicalWebhookBodiesTakeTheFastPathWithFoundationsResult() throws {
        let bodies = [
            #"{"type":"invoice.paid","data":{"invoice":"in_7","name":"Invoice 7"}}"#,
            #" { "type" : "video.ready" , "data" : { "id" : 12 , "tags" : [ "a" , "b" ] , "ok" : true , "gone" : null } } "#,
            "{\n\t\"n\": -42,\r\n\"zero\": 0, \"big\": 999999999999999, \"e\": [], \"o\": {}\n}",
            #"[1,"two",false]"#, #""just a string""#, "17", "null",
        ]
        for body in bodies {
            let fast = try XCTUnwrap(plain(body), body)
            XCTAssertEqual(fast, try JSONValue.parseWithFoundation(Array(body.utf8)), body)
        }
        XCTAssertEqual(plain(#"{"n":3}"#)?["n"], .number(3))
    }

    /// Escapes, non-ASCII text, fractions, exponents, long numbers, repeated keys and every
    /// syntax error go to Foundation, which alone decides what they mean or why they are refused.
    func testAnythingBeyondThePlainSubsetIsLeftToFoundation() {
        let others = [
            #"{"name":"caf\u00e9"}"#, #"{"q":"a\"b"}"#, "{\"name\":\"café\"}", #"{"x":1.5}"#, #"{"x":1e3}"#,
            #"{"x":1234567890123456}"#, #"{"x":-0}"#, #"{"x":01}"#, #"{"a":1,"a":2}"#, #"{"a":1,}"#, #"[1,]"#,
            #"{"a" 1}"#, "{", "", "   ", "tru", "nul", #"{"a":1} x"#, "\u{FEFF}{}", "{\"tab\":\"a\tb\"}",
            String(repeating: "[", count: 65) + String(repeating: "]", count: 65),
        ]
        for text in others {
            XCTAssertNil(plain(text), text)
            // Foundation's verdict, whatever it is (it takes a trailing comma, for one), is the answer.
            XCTAssertEqual(try? JSONValue.parse(text), try? JSONValue.parseWithFoundation(Array(text.utf8)), text)
        }
        XCTAssertThrowsError(try JSONValue.parse(#"{"a" 1}"#))
        XCTAssertEqual(try JSONValue.parse(#"{"name":"caf\u00e9"}"#)["name"], .string("café"))
    }

    /// Random plain documents, and random damage to them: whenever the fast parser answers, its
    /// answer is Foundation's.
    func testRandomAndMutatedDocumentsAgreeWithFoundation() throws {
        var generator = SeededGenerator(state: 20261129)
        var fastAnswers = 0
        for _ in 0..<3000 {
            var text = Array(document(depth: 0, &generator).utf8)
            if Bool.random(using: &generator), !text.isEmpty {
                for _ in 0..<Int.random(in: 1...3, using: &generator) {
                    let at = Int.random(in: 0..<text.count, using: &generator)
                    text[at] = [UInt8(ascii: "\""), UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "1"), UInt8(ascii: "."),
                                UInt8(ascii: "\\"), 0xC3, UInt8(ascii: " "), UInt8(ascii: "e")].randomElement(using: &generator)!
                }
            }
            guard let fast = PlainJSONParser.parse(text) else { continue }
            fastAnswers += 1
            XCTAssertEqual(fast, try JSONValue.parseWithFoundation(text), String(decoding: text, as: UTF8.self))
        }
        XCTAssertGreaterThan(fastAnswers, 1500, "most plain documents take the fast path")
    }

    private func document(depth: Int, _ generator: inout SeededGenerator) -> String {
        let space = [" ", "", "", "\n", "\t"].randomElement(using: &generator)!
        switch Int.random(in: depth > 3 ? 2...6 : 0...6, using: &generator) {
        case 0:
            var seen = Set<String>()
            let members = (0..<Int.random(in: 0...4, using: &generator)).compactMap { _ -> String? in
                let key = word(&generator)
                guard seen.insert(key).inserted else { return nil }
                return "\"\(key)\"\(space):\(space)\(document(depth: depth + 1, &generator))"
            }
            return "{\(space)" + members.joined(separator: ",\(space)") + "\(space)}"
        case 1:
            let elements = (0..<Int.random(in: 0...4, using: &generator)).map { _ in document(depth: depth + 1, &generator) }
            return "[" + elements.joined(separator: "\(space),") + "]"
        case 2: return "\"\(word(&generator))\""
        case 3: return String(Int64.random(in: -999_999_999_999_999...999_999_999_999_999, using: &generator) >> Int64.random(in: 0...50, using: &generator))
        case 4: return ["true", "false"].randomElement(using: &generator)!
        case 5: return "null"
        default: return "\"\(word(&generator)) \(word(&generator))\""
        }
    }

    private func word(_ generator: inout SeededGenerator) -> String {
        let letters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:@#$%&*()+=<>?!~`'[]{}^|;")
        return String((0..<Int.random(in: 0...12, using: &generator)).map { _ in letters.randomElement(using: &generator)! })
    }

    /// SplitMix64, from a fixed seed so a failure repeats.
    private struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}
