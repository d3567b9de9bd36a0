import Foundation
import XCTest

@testable import EventFilterKit

final class TemplateTests: XCTestCase {
    private func render(_ source: String, _ context: [String: TemplateValue], html: Bool = false) throws -> String {
        try Template(source: source, name: "test").render(context, escapeHTML: html)
    }

    // MARK: Variables

    func testVariablesAreEscapedForHTMLOnlyWhenAskedAndHTMLValuesNever() throws {
        let context: [String: TemplateValue] = [
            "name": "Tom & Jerry's <b>\"show\"</b>", "markup": .html("<em>safe</em> & sound"),
        ]
        XCTAssertEqual(
            try render("{{name}}|{{{name}}}|{{& name}}|{{markup}}", context, html: true),
            "Tom &amp; Jerry&#39;s &lt;b&gt;&quot;show&quot;&lt;/b&gt;|Tom & Jerry's <b>\"show\"</b>|"
                + "Tom & Jerry's <b>\"show\"</b>|<em>safe</em> & sound")
        XCTAssertEqual(
            try render("{{name}}|{{markup}}", context, html: false),
            "Tom & Jerry's <b>\"show\"</b>|<em>safe</em> & sound")
        XCTAssertEqual(try render("Blåbær {{ name }} 日本", ["name": "ø&æ"], html: true), "Blåbær ø&amp;æ 日本")
    }

    /// Escaping works on UTF-8 bytes: multi-byte characters (2, 3 and 4 bytes, combining marks)
    /// next to the escaped ones, at either end, in a row, come out as the characters they were.
    func testEscapingLeavesEveryOtherCharacterAsItWas() throws {
        let cases: [(String, String)] = [
            ("", ""), ("plain", "plain"), ("&", "&amp;"), ("<>", "&lt;&gt;"), ("''\"\"", "&#39;&#39;&quot;&quot;"),
            ("&æ", "&amp;æ"), ("日<本", "日&lt;本"), ("👍&👍", "👍&amp;👍"), ("e\u{301}<", "e\u{301}&lt;"),
            ("Q&A: «Blåbær» <3 😀 \"x\" 'y' &amp;", "Q&amp;A: «Blåbær» &lt;3 😀 &quot;x&quot; &#39;y&#39; &amp;amp;"),
        ]
        for (value, escaped) in cases {
            XCTAssertEqual(try render("[{{v}}]", ["v": .text(value)], html: true), "[\(escaped)]", value)
            var appended = "already here "
            Template.appendEscaped(value, to: &appended)
            XCTAssertEqual(appended, "already here " + escaped, value)
        }
        let long = String(repeating: "Blåbær & <日本> 'ok' ", count: 2_000)
        XCTAssertEqual(try render("{{v}}", ["v": .text(long)], html: true),
                       String(repeating: "Blåbær &amp; &lt;日本&gt; &#39;ok&#39; ", count: 2_000))
    }

    func testMissingNamesBooleansAndListsRenderEmptyAsVariables() throws {
        XCTAssertEqual(try render("[{{missing}}][{{flag}}][{{rows}}]", ["flag": true, "rows": .list([[:]])]), "[][][]")
    }

    // MARK: Sections

    func testSectionsRenderForTrueNonEmptyTextAndEachListRow() throws {
        let template = "{{#flag}}F{{/flag}}{{#text}}T:{{text}}{{/text}}{{#rows}}<{{v}}>{{/rows}}{{#missing}}M{{/missing}}"
        XCTAssertEqual(try render(template, ["flag": true, "text": "x", "rows": .list([["v": "1"], ["v": "2"]])]), "FT:x<1><2>")
        XCTAssertEqual(try render(template, ["flag": false, "text": "", "rows": .list([])]), "")
        XCTAssertEqual(try render("{{#h}}[{{h}}]{{/h}}", ["h": .html("<br>")], html: true), "[<br>]")
        XCTAssertEqual(try render("{{#h}}[{{h}}]{{/h}}", ["h": .html("")], html: true), "")
    }

