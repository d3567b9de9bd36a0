import Foundation
import XCTest

@testable import EventFilterKit

final class MessageComposerTests: XCTestCase {
    private let composer = MessageComposer(
        from: try! Mailbox(address: "noreply@example.com", name: "Example Site"),
        messageIDDomain: "example.com")
    private let kari = try! Mailbox(address: "kari@example.no", name: "Kari Nordmann")

    /// Text that exercises quoted-printable: non-ASCII, a long line, lines that SMTP and mbox
    /// treat specially, `=`, trailing whitespace and tabs.
    private let trickyText = """
        Blåbærsyltetøy på skiva, ærlig talt. 日本語のテキストも大丈夫です。🎉
        \(String(repeating: "A long line without breaks that must be soft-wrapped. ", count: 8))
        .
        .hidden line starting with a dot
        From here on, mbox would add a '>'
        a=b and =?UTF-8?B?not-a-word?= stay literal
        trailing spaces   \n\ttab first, tab last\t
        \(String(repeating: "ø", count: 60))
        last line without newline
        """

    // MARK: Structure

    func testPlainMessageHasTheHeadersInOrderAndCRLFOnly() throws {
        let message = try composer.compose(
            to: try Mailbox(address: "kari@example.no"), subject: "Hello", text: "Hi Kari\n", html: nil,
            date: 1_700_000_000, messageID: "<node.77.eznotification@example.com>")
        let parsed = try ParsedMessage(message.bytes)
        XCTAssertEqual(parsed.headers.map(\.name), [
            "Date", "From", "To", "Subject", "Message-ID", "MIME-Version", "Auto-Submitted", "Precedence",
            "Content-Type", "Content-Transfer-Encoding",
        ])
        XCTAssertEqual(parsed["Date"], "Tue, 14 Nov 2023 22:13:20 +0000")
        XCTAssertEqual(parsed["From"], "Example Site <noreply@example.com>")
        XCTAssertEqual(parsed["To"], "kari@example.no")
        XCTAssertEqual(parsed["Subject"], "Hello")
        XCTAssertEqual(parsed["Message-ID"], "<node.77.eznotification@example.com>")
        XCTAssertEqual(message.messageID, "<node.77.eznotification@example.com>")
        XCTAssertEqual(parsed["MIME-Version"], "1.0")
        XCTAssertEqual(parsed["Auto-Submitted"], "auto-generated")
        XCTAssertEqual(parsed["Precedence"], "bulk")
        XCTAssertEqual(parsed["Content-Type"], "text/plain; charset=utf-8")
        XCTAssertEqual(parsed["Content-Transfer-Encoding"], "quoted-printable")
        XCTAssertNil(parsed["In-Reply-To"])
        XCTAssertNil(parsed["References"])
        XCTAssertEqual(parsed.body, Array("Hi Kari\r\n".utf8))
    }

    func testDateHeaderMatchesFoundationsFormatter() throws {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        let dates: [Int64] = [
            0, 86_399, 68_169_600, 951_782_400, 951_868_799, 978_307_200, 1_709_164_800, 1_700_000_000,
            1_735_689_599, 4_102_444_799, 4_107_542_400, 253_402_300_799,
        ]
        for date in dates {
            let parsed = try ParsedMessage(
                try composer.compose(to: kari, subject: "x", text: "", html: nil, date: date).bytes)
            XCTAssertEqual(
                parsed["Date"], formatter.string(from: Date(timeIntervalSince1970: TimeInterval(date))),
                "unix time \(date)")
        }
    }

    func testMultipartAlternativeHasTextThenHTMLAndRoundTrips() throws {
        let html = "<p>Blåbær &amp; 日本語</p>\n<p>\(String(repeating: "<b>bold</b> ", count: 30))</p>\n"
        let message = try composer.compose(to: kari, subject: "Both", text: trickyText, html: html, date: 0)
        let parsed = try ParsedMessage(message.bytes)
        XCTAssertEqual(parsed.headers.last?.name, "Content-Type")
        let contentType = try XCTUnwrap(parsed["Content-Type"])
        XCTAssertTrue(contentType.hasPrefix("multipart/alternative; boundary=\""), contentType)
        let parts = try parsed.multipartParts()
        XCTAssertEqual(parts.count, 2)
        XCTAssertEqual(parts[0]["Content-Type"], "text/plain; charset=utf-8")
        XCTAssertEqual(parts[1]["Content-Type"], "text/html; charset=utf-8")
        for part in parts {
            XCTAssertEqual(part["Content-Transfer-Encoding"], "quoted-printable")
            for line in splitCRLF(part.body) {
                XCTAssertLessThanOrEqual(line.count, 76, String(decoding: line, as: UTF8.self))
            }
        }
        XCTAssertEqual(String(decoding: decodeQuotedPrintable(parts[0].body), as: UTF8.self), crlf(trickyText))
        XCTAssertEqual(String(decoding: decodeQuotedPrintable(parts[1].body), as: UTF8.self), crlf(html))
    }

