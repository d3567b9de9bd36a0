import XCTest
@testable import EventFilterKit

/// The byte-level reader gives what Foundation gives, or leaves the text to Foundation (which
/// then accepts or refuses it as before, in its own words).
final class JSONReaderTests: XCTestCase {
    private func read(_ text: String) -> JSONValue? { JSONReader.read(Array(text.utf8)) }

    /// A value, or the message of the error thrown.
    private enum Verdict: Equatable {
        case value(JSONValue)
        case error(String)
    }

    /// Foundation's answer for `bytes`.
    private func foundation(_ bytes: [UInt8]) -> Verdict {
        do { return .value(try JSONValue.parseWithFoundation(bytes)) } catch { return .error("\(error)") }
    }

    /// What users get: `JSONValue.parse`.
    private func answer(_ bytes: [UInt8]) -> Verdict {
        do { return .value(try JSONValue.parse(bytes)) } catch { return .error("\(error)") }
    }

    /// RFC 8259 documents, JSONTestSuite's y_ cases among them: all read here, as Foundation reads them.
    func testEveryKindOfValidDocumentIsReadAsFoundationReadsIt() throws {
        let documents = [
            #"{"type":"invoice.paid","data":{"invoice":"in_7","name":"Invoice 7"}}"#,
            #" { "type" : "video.ready" , "data" : { "id" : 12 , "tags" : [ "a" , "b" ] , "ok" : true , "gone" : null } } "#,
            "{\n\t\"n\": -42,\r\n\"zero\": 0, \"big\": 999999999999999, \"e\": [], \"o\": {}\n}",
            #"[1,"two",false]"#, #""just a string""#, "17", "null", "true", "false", " [ ] ", "[[[[]]]]",
            // every escape, surrogate pairs, non-ASCII text as it is
            #""\"\\\/\b\f\n\r\t""#, #""\u0000\u001f\u0041\u00e9\u20AC\uFFFF""#, #""\ud83d\ude00 \uD834\uDD1E""#,
            "\"café, Ελληνικά, 日本語, 😀\"", #"{"caf\u00e9":"x","café2":"\u00e9"}"#, "\"a\u{7F}b\"", #""\u2028\u2029""#,
            #"{"":""}"#, #"{"a":"\"quoted\" and \\ back"}"#,
            // numbers as Foundation reads them: integers exact, big ones as digits, fractions and exponents
            "0", "-0", "-1", "9007199254740992", "9007199254740993", "-9007199254740993", "123456789012345678",
            "-123456789012345678", "0.5", "-0.0", "1.0", "1e2", "1e+2", "1e-2", "123.456e-7", "1e-400", "2.5e-324",
            "4.9e-324", "1.5e300", "0.1", "3.14159265358979", "10000000000000.5", "[1.5,-2.25e10,0e0,0.0e-0]",
            // a repeated name keeps its last value
            #"{"a":1,"a":2}"#, #"{"a":{"b":1},"a":[true]}"#,
            String(repeating: "[", count: 100) + String(repeating: "]", count: 100),
        ]
        for text in documents {
            let value = try XCTUnwrap(read(text), text)
            XCTAssertEqual(.value(value), foundation(Array(text.utf8)), text)
        }
        XCTAssertEqual(read(#"{"n":3}"#)?["n"], .number(3))
        XCTAssertEqual(read("9007199254740993"), .bigInteger("9007199254740993"))
        XCTAssertEqual(read(#""\ud83d\ude00""#), .string("😀"))
        XCTAssertEqual(read(#"{"a":1,"a":2}"#), .object(["a": .number(2)]))
    }

    /// Errors, and the few things where Foundation has a reading of its own (a trailing comma, a
    /// byte order mark, a decimal number of many digits, a lone surrogate), stay Foundation's:
    /// accepted or refused as before, with the same message.
    func testEverythingElseIsLeftToFoundationWithItsVerdictAndMessage() {
        let others = [
            // JSONTestSuite n_ cases
            #"{"a" 1}"#, "{", "", "   ", "tru", "nul", "nulll", #"{"a":1} x"#, "[1,]", #"{"a":1,}"#, "[,1]", "[1,,2]",
            "01", "-01", "1.", ".1", "-", "+1", "1e", "1e+", "0x10", "Infinity", "NaN", "-Infinity", "[01]", "1.e3",
            "\"\t\"", "\"a\nb\"", #""\x""#, #""\u12""#, #""\u12G4""#, #""\'""#, "\"abc", "[\"a\"", "{\"a\"}", "{1:2}",
            "{'a':1}", "[1 2]", #"{"a":1 "b":2}"#, "\u{FEFF}{}", "\u{FEFF}[1]", "[\"\u{00}\"]",
            // where Foundation's reading is its own
            #""\ud800""#, #""\udc00""#, #""\ud800\u0041""#, #""\ud800x""#, "1e400", "-1e400", "1.7976931348623159e308",
            "12345678901234567890", "-9223372036854775808", "18446744073709551616", "1111111111111111.5",
            "0.1111111111111111", "1E+2", "-19402452.574243E7", "100000000000000000000000000000.5", "0.00000000000000000000000000001", "1e00001",
            String(repeating: "[", count: 513) + String(repeating: "]", count: 513),
            String(repeating: "[", count: 600),
        ]
        for text in others {
            XCTAssertNil(read(text), text)
            XCTAssertEqual(answer(Array(text.utf8)), foundation(Array(text.utf8)), text)
        }
        // Bytes that are not UTF-8, inside a string and outside.
        for bytes: [UInt8] in [[0x22, 0xC3, 0x22], [0x22, 0xFF, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0xC3, 0xA9], [0x5B, 0x80, 0x5D]] {
            XCTAssertNil(JSONReader.read(bytes), "\(bytes)")
            XCTAssertEqual(answer(bytes), foundation(bytes), "\(bytes)")
        }
        XCTAssertEqual(answer(Array("1e400".utf8)), .error("invalid JSON: Number 1e400 is not representable."))
        XCTAssertEqual(answer(Array("[1,".utf8)), .error("invalid JSON: Unexpected end of file during JSON parse."))
    }

    /// The writer escapes what JSON needs and copies the rest: `"` and `\`, LF, CR and tab by
    /// name, other control characters as `\u00XX`, non-ASCII text and DEL as they are; keys sorted.
    func testSerializedTextEscapesOnlyWhatJSONNeedsAndSortsKeys() throws {
        let value: JSONValue = ["b": "x\"y\\z\n\r\t\u{08}\u{0C}\u{01}\u{1F}\u{7F}", "a": ["café 😀", 1, true, .null], "c": .number(-2.5),
                                "d": .bigInteger("12345678901234567890"), "e": .number(9_007_199_254_740_992), "\u{00}": .object([:])]
        XCTAssertEqual(value.serialized,
                       #"{"\u0000":{},"a":["café 😀",1,true,null],"b":"x\"y\\z\n\r\t\u0008\u000c\u0001\u001f\#u{7F}","c":-2.5,"#
                       + #""d":12345678901234567890,"e":9007199254740992}"#)
        XCTAssertEqual(try JSONValue.parse(value.serialized), value)
        XCTAssertEqual(JSONValue.number(0.1).serialized, "0.1")
        XCTAssertEqual(JSONValue.number(-0.0).serialized, "0")
        XCTAssertEqual(JSONValue.number(1e300).serialized, "1e+300")
        XCTAssertEqual(JSONValue.string("").serialized, #""""#)
    }

    /// Random documents (escapes, non-ASCII text, fractions, big integers, repeated names, deep
    /// nesting) and random damage to them: whenever the reader answers, its answer is Foundation's,
    /// what `parse` says is always Foundation's verdict, and what the writer writes reads back the same.
    /// `JSON_FUZZ_ROUNDS=100000 JSON_FUZZ_SEED=7 swift test --filter JSONReaderTests` fuzzes longer.
    func testRandomAndMutatedDocumentsAgreeWithFoundation() throws {
        var generator = SeededGenerator(state: UInt64(ProcessInfo.processInfo.environment["JSON_FUZZ_SEED"] ?? "") ?? 20261129)
        var readerAnswers = 0
        var undamaged = 0
        for _ in 0..<(Int(ProcessInfo.processInfo.environment["JSON_FUZZ_ROUNDS"] ?? "") ?? 4000) {
            var text = Array(document(depth: 0, &generator).utf8)
            let damaged = Bool.random(using: &generator) && !text.isEmpty
            if damaged {
                for _ in 0..<Int.random(in: 1...3, using: &generator) {
                    let at = Int.random(in: 0..<text.count, using: &generator)
                    text[at] = [UInt8(ascii: "\""), UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "1"), UInt8(ascii: "."),
                                UInt8(ascii: "\\"), 0xC3, 0xA9, 0xED, UInt8(ascii: " "), UInt8(ascii: "e"), UInt8(ascii: "u"),
                                UInt8(ascii: "-"), 0x00, UInt8(ascii: "]")].randomElement(using: &generator)!
                }
            } else {
                undamaged += 1
            }
            let shown = String(decoding: text, as: UTF8.self)
            if let value = JSONReader.read(text) {
                readerAnswers += 1
                XCTAssertEqual(.value(value), foundation(text), shown)
                // Written back and read again; a fraction the writer gives 16 or more digits is left
                // to Foundation, whose decimal reading of it may differ in the last place.
                let written = Array(value.serialized.utf8)
                XCTAssertEqual(JSONReader.read(written) ?? value, value, shown)
                XCTAssertNoThrow(try JSONValue.parse(written), shown)
            } else {
                XCTAssertEqual(answer(text), foundation(text), shown)
            }
        }
        XCTAssertGreaterThan(readerAnswers, undamaged * 9 / 10, "the reader reads nearly every undamaged document itself")
    }

    private func document(depth: Int, _ generator: inout SeededGenerator) -> String {
        let space = [" ", "", "", "\n", "\t", "\r\n"].randomElement(using: &generator)!
        switch Int.random(in: depth > 3 ? 2...8 : 0...8, using: &generator) {
        case 0:
            let members = (0..<Int.random(in: 0...4, using: &generator)).map { _ in
                "\(text(&generator))\(space):\(space)\(document(depth: depth + 1, &generator))"
            }
            return "{\(space)" + members.joined(separator: ",\(space)") + "\(space)}"
        case 1:
            let elements = (0..<Int.random(in: 0...4, using: &generator)).map { _ in document(depth: depth + 1, &generator) }
            return "[" + elements.joined(separator: "\(space),") + "]"
        case 2, 7: return text(&generator)
        case 3: return String(Int64.random(in: Int64.min...Int64.max, using: &generator) >> Int64.random(in: 0...63, using: &generator))
        case 4: return ["true", "false"].randomElement(using: &generator)!
        case 5: return "null"
        case 6:
            let mantissa = String(Int64.random(in: 0...999_999_999_999_999_999, using: &generator) >> Int64.random(in: 0...60, using: &generator))
            let point = Int.random(in: 0...mantissa.count, using: &generator)
            var number = (Bool.random(using: &generator) ? "-" : "") + mantissa
            if point < mantissa.count, point > 0 { number.insert(".", at: number.index(number.endIndex, offsetBy: point - mantissa.count)) }
            if Bool.random(using: &generator) { number += ["e", "E", "e+", "e-"].randomElement(using: &generator)! + String(Int.random(in: 0...330, using: &generator)) }
            return number
        default: return String(repeating: "[", count: depth) + text(&generator) + String(repeating: "]", count: depth)
        }
    }

    /// A JSON string: plain letters, escapes of every kind (surrogate pairs, now and then a lone
    /// half), raw non-ASCII text.
    private func text(_ generator: inout SeededGenerator) -> String {
        let pieces = [#"\""#, #"\\"#, #"\/"#, #"\b"#, #"\f"#, #"\n"#, #"\r"#, #"\t"#, #"\u00e9"#, #"\u0000"#, #"\u001F"#,
                      #"\uD83D\uDE00"#, #"\ud800"#, #"\uDC00"#, "é", "😀", "日本", "\u{7F}", "\u{2028}"]
        let letters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:@#$%&*()+=<>?!~`'[]{}^|; ")
        var result = "\""
        for _ in 0..<Int.random(in: 0...12, using: &generator) {
            if Int.random(in: 0..<6, using: &generator) == 0 {
                result += pieces.randomElement(using: &generator)!
            } else {
                result.append(letters.randomElement(using: &generator)!)
            }
        }
        return result + "\""
    }
}