    func testInvertedSectionsRenderForMissingFalseAndEmpty() throws {
        let template = "{{^value}}none{{/value}}"
        XCTAssertEqual(try render(template, [:]), "none")
        XCTAssertEqual(try render(template, ["value": false]), "none")
        XCTAssertEqual(try render(template, ["value": ""]), "none")
        XCTAssertEqual(try render(template, ["value": .list([])]), "none")
        XCTAssertEqual(try render(template, ["value": true]), "")
        XCTAssertEqual(try render(template, ["value": "x"]), "")
        XCTAssertEqual(try render(template, ["value": .list([[:]])]), "")
    }

    func testNestedListsSeeTheirRowThenTheOuterContext() throws {
        let context: [String: TemplateValue] = [
            "site": "Example",
            "sections": .list([
                ["title": "News", "items": .list([["subject": "A"], ["subject": "B", "site": "Other"]])],
                ["title": "Empty", "items": .list([])],
                ["title": "Events", "items": .list([["subject": "C"]])],
            ]),
        ]
        let source = "{{#sections}}{{title}}:{{#items}} {{subject}}@{{site}}/{{title}}{{/items}}{{^items}} -{{/items}};{{/sections}}"
        XCTAssertEqual(try render(source, context), "News: A@Example/News B@Other/News;Empty: -;Events: C@Example/Events;")
    }

    func testStandaloneTagLinesDisappearWithTheirLineBreak() throws {
        let source = """
            Hello
              {{#items}}
            * {{name}}
              {{/items}}
            {{! a comment on its own line }}
            {{^items}}\r
            nothing\r
            {{/items}}\r
            Bye {{#flag}}inline{{/flag}} end
            {{#flag}}
            last
            {{/flag}}
            """
        XCTAssertEqual(
            try render(source, ["items": .list([["name": "a"], ["name": "b"]]), "flag": true]),
            "Hello\n* a\n* b\nBye inline end\nlast\n")
        XCTAssertEqual(try render(source, ["flag": false]), "Hello\nnothing\r\nBye  end\n")
        // A variable alone on a line is content, not a standalone tag: its line stays.
        XCTAssertEqual(try render("a\n  {{x}}  \nb", ["x": "X"]), "a\n  X  \nb")
        XCTAssertEqual(try render("a\n{{x}}\nb", [:]), "a\n\nb")
    }

    func testCommentsRenderNothing() throws {
        XCTAssertEqual(try render("a{{! anything {{at}} all }}b", [:]), "a all }}b")
        XCTAssertEqual(try render("a{{! note }}b", [:]), "ab")
    }

    // MARK: Errors