    func testQuotedPrintableKeepsDotAndFromLinesAndTrailingSpaceSafe() throws {
        let message = try composer.compose(to: kari, subject: "QP", text: trickyText, html: nil, date: 0)
        let parsed = try ParsedMessage(message.bytes)
        let lines = splitCRLF(parsed.body).map { String(decoding: $0, as: UTF8.self) }
        for line in lines {
            XCTAssertFalse(line.hasPrefix("."), "a line starts with a dot: \(line)")
            XCTAssertFalse(line.hasPrefix("From "), "a line starts with From: \(line)")
            XCTAssertFalse(line.hasSuffix(" ") || line.hasSuffix("\t"), "trailing whitespace: \(line)")
            XCTAssertLessThanOrEqual(line.utf8.count, 76)
            XCTAssertTrue(line.utf8.allSatisfy { ($0 >= 32 && $0 < 127) || $0 == 9 }, "not printable ASCII: \(line)")
        }
        // The text has no final newline: the body ends with a soft break, so it decodes exactly.
        XCTAssertEqual(String(decoding: decodeQuotedPrintable(parsed.body), as: UTF8.self), crlf(trickyText))
        XCTAssertEqual(Array(message.bytes.suffix(2)), [13, 10])
    }

    func testQuotedPrintableRoundTripsLinesAroundTheLineLimit() throws {
        // Lines of every length around 76, built from the characters that need care, at every
        // position: whitespace, '=', '.', "From ", multi-byte UTF-8. A fixed-seed generator keeps
        // the test repeatable.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func nextIndex(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        let pieces = ["a", "b", " ", "\t", "=", ".", "From ", "F", "ø", "語", "🎉", "x", "y", "z", "?"]
        for length in 60...90 {
            for _ in 0..<20 {
                var line = ""
                while line.unicodeScalars.count < length { line += pieces[nextIndex(pieces.count)] }
                let text = "\(line)\n\(line)"
                let message = try composer.compose(to: kari, subject: "x", text: text, html: nil, date: 0)
                let body = try ParsedMessage(message.bytes).body
                for encoded in splitCRLF(body) {
                    XCTAssertLessThanOrEqual(encoded.count, 76)
                    XCTAssertNotEqual(encoded.last, 32)
                    XCTAssertNotEqual(encoded.last, 9)
                    XCTAssertNotEqual(encoded.first, UInt8(ascii: "."))
                }
                XCTAssertEqual(String(decoding: decodeQuotedPrintable(body), as: UTF8.self), crlf(text), text)
            }
        }
    }

    /// The encoder's fast paths (a space, `.` or `F` mid-line written without the full check)
    /// give exactly the bytes the rules give, one byte at a time: RFC 2045's (`=`, controls and
    /// non-ASCII encoded; whitespace encoded before a line end; lines of at most 76 with the soft
    /// break's `=`), plus a `.` or the `F` of `From ` at a line's start encoded.
    func testQuotedPrintableEncoderGivesExactlyTheBytesOfTheRules() {
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        func nextIndex(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        let pieces: [[UInt8]] = ["a", "b", " ", "  ", "\t", "=", ".", "From ", "From", "F", "ø", "🎉", "x", "\r\n", "\n", "\r", " \n",
                                 ".\n", "word ", "longerword "].map { Array($0.utf8) }
        for length in [0, 1, 2, 3, 10, 74, 75, 76, 77, 78, 150, 400] {
            for _ in 0..<60 {
                var input: [UInt8] = []
                while input.count < length { input += pieces[nextIndex(pieces.count)] }
                for endWithLineBreak in [false, true] {
                    var encoded: [UInt8] = Array("head:".utf8)
                    input.withUnsafeBufferPointer { MIME.appendQuotedPrintable($0, endWithLineBreak: endWithLineBreak, to: &encoded) }
                    let expected = Array("head:".utf8) + quotedPrintableByTheRules(input, endWithLineBreak: endWithLineBreak)
                    XCTAssertEqual(encoded, expected, String(decoding: input, as: UTF8.self))
                }
            }
        }
    }

    func testEveryLineEndsInCRLFAndStaysWithinLimits() throws {
        let longSubject = String(repeating: "word ", count: 400) + String(repeating: "x", count: 1500)
        let message = try composer.compose(
            to: kari, subject: longSubject, text: trickyText + "\r\nmixed\rbreaks\n", html: "<p>\(trickyText)</p>",
            date: 1_700_000_000, inReplyTo: "<node.60.eznotification@example.com>",
            references: (1...40).map { "<node.\($0).eznotification@example.com>" },
            extraHeaders: [(name: "X-Long", value: String(repeating: "token ", count: 300))])
        assertCRLFOnly(message.bytes)
        for line in splitCRLF(message.bytes) {
            XCTAssertLessThanOrEqual(line.count, 998)
        }
        let parsed = try ParsedMessage(message.bytes)
        for line in parsed.headerLines {
            XCTAssertLessThanOrEqual(line.utf8.count, 78, line)
        }
        XCTAssertEqual(try decodeHeader(XCTUnwrap(parsed["Subject"])), longSubject)
    }

    // MARK: Subjects and names

    func testNonASCIISubjectsBecomeEncodedWordsThatDecodeBack() throws {
        let subjects = [
            "Artikkel «Blåbærsyltetøy og rømmegrøt på Ærøy» ble publisert [Nordlandsposten – Økonomi og næringsliv]",
            "記事「東京都の新しい公園について」が公開されました［サイト名・お知らせ・最新情報］日本語の件名テスト",
            "Mixed ASCII then 🎉🎉🎉 emoji and ȷ́ combining marks " + String(repeating: "é", count: 80),
        ]
        for subject in subjects {
            let message = try composer.compose(to: kari, subject: subject, text: "", html: nil, date: 0)
            let parsed = try ParsedMessage(message.bytes)
            let lines = parsed.rawHeader("Subject")
            XCTAssertGreaterThan(lines.count, 1, "a long subject is folded")
            for (index, line) in lines.enumerated() {
                XCTAssertLessThanOrEqual(line.utf8.count, 76, line)
                XCTAssertTrue(index == 0 ? line.hasPrefix("Subject: =?UTF-8?B?") : line.hasPrefix(" =?UTF-8?B?"), line)
            }
            let words = try XCTUnwrap(parsed["Subject"]).split(separator: " ")
            for word in words {
                XCTAssertLessThanOrEqual(word.count, 75)
                // Each word must hold whole UTF-8 sequences: it decodes on its own.
                let payload = word.dropFirst("=?UTF-8?B?".count).dropLast(2)
                let data = try XCTUnwrap(Data(base64Encoded: String(payload)), String(word))
                XCTAssertNotNil(String(data: data, encoding: .utf8), "word splits a UTF-8 sequence: \(word)")
            }
            XCTAssertEqual(try decodeHeader(XCTUnwrap(parsed["Subject"])), subject)
        }
    }

    func testASCIISubjectsPassThroughAndFoldAtWhitespace() throws {
        let short = "Article \"Spring\" was published [Example Site]"
        var parsed = try ParsedMessage(try composer.compose(to: kari, subject: short, text: "", html: nil, date: 0).bytes)
        XCTAssertEqual(parsed.rawHeader("Subject"), ["Subject: " + short])

        let long = "Article \"A rather long title that keeps going\" was updated [Example Site - News and events in the region]"
        parsed = try ParsedMessage(try composer.compose(to: kari, subject: long, text: "", html: nil, date: 0).bytes)
        let lines = parsed.rawHeader("Subject")
        XCTAssertGreaterThan(lines.count, 1)
        for line in lines { XCTAssertLessThanOrEqual(line.count, 78, line) }
        XCTAssertEqual(parsed["Subject"], long, "unfolding gives the subject back unchanged")

        // Text that looks like an encoded-word must not be decoded by the reader: it is encoded.
        let lookalike = "Price =?UTF-8?B?Zm9v?= today"
        parsed = try ParsedMessage(try composer.compose(to: kari, subject: lookalike, text: "", html: nil, date: 0).bytes)
        XCTAssertNotEqual(parsed["Subject"], lookalike)
        XCTAssertEqual(try decodeHeader(XCTUnwrap(parsed["Subject"])), lookalike)
    }

    func testDisplayNamesAreQuotedOrEncoded() throws {
        func toHeader(_ name: String) throws -> String {
            let message = try composer.compose(
                to: try Mailbox(address: "kari@example.no", name: name), subject: "x", text: "", html: nil, date: 0)
            return try XCTUnwrap(try ParsedMessage(message.bytes)["To"])
        }
        XCTAssertEqual(try toHeader("Kari Nordmann"), "Kari Nordmann <kari@example.no>")
        XCTAssertEqual(try toHeader("Nordmann, Kari"), "\"Nordmann, Kari\" <kari@example.no>")
        XCTAssertEqual(try toHeader("Kari \"K\" N. \\o/"), "\"Kari \\\"K\\\" N. \\\\o/\" <kari@example.no>")
        let encoded = try toHeader("Åse Ødegård")
        XCTAssertTrue(encoded.hasPrefix("=?UTF-8?B?"), encoded)
        XCTAssertTrue(encoded.hasSuffix(" <kari@example.no>"), encoded)
        XCTAssertEqual(try decodeHeader(String(encoded.dropLast(" <kari@example.no>".count))), "Åse Ødegård")
        let longName = String(repeating: "Kari Nordmann ", count: 12) + "Jr"
        let folded = try toHeader(longName)
        XCTAssertTrue(folded.hasSuffix("<kari@example.no>"), folded)
        XCTAssertEqual(try decodeHeader(String(folded.dropLast(" <kari@example.no>".count))), longName)
    }

    // MARK: Threading and extra headers

    func testThreadingHeadersAppearOnlyWhenGivenAndReferencesFold() throws {
        let references = (1...25).map { "<node.\($0).eznotification@example.com>" }
        let message = try composer.compose(
            to: kari, subject: "x", text: "", html: nil, date: 0, messageID: "<node.77.eznotification@example.com>",
            inReplyTo: "<node.60.eznotification@example.com>", references: references)
        let parsed = try ParsedMessage(message.bytes)
        XCTAssertEqual(parsed.headers.map(\.name).prefix(7), [
            "Date", "From", "To", "Subject", "Message-ID", "In-Reply-To", "References",
        ])
        XCTAssertEqual(parsed["In-Reply-To"], "<node.60.eznotification@example.com>")
        let lines = parsed.rawHeader("References")
        XCTAssertGreaterThan(lines.count, 5)
        for line in lines { XCTAssertLessThanOrEqual(line.count, 78, line) }
        XCTAssertEqual(try XCTUnwrap(parsed["References"]).split(separator: " ").map(String.init), references)
    }

    func testExtraHeadersComeAfterTheFixedOnesAndBeforeTheContentType() throws {
        let unsubscribe = "<https://example.com/notification/unsubscribe/\(String(repeating: "a1b2c3", count: 12))>, <mailto:unsubscribe@example.com?subject=unsubscribe>"
        let message = try composer.compose(
            to: kari, subject: "x", text: "", html: nil, date: 0,
            extraHeaders: [
                (name: "List-Unsubscribe", value: unsubscribe),
                (name: "List-Unsubscribe-Post", value: "List-Unsubscribe=One-Click"),
            ])
        let parsed = try ParsedMessage(message.bytes)
        let names = parsed.headers.map(\.name)
        XCTAssertEqual(Array(names.suffix(5)), [
            "Precedence", "List-Unsubscribe", "List-Unsubscribe-Post", "Content-Type", "Content-Transfer-Encoding",
        ])
        XCTAssertEqual(parsed["List-Unsubscribe"], unsubscribe)
        for line in parsed.rawHeader("List-Unsubscribe") { XCTAssertLessThanOrEqual(line.count, 998) }
    }

    // MARK: Rejections

    func testLineBreaksInAnyHeaderValueAreRejected() throws {
        func assertRejected(
            _ expected: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Any
        ) {
            XCTAssertThrowsError(try body(), file: file, line: line) { error in
                XCTAssertTrue(error is HeaderError, "\(type(of: error))", file: file, line: line)
                XCTAssertTrue("\(error)".contains(expected), "\(error)", file: file, line: line)
                XCTAssertFalse("\(error)".contains("\n") || "\(error)".contains("\r"), "one line", file: file, line: line)
            }
        }
        for breaker in ["\r\n", "\n", "\r", "\0"] {
            let expected = breaker == "\0" ? "NUL" : "line break"
            assertRejected("'Subject' contains a \(expected)") {
                try self.composer.compose(to: self.kari, subject: "Hi\(breaker)Bcc: victim@example.org", text: "", html: nil, date: 0)
            }
            assertRejected(expected) { try Mailbox(address: "kari@example.no", name: "Kari\(breaker)Bcc: x@y.z") }
            assertRejected(expected) { try Mailbox(address: "kari@example.no\(breaker)Bcc: x@y.z") }
            assertRejected("'X-Tag' contains a \(expected)") {
                try self.composer.compose(
                    to: self.kari, subject: "x", text: "", html: nil, date: 0,
                    extraHeaders: [(name: "X-Tag", value: "a\(breaker)Bcc: victim@example.org")])
            }
            assertRejected("extra header name") {
                try self.composer.compose(
                    to: self.kari, subject: "x", text: "", html: nil, date: 0,
                    extraHeaders: [(name: "X-Tag\(breaker)Bcc", value: "a")])
            }
            assertRejected("'In-Reply-To' contains a \(expected)") {
                try self.composer.compose(
                    to: self.kari, subject: "x", text: "", html: nil, date: 0, inReplyTo: "<a@b>\(breaker)Bcc: x@y.z")
            }
            assertRejected("'References' contains a \(expected)") {
                try self.composer.compose(
                    to: self.kari, subject: "x", text: "", html: nil, date: 0, references: ["<a@b>", "<c@d>\(breaker)X: y"])
            }
            assertRejected("'Message-ID' contains a \(expected)") {
                try self.composer.compose(to: self.kari, subject: "x", text: "", html: nil, date: 0, messageID: "<a@b>\(breaker)")
            }
        }
        assertRejected("'Message-ID'") {
            try MessageComposer(from: self.kari, messageIDDomain: "example.com\r\nBcc: x@y.z")
                .compose(to: self.kari, subject: "x", text: "", html: nil, date: 0)
        }
        assertRejected("malformed message id") {
            try self.composer.compose(to: self.kari, subject: "x", text: "", html: nil, date: 0, messageID: "no-brackets@example.com")
        }
        assertRejected("'Bcc' is not allowed") {
            try self.composer.compose(to: self.kari, subject: "x", text: "", html: nil, date: 0, extraHeaders: [(name: "Bcc", value: "x@y.z")])
        }
        assertRejected("'subject' is written by the composer") {
            try self.composer.compose(to: self.kari, subject: "x", text: "", html: nil, date: 0, extraHeaders: [(name: "subject", value: "y")])
        }
        assertRejected("non-ASCII") {
            try self.composer.compose(to: self.kari, subject: "x", text: "", html: nil, date: 0, extraHeaders: [(name: "X-Name", value: "Blåbær")])
        }
        assertRejected("too long") {
            try self.composer.compose(
                to: self.kari, subject: "x", text: "", html: nil, date: 0,
                extraHeaders: [(name: "X-Token", value: String(repeating: "t", count: 1000))])
        }
    }

    func testMailboxAddressesAreValidated() throws {
        for good in ["kari@example.no", "first.last+tag@sub.example.co.uk", "o'brien@example.ie", "x@localhost"] {
            XCTAssertNoThrow(try Mailbox(address: good), good)
        }
        let bad = [
            "", "kari", "kari@", "@example.no", "ka ri@example.no", "kari@exa mple.no", "a@b@c", "<kari@example.no>",
            "kari@example.no>", "kari,ola@example.no", "\"kari\"@example.no", "kari;@example.no", ".kari@example.no",
            "kari.@example.no", "ka..ri@example.no", "kari@example..no", "kari@.example.no", "kåri@example.no",
            "kari@exåmple.no", "kari@[127.0.0.1]", String(repeating: "k", count: 65) + "@example.no",
        ]
        for address in bad {
            XCTAssertThrowsError(try Mailbox(address: address), address) { error in
                XCTAssertTrue(error is HeaderError)
            }
        }
        XCTAssertThrowsError(try Mailbox(address: "kari@example.no", name: "Kari\u{1B}[31m"))
        XCTAssertNil(try Mailbox(address: "kari@example.no", name: "").name)
    }

    // MARK: Message ids

    func testGeneratedMessageIDsAreUniqueAndWellFormed() throws {
        var seen = Set<String>()
        var previous = ""
        for _ in 0..<10_000 {
            let id = MessageComposer.generateMessageID(domain: "example.com")
            XCTAssertTrue(seen.insert(id).inserted, "duplicate \(id)")
            // One process's ids sort in the order they were made, so the outbox's unique index grows at its end.
            XCTAssertLessThan(previous, id)
            previous = id
        }
        var randomParts = Set<Substring>()
        for sample in seen {
            let parts = sample.dropFirst().dropLast().split(separator: "@")
            XCTAssertEqual(parts.count, 2)
            XCTAssertEqual(parts[1], "example.com")
            let left = parts[0].split(separator: ".")
            XCTAssertEqual(left.count, 2)
            XCTAssertEqual(left[0].count, 32)
            XCTAssertTrue(left[0].allSatisfy(\.isHexDigit))
            XCTAssertNotNil(Int64(left[1]))
            // 22 digits drawn at random once per process, then a counter of 10.
            randomParts.insert(left[0].prefix(22))
        }
        XCTAssertEqual(randomParts.count, 1, "the random part is drawn once per process")

        let first = try composer.compose(to: kari, subject: "x", text: "", html: nil, date: 0)
        let second = try composer.compose(to: kari, subject: "x", text: "", html: nil, date: 0)
        XCTAssertNotEqual(first.messageID, second.messageID)
        XCTAssertTrue(first.messageID.hasSuffix(".0@example.com>"), "the id carries the message's date")
    }

    // MARK: Python's strict parser

    func testPythonStrictParserAcceptsComposedMessages() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ef-mime-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        let japanese = "記事「東京都の新しい公園について」が公開されました［お知らせ］"
        let html = "<p>\(trickyText.replacingOccurrences(of: "\n", with: "<br>\n"))</p>\n"
        let cases: [(name: String, to: Mailbox, subject: String, text: String, html: String?)] = [
            ("plain", try Mailbox(address: "kari@example.no"), "Hello", "Hi Kari\n", nil),
            ("tricky-text", kari, "Blåbærsyltetøy på skiva", trickyText, nil),
            ("alternative", try Mailbox(address: "taro@example.jp", name: "山田 太郎"), japanese, trickyText, html),
            ("quoted-name", try Mailbox(address: "kari@example.no", name: "Nordmann, Kari \"K\""),
             String(repeating: "Long ASCII subject ", count: 10), "", "<p></p>"),
            ("empty", try Mailbox(address: "ola@example.no", name: "Ola"), "", "", nil),
            ("long-words", try Mailbox(address: "ola@example.no", name: String(repeating: "Åse ", count: 30)),
             String(repeating: "x", count: 1200), String(repeating: "y", count: 3000) + "\n" + String(repeating: "é", count: 700),
             String(repeating: "<br>", count: 500)),
        ]
        var paths: [String] = []
        for item in cases {
            let message = try composer.compose(
                to: item.to, subject: item.subject, text: item.text, html: item.html, date: 1_700_000_000,
                inReplyTo: "<node.60.eznotification@example.com>",
                references: (1...12).map { "<node.\($0).eznotification@example.com>" },
                extraHeaders: [(name: "List-Unsubscribe", value: "<https://example.com/unsubscribe/abc>")])
            let path = directory.appendingPathComponent("\(item.name).eml")
            try Data(message.bytes).write(to: path)
            var expected: [String: String] = [
                "subject": item.subject, "text": item.text, "to_address": item.to.address, "to_name": item.to.name ?? "",
                "from_name": "Example Site", "from_address": "noreply@example.com",
            ]
            expected["html"] = item.html
            try JSONSerialization.data(withJSONObject: expected)
                .write(to: directory.appendingPathComponent("\(item.name).expect.json"))
            paths.append(path.path)
        }
        let (status, output) = try runChecker(paths)
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("\(cases.count) message(s) passed"), output)