    func testParseErrorsNameTheTemplateAndLine() throws {
        func assertError(_ source: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try Template(source: source, name: "ezsubtree/body.txt"), file: file, line: line) { error in
                XCTAssertTrue(error is TemplateError, file: file, line: line)
                XCTAssertEqual("\(error)", expected, file: file, line: line)
            }
        }
        assertError("one\ntwo\n{{#items}}\nthree\n", "ezsubtree/body.txt:3: unclosed section 'items'")
        assertError("{{#a}}\n{{#b}}\n{{/a}}", "ezsubtree/body.txt:3: closing tag 'a' does not match section 'b' opened on line 2")
        assertError("x\n{{/a}}", "ezsubtree/body.txt:2: closing tag 'a' has no open section")
        assertError("x\n\n{{name", "ezsubtree/body.txt:3: unclosed tag '{{' (expected '}}')")
        assertError("{{{name}}", "ezsubtree/body.txt:1: unclosed tag '{{{' (expected '}}}')")
        assertError("a\n{{ }}", "ezsubtree/body.txt:2: empty tag")
        assertError("{{na me}}", "ezsubtree/body.txt:1: invalid name 'na me' in tag")
        assertError("\n{{> footer}}", "ezsubtree/body.txt:2: partials ('{{>') are not supported")
        assertError("{{=<% %>=}}", "ezsubtree/body.txt:1: changing delimiters ('{{=') is not supported")
    }

    // MARK: Library

    func testExtensionTemplatesOverrideBuiltinsAndTheFirstExtensionWins() throws {
        let root = try makeRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        try write(root, "extension/second/templates/ezsubtree/subject.txt", "second {{name}}")
        try write(root, "extension/second/templates/footer.txt", "second footer")
        try write(root, "extension/first/templates/footer.txt", "first footer")
        let library = TemplateLibrary(
            root: root, extensions: ["missing", "first", "second"],
            builtins: ["ezsubtree/subject.txt": "builtin {{name}}", "footer.txt": "builtin footer", "only.txt": "builtin only"])

        XCTAssertEqual(try library.template("ezsubtree/subject.txt").render(["name": "N"], escapeHTML: false), "second N")
        XCTAssertEqual(library.origin(of: "ezsubtree/subject.txt"), "extension/second/templates/ezsubtree/subject.txt")
        XCTAssertEqual(try library.template("footer.txt").render([:], escapeHTML: false), "first footer")
        XCTAssertEqual(library.origin(of: "footer.txt"), "extension/first/templates/footer.txt")
        XCTAssertEqual(try library.template("only.txt").render([:], escapeHTML: false), "builtin only")
        XCTAssertEqual(library.origin(of: "only.txt"), "built-in")
        XCTAssertEqual(library.origin(of: "nothing.txt"), "not found")
    }

    func testLibraryErrorsNameTheFileOrTheMissingTemplate() throws {
        let root = try makeRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        try write(root, "extension/site/templates/ezsubtree/body.txt", "ok\n{{#items}}\n")
        let library = TemplateLibrary(root: root, extensions: ["site"], builtins: BuiltinTemplates.core)
        XCTAssertThrowsError(try library.template("ezsubtree/body.txt")) { error in
            XCTAssertEqual("\(error)", "extension/site/templates/ezsubtree/body.txt:2: unclosed section 'items'")
        }
        XCTAssertThrowsError(try library.template("nothing/here.txt")) { error in
            XCTAssertTrue(error is TemplateError)
            XCTAssertTrue("\(error)".contains("template 'nothing/here.txt' not found"), "\(error)")
        }
        XCTAssertThrowsError(try library.template("../../etc/passwd")) { error in
            XCTAssertTrue("\(error)".contains("not a relative path"), "\(error)")
        }
    }

    func testLibraryCachesParsedTemplates() throws {
        let root = try makeRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        try write(root, "extension/site/templates/a.txt", "before")
        let library = TemplateLibrary(root: root, extensions: ["site"], builtins: [:])
        XCTAssertEqual(try library.template("a.txt").render([:], escapeHTML: false), "before")
        try write(root, "extension/site/templates/a.txt", "after")
        XCTAssertEqual(try library.template("a.txt").render([:], escapeHTML: false), "before", "parsed once per library")
    }

    // MARK: Built-in templates

    func testBuiltinTemplatesAllParse() throws {
        let expected = [
            "subject-line.txt",
            "ezsubtree/subject.txt", "ezsubtree/body.txt", "ezsubtree/body.html",
            "ezcollaboration/subject.txt", "ezcollaboration/body.txt", "ezcollaboration/body.html",
            "ezgeneraldigest/subject.txt", "ezgeneraldigest/body.txt", "ezgeneraldigest/body.html",
            "footer.txt", "footer.html",
        ]
        XCTAssertEqual(Set(BuiltinTemplates.core.keys), Set(expected))
        for (name, source) in BuiltinTemplates.core {
            XCTAssertNoThrow(try Template(source: source, name: name), name)
        }
    }

    /// Readers filter on one pattern: `[SiteName] what happened`, so no built-in subject
    /// carries the site's name itself (the subject line adds it once), for every source.
    func testEverySubjectFollowsOnePattern() throws {
        let library = TemplateLibrary(root: URL(fileURLWithPath: "/nonexistent"), extensions: [], builtins: BuiltinTemplates.all)
        let context: [String: TemplateValue] = ["site_name": "Example Site", "name": "N", "type": "t", "node_id": "7"]
        let subjects = BuiltinTemplates.all.keys.filter { $0.hasSuffix("/subject.txt") }.sorted()
        XCTAssertGreaterThan(subjects.count, 10)
        for name in subjects {
            let what = try library.template(name).render(context, escapeHTML: false)
            XCTAssertFalse(what.contains("Example Site"), "\(name) names the site itself: \(what)")
            XCTAssertFalse(what.hasPrefix("["), "\(name): \(what)")
        }
        XCTAssertEqual(try library.template("subject-line.txt").render(["site_name": "Example Site", "subject": "Video v1 is ready"],
                                                                        escapeHTML: false),
                       "[Example Site] Video v1 is ready")
    }

    func testSubtreeTemplatesSayWhatHappenedInOneSentence() throws {
        let library = TemplateLibrary(root: URL(fileURLWithPath: "/nonexistent"), extensions: [], builtins: BuiltinTemplates.core)
        var context: [String: TemplateValue] = [
            "site_name": "Example Site", "site_url": "https://example.com", "class": "Article",
            "name": "Spring & <summer>", "url": "https://example.com/news/spring", "author_name": "Kari Nordmann",
            "node_id": "77", "version": "3", "is_update": false, "parent_name": "News",
            "time_text": "Tuesday 1 December 2026, 09:17 (Europe/Oslo)",
        ]
        let subject = try library.template("ezsubtree/subject.txt")
        XCTAssertEqual(subject.render(context, escapeHTML: false), "Article \"Spring & <summer>\" was published in News")
        let text = try library.template("ezsubtree/body.txt").render(context, escapeHTML: false)
        XCTAssertEqual(text, """
            "Spring & <summer>" (Article) was published in News by Kari Nordmann on Tuesday 1 December 2026, 09:17 (Europe/Oslo).

            Read it at https://example.com/news/spring

            """)
        let html = try library.template("ezsubtree/body.html").render(context, escapeHTML: true)
        XCTAssertTrue(html.contains("<a href=\"https://example.com/news/spring\">Spring &amp; &lt;summer&gt;</a>"), html)
        XCTAssertFalse(html.contains("<summer>"), html)

        context["is_update"] = true
        context["parent_name"] = ""
        context["author_name"] = ""
        XCTAssertEqual(subject.render(context, escapeHTML: false), "Article \"Spring & <summer>\" was updated")
        let updated = try library.template("ezsubtree/body.txt").render(context, escapeHTML: false)
        XCTAssertTrue(updated.hasPrefix(
            "\"Spring & <summer>\" (Article) was updated to version 3 on Tuesday 1 December 2026, 09:17 (Europe/Oslo).\n"), updated)
    }

    func testCollaborationSubjectsDependOnTheRole() throws {
        let library = TemplateLibrary(root: URL(fileURLWithPath: "/nonexistent"), extensions: [], builtins: BuiltinTemplates.core)
        let subject = try library.template("ezcollaboration/subject.txt")
        let base: [String: TemplateValue] = ["site_name": "Example Site", "name": "Spring", "identifier": "ezapprove"]
        func with(_ extra: [String: TemplateValue]) -> [String: TemplateValue] { base.merging(extra) { $1 } }
        XCTAssertEqual(
            subject.render(with(["is_approver": true, "role": "approver"]), escapeHTML: false),
            "Approval of \"Spring\" awaits your attention")
        XCTAssertEqual(
            subject.render(with(["is_approver": false, "is_author": true, "role": "author"]), escapeHTML: false),
            "\"Spring\" awaits approval")
        XCTAssertEqual(subject.render(with(["role": "observer"]), escapeHTML: false), "New collaboration item")
        let text = try library.template("ezcollaboration/body.txt").render(with(["url": "https://example.com/c/5"]), escapeHTML: false)
        XCTAssertEqual(text, """
            This email is to inform you that a new collaboration item is awaiting your attention at Example Site.
            The item can be viewed by using the URL below.

            https://example.com/c/5

            """)
    }

    func testDigestIsACompactListAndTheFooterSaysWhatEachLinkDoes() throws {
        let library = TemplateLibrary(root: URL(fileURLWithPath: "/nonexistent"), extensions: [], builtins: BuiltinTemplates.core)
        let context: [String: TemplateValue] = [
            "site_name": "Example Site", "site_url": "https://example.com", "date": "Tuesday 14 November 2023", "count": "3",
            "items_word": "items", "recipient_name": "Kari",
            "sections": .list([
                ["title": "News", "underline": "----", "more": "1", "more_url": "https://example.com", "items": .list([
                    ["name": "First <one>", "url": "https://example.com/1", "time_text": "Tuesday 14 November 2023, 09:00 (UTC)"],
                    ["name": "Second", "url": "", "time_text": "Tuesday 14 November 2023, 08:00 (UTC)"],
                ])],
            ]),
        ]
        XCTAssertEqual(
            try library.template("ezgeneraldigest/subject.txt").render(context, escapeHTML: false),
            "Digest for Tuesday 14 November 2023")
        XCTAssertEqual(try library.template("ezgeneraldigest/body.txt").render(context, escapeHTML: false), """
            Hello Kari,

            here is what happened at Example Site since your last digest (3 items).

            News
            ----
            - First <one> \u{2014} Tuesday 14 November 2023, 09:00 (UTC) \u{2014} https://example.com/1
            - Second \u{2014} Tuesday 14 November 2023, 08:00 (UTC)
            ... and 1 more: https://example.com

            """)
        let html = try library.template("ezgeneraldigest/body.html").render(context, escapeHTML: true)
        XCTAssertTrue(html.contains(
            "<li><a href=\"https://example.com/1\">First &lt;one&gt;</a> <small>Tuesday 14 November 2023, 09:00 (UTC)</small></li>"), html)
        XCTAssertTrue(html.contains("<li>Second <small>"), html)

        let footer: [String: TemplateValue] = [
            "site_name": "Example Site", "settings_url": "https://example.com/notification/settings", "unsubscribe_url": "",
            "stop_all_url": "",
        ]
        XCTAssertEqual(try library.template("footer.txt").render(footer, escapeHTML: false), """

            Change which notifications you get: https://example.com/notification/settings

            -- \nExample Site notification system

            """)
        let withLinks = footer.merging([
            "unsubscribe_url": "https://example.com/u/a?b=1&c=2", "unsubscribe_subject": "\"News\" and everything below it",
            "stop_all_url": "https://example.com/u/all",
        ]) { $1 }
        XCTAssertEqual(try library.template("footer.txt").render(withLinks, escapeHTML: false), """

            Change which notifications you get: https://example.com/notification/settings
            Stop notifications about "News" and everything below it: https://example.com/u/a?b=1&c=2
            Stop all notifications from Example Site: https://example.com/u/all

            -- \nExample Site notification system

            """)
        let withUnsubscribe = try library.template("footer.html").render(withLinks, escapeHTML: true)
        XCTAssertTrue(withUnsubscribe.contains("href=\"https://example.com/u/a?b=1&amp;c=2\""), withUnsubscribe)
        XCTAssertTrue(withUnsubscribe.contains("<a href=\"https://example.com/u/all\">Stop all notifications from Example Site</a>"),
                      withUnsubscribe)
    }

    func testRenderedSubjectsAreSingleLine() throws {
        let library = TemplateLibrary(root: URL(fileURLWithPath: "/nonexistent"), extensions: [], builtins: BuiltinTemplates.core)
        for name in ["ezsubtree/subject.txt", "ezcollaboration/subject.txt", "ezgeneraldigest/subject.txt"] {
            for flag in [true, false] {
                let rendered = try library.template(name).render(
                    ["site_name": "S", "name": "N", "class": "C", "date": "D", "is_update": .bool(flag), "is_approver": .bool(flag),
                     "is_author": .bool(!flag), "parent_name": flag ? "P" : ""],
                    escapeHTML: false)
                XCTAssertFalse(rendered.contains("\n") || rendered.contains("\r"), "\(name): \(rendered)")
                XCTAssertFalse(rendered.hasPrefix(" ") || rendered.hasSuffix(" "), "\(name): '\(rendered)'")
            }
        }
    }

    // MARK: Helpers

    private func makeRoot() throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ef-templates-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        return root
    }

    private func write(_ root: URL, _ relativePath: String, _ text: String) throws {
        let url = root.appendingPathComponent(relativePath)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }
}