        // The checker itself must notice problems, or its passing says nothing.
        let broken = directory.appendingPathComponent("broken.eml")
        try Data("Subject: x\nFrom: a@b.c\n\nbody\n".utf8).write(to: broken)
        let wrongText = directory.appendingPathComponent("wrong.eml")
        try Data(try composer.compose(to: kari, subject: "x", text: "one\n", html: nil, date: 0).bytes).write(to: wrongText)
        try Data(#"{"text": "two\n"}"#.utf8).write(to: directory.appendingPathComponent("wrong.expect.json"))
        let (badStatus, badOutput) = try runChecker([broken.path, wrongText.path])
        XCTAssertEqual(badStatus, 1, badOutput)
        XCTAssertTrue(badOutput.contains("bare LF"), badOutput)
        XCTAssertTrue(badOutput.contains("header Date appears 0 times"), badOutput)
        XCTAssertTrue(badOutput.contains("decoded text is 'one\\n', expected 'two\\n'"), badOutput)
    }

    private func runChecker(_ paths: [String]) throws -> (Int32, String) {
        let script = TestRoot.repository.appendingPathComponent("Tests/Support/check_mime.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path] + paths
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do {
            try process.run()
        } catch {
            throw XCTSkip("python3 is not available: \(error)")
        }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if process.terminationStatus == 127 { throw XCTSkip("python3 is not available: \(output)") }
        return (process.terminationStatus, output)
    }
}

// MARK: - An independent reader for the tests

/// Splits a message into unfolded headers and body, failing on anything but CRLF line endings.
private struct ParsedMessage {
    var headers: [(name: String, value: String)] = []
    /// Header lines as written, folded continuation lines separate.
    var headerLines: [String] = []
    var body: [UInt8]

    init(_ bytes: [UInt8]) throws {
        guard let end = find([13, 10, 13, 10], in: bytes) else {
            throw TestFailure("no blank line after the headers")
        }
        body = Array(bytes[(end + 4)...])
        let head = String(decoding: bytes[..<end], as: UTF8.self)
        headerLines = head.components(separatedBy: "\r\n")
        for line in headerLines {
            if line.hasPrefix(" ") || line.hasPrefix("\t") {
                guard !headers.isEmpty else { throw TestFailure("continuation line first") }
                headers[headers.count - 1].value += line  // unfolding removes only the CRLF
            } else {
                guard let colon = line.firstIndex(of: ":") else { throw TestFailure("no colon in \(line)") }
                var value = String(line[line.index(after: colon)...])
                if value.hasPrefix(" ") { value.removeFirst() }
                headers.append((String(line[..<colon]), value))
            }
        }
    }

    subscript(name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// The lines of one header as written.
    func rawHeader(_ name: String) -> [String] {
        guard let start = headerLines.firstIndex(where: { $0.hasPrefix(name + ":") }) else { return [] }
        var lines = [headerLines[start]]
        for line in headerLines[(start + 1)...] {
            guard line.hasPrefix(" ") || line.hasPrefix("\t") else { break }
            lines.append(line)
        }
        return lines
    }

    func multipartParts() throws -> [ParsedMessage] {
        guard let type = self["Content-Type"], let range = type.range(of: "boundary=\"") else {
            throw TestFailure("no boundary")
        }
        let boundary = String(type[range.upperBound...].prefix { $0 != "\"" })
        let delimiter = Array("\r\n--\(boundary)".utf8)
        // Prefixing CRLF lets the first delimiter, right after the headers, match too.
        let content = [13, 10] + body
        var positions: [Int] = []
        var from = 0
        while let index = find(delimiter, in: content, from: from) {
            positions.append(index)
            from = index + delimiter.count
        }
        guard positions.count >= 2 else { throw TestFailure("fewer than two delimiters") }
        let close = positions.last! + delimiter.count
        guard Array(content[close..<min(close + 4, content.count)]) == [45, 45, 13, 10] else {
            throw TestFailure("no closing delimiter")
        }
        return try zip(positions, positions.dropFirst()).map { start, end in
            let partStart = start + delimiter.count + 2  // the CRLF after the boundary line
            return try ParsedMessage(Array(content[partStart..<end]))
        }
    }
}

private struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

private func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int = 0) -> Int? {
    guard haystack.count >= needle.count else { return nil }
    var index = start
    while index <= haystack.count - needle.count {
        if haystack[index] == needle[0] && Array(haystack[index..<(index + needle.count)]) == needle { return index }
        index += 1
    }
    return nil
}

private func splitCRLF(_ bytes: [UInt8]) -> [[UInt8]] {
    var lines: [[UInt8]] = []
    var current: [UInt8] = []
    var index = 0
    while index < bytes.count {
        if bytes[index] == 13 && index + 1 < bytes.count && bytes[index + 1] == 10 {
            lines.append(current)
            current = []
            index += 2
        } else {
            current.append(bytes[index])
            index += 1
        }
    }
    if !current.isEmpty { lines.append(current) }
    return lines
}

private func assertCRLFOnly(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) {
    for (index, byte) in bytes.enumerated() {
        if byte == 10 && (index == 0 || bytes[index - 1] != 13) {
            XCTFail("bare LF at \(index)", file: file, line: line)
            return
        }
        if byte == 13 && (index + 1 == bytes.count || bytes[index + 1] != 10) {
            XCTFail("bare CR at \(index)", file: file, line: line)
            return
        }
    }
}

/// Decodes quoted-printable as RFC 2045 defines it: `=XX` is a byte, `=` CRLF is nothing.
/// Quoted-printable one byte at a time, each rule spelled out (the reference the encoder's fast
/// paths are checked against).
private func quotedPrintableByTheRules(_ input: [UInt8], endWithLineBreak: Bool) -> [UInt8] {
    guard let last = input.last else { return [] }
    let softBreakAtEnd = endWithLineBreak && last != 10 && last != 13
    var out: [UInt8] = []
    var column = 0
    var index = 0
    let hex = Array("0123456789ABCDEF".utf8)
    while index < input.count {
        let byte = input[index]
        if byte == 13 || byte == 10 {
            out += [13, 10]
            column = 0
            index += (byte == 13 && index + 1 < input.count && input[index + 1] == 10) ? 2 : 1
            continue
        }
        let next: UInt8 = index + 1 < input.count ? input[index + 1] : (softBreakAtEnd ? 0 : 10)
        let atLineEnd = next == 13 || next == 10
        func mustEncode(atLineStart: Bool) -> Bool {
            if byte == UInt8(ascii: "=") || byte < 32 && byte != 9 || byte >= 127 { return true }
            if byte == 32 || byte == 9 { return atLineEnd }
            if byte == UInt8(ascii: ".") { return atLineStart }
            if byte == UInt8(ascii: "F") {
                return atLineStart && Array(input.dropFirst(index).prefix(5)) == Array("From ".utf8)
            }
            return false
        }
        var encode = mustEncode(atLineStart: column == 0)
        if column + (encode ? 3 : 1) > (atLineEnd ? 76 : 75) {
            out += Array("=\r\n".utf8)
            column = 0
            encode = mustEncode(atLineStart: true)
        }
        if encode {
            out += [UInt8(ascii: "="), hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            column += 3
        } else {
            out.append(byte)
            column += 1
        }
        index += 1
    }
    if softBreakAtEnd { out += Array("=\r\n".utf8) }
    return out
}

private func decodeQuotedPrintable(_ bytes: [UInt8]) -> [UInt8] {
    func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 48...57: return byte - 48
        case 65...70: return byte - 55
        default: return nil
        }
    }
    var out: [UInt8] = []
    var index = 0
    while index < bytes.count {
        if bytes[index] == 61 {
            if index + 2 < bytes.count && bytes[index + 1] == 13 && bytes[index + 2] == 10 {
                index += 3
                continue
            }
            if index + 2 < bytes.count, let high = hex(bytes[index + 1]), let low = hex(bytes[index + 2]) {
                out.append(high << 4 | low)
                index += 3
                continue
            }
            XCTFail("stray '=' at \(index)")
        }
        out.append(bytes[index])
        index += 1
    }
    return out
}

/// Decodes an unfolded header value made of `=?UTF-8?B?...?=` words (whitespace between encoded
/// words is dropped, RFC 2047 §6.2), or returns plain text unchanged.
private func decodeHeader(_ value: String) throws -> String {
    let words = value.split(separator: " ", omittingEmptySubsequences: true)
    guard words.allSatisfy({ $0.hasPrefix("=?UTF-8?B?") && $0.hasSuffix("?=") }) else { return value }
    var bytes = Data()
    for word in words {
        let payload = String(word.dropFirst(10).dropLast(2))
        guard let data = Data(base64Encoded: payload) else { throw TestFailure("bad base64 in \(word)") }
        bytes += data
    }
    guard let text = String(data: bytes, encoding: .utf8) else { throw TestFailure("invalid UTF-8") }
    return text
}

private func crlf(_ text: String) -> String {
    text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        .replacingOccurrences(of: "\n", with: "\r\n")
}
