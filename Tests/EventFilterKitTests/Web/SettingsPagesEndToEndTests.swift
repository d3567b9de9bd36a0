import EventFilterKit
import Foundation
import XCTest

/// The settings pages through `eventfilter cgi` (the same router `fastcgi` uses): asking for a
/// link by mail, `user token`, refused input, signed and token follow links, escaping and
/// template overrides. The browser walk-through is in SettingsBrowserEndToEndTests.
final class SettingsPagesEndToEndTests: XCTestCase {
    static let now = "2026-01-07T15:00:00Z"
    static let form = "application/x-www-form-urlencoded"

    private func makeRoot(siteINI: String = TestRoot.defaultSiteINI) throws -> TestRoot {
        let root = try TestRoot(siteINI: siteINI)
        try root.ok("user", "add", "bob@example.com", "--name", "Bob <b>Reader</b>", now: Self.now)
        try root.ok("subscribe", "bob@example.com", "60", now: Self.now)
        return root
    }

    /// The token of a link `user token` printed.
    private func token(_ root: TestRoot, _ email: String = "bob@example.com") throws -> String {
        let link = try root.ok("user", "token", email, now: Self.now).trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(link.hasPrefix("https://example.com/notification/settings/"), link)
        return String(link.split(separator: "/").last ?? "")
    }

    private func csrf(in page: String) throws -> String {
        let range = try XCTUnwrap(page.range(of: #"name="csrf" value="[A-Za-z0-9_-]+""#, options: .regularExpression))
        return String(page[range].dropFirst(#"name="csrf" value=""#.count).dropLast())
    }

    static func encode(_ fields: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return fields.map { "\($0)=\($1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
    }

    func testAskingForALinkMailsOneToAKnownAddressAndAnswersTheSameForAnyAddress() throws {
        let root = try makeRoot()
        let form = try root.cgi("GET", "/settings", now: Self.now)
        XCTAssertEqual(form.status, 200)
        XCTAssertTrue(form.body.contains(#"<input type="email" name="email""#))

        let known = try root.cgi("POST", "/settings", contentType: Self.form, body: "email=bob%40example.com", now: Self.now)
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox"), 1)
        let before = try root.dump()
        // Asked again within ten minutes: the same answer, no second mail.
        let again = try root.cgi("POST", "/settings", contentType: Self.form, body: "email=BOB%40example.com",
                                 now: "2026-01-07T15:09:59Z")
        XCTAssertEqual(again.body.replacingOccurrences(of: "BOB@", with: "bob@"), known.body)
        XCTAssertEqual(try root.dump(), before)
        let unknown = try root.cgi("POST", "/settings", contentType: Self.form, body: "email=nobody%40example.com", now: Self.now)
        XCTAssertEqual(try root.dump(), before, "an unknown address changes nothing")
        XCTAssertEqual(known.status, 200)
        XCTAssertEqual(unknown.status, 200)
        XCTAssertEqual(known.body.replacingOccurrences(of: "bob@example.com", with: "X"),
                       unknown.body.replacingOccurrences(of: "nobody@example.com", with: "X"))
        XCTAssertTrue(known.body.contains("If bob@example.com gets mail from Test Site, a link to its settings is on its way."))

        let invalid = try root.cgi("POST", "/settings", contentType: Self.form, body: "email=not-an-address", now: Self.now)
        XCTAssertEqual(invalid.status, 400)
        XCTAssertTrue(invalid.body.contains("Enter your email address."))
        XCTAssertEqual(try root.dump(), before)

        // The queued message leaves like any mail and its link opens Bob's page.
        try root.ok("run", now: Self.now)
        XCTAssertEqual(try root.mailFiles().count, 1)
        let mail = try XCTUnwrap(try root.mails().first)
        XCTAssertEqual(mail.header("Subject"), "[Test Site] Your link to your notification settings")
        XCTAssertTrue(mail.to.contains("bob@example.com"))
        let link = try XCTUnwrap(mail.text.range(of: #"https://example.com/notification/settings/[A-Za-z0-9_-]{43}"#,
                                                 options: .regularExpression))
        let page = try root.cgi("GET", String(mail.text[link].dropFirst("https://example.com/notification".count)), now: Self.now)
        XCTAssertEqual(page.status, 200)
        XCTAssertTrue(page.body.contains("bob@example.com"))
        // Ten minutes later the form mails a new link.
        _ = try root.cgi("POST", "/settings", contentType: Self.form, body: "email=bob%40example.com", now: "2026-01-07T15:10:00Z")
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM outbox"), 2)
    }

    func testTheLinkMailCarriesTheSitesReplyToLikeEveryMessage() throws {
        let root = try makeRoot(siteINI: TestRoot.defaultSiteINI.replacingOccurrences(
            of: "[MailSettings]\n", with: "[MailSettings]\nEmailReplyTo=editors@example.com\n"))
        XCTAssertEqual(try root.cgi("POST", "/settings", contentType: Self.form, body: "email=bob%40example.com", now: Self.now).status, 200)
        try root.ok("run", now: Self.now)
        let mail = try XCTUnwrap(try root.mails().first)
        XCTAssertEqual(mail.header("Subject"), "[Test Site] Your link to your notification settings")
        XCTAssertEqual(mail.header("Reply-To"), "editors@example.com")
        try root.assertStrictMIME()
    }

    func testUserTokenReplacesAndRevokesLinks() throws {
        let root = try makeRoot()
        let first = try token(root)
        XCTAssertEqual(first.count, 43)
        XCTAssertEqual(try root.cgi("GET", "/settings/\(first)", now: Self.now).status, 200)
        // Only the hash is stored.
        XCTAssertFalse(try root.dump().contains(first))

        let second = try token(root)
        XCTAssertNotEqual(first, second)
        let old = try root.cgi("GET", "/settings/\(first)", now: Self.now)
        let nowhere = try root.cgi("GET", "/settings/no/such/page", now: Self.now)
        XCTAssertEqual(old.status, 404)
        XCTAssertEqual(old.body, nowhere.body, "a revoked token answers like a path that does not exist")
        XCTAssertEqual(try root.cgi("GET", "/settings/\(second)", now: Self.now).status, 200)

        XCTAssertEqual(try root.ok("user", "token", "bob@example.com", "--revoke", now: Self.now),
                       "revoked 1 settings link of bob@example.com\n")
        XCTAssertEqual(try root.cgi("GET", "/settings/\(second)", now: Self.now).status, 404)

        let unknown = try root.run(["user", "token", "nobody@example.com"], now: Self.now)
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertEqual(unknown.stderr, "eventfilter: unknown user nobody@example.com\n")
    }

    func testRefusedFormsChangeNothing() throws {
        let root = try makeRoot()
        let token = try token(root)
        let page = try root.cgi("GET", "/settings/\(token)", now: Self.now)
        for header in ["cache-control": "no-store", "referrer-policy": "no-referrer", "x-frame-options": "DENY"] {
            XCTAssertEqual(page.headers[header.key], header.value)
        }
        XCTAssertEqual(page.headers["content-security-policy"],
                       "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
        XCTAssertFalse(page.body.contains("<script"))
        let csrf = try csrf(in: page.body)
        let before = try root.dump()
        let cases: [(fields: [(String, String)], status: Int, message: String)] = [
            ([("csrf", csrf), ("action", "delivery"), ("delivery", "weekly"), ("weekday", "1"), ("time", "07:30"),
              ("timezone", "Mars/Olympus_Mons")], 400, "Choose a time zone from the list."),
            ([("csrf", csrf), ("action", "delivery"), ("delivery", "daily"), ("time", "25:00"), ("timezone", "UTC")],
             400, "Enter the time as HH:MM, e.g. 07:30."),
            ([("csrf", csrf), ("action", "delivery"), ("delivery", "monthly"), ("monthday", "32"), ("time", "07:30"),
              ("timezone", "UTC")], 400, "Choose a day of the month from 1 to 31."),
            ([("csrf", csrf), ("action", "drop-tables")], 400, "This form asks for nothing this page knows."),
            ([("action", "stop-all")], 403, "This form has expired. Please try again."),
            ([("csrf", String(csrf.reversed())), ("action", "stop-all")], 403, "This form has expired. Please try again."),
        ]
        for item in cases {
            let answer = try root.cgi("POST", "/settings/\(token)", contentType: Self.form, body: Self.encode(item.fields), now: Self.now)
            XCTAssertEqual(answer.status, item.status, "\(item.fields)")
            XCTAssertTrue(answer.body.contains(#"<p class="error" id="error">\#(item.message)</p>"#), "\(item.fields)")
            XCTAssertEqual(try root.dump(), before, "\(item.fields)")
        }
        // The CSRF token of another user's page does not work on this one.
        try root.ok("user", "add", "eve@example.com", now: Self.now)
        let evesToken = try self.token(root, "eve@example.com")
        let evesCSRF = try self.csrf(in: try root.cgi("GET", "/settings/\(evesToken)", now: Self.now).body)
        let beforeEve = try root.dump()
        let crossed = try root.cgi("POST", "/settings/\(token)", contentType: Self.form,
                                   body: Self.encode([("csrf", evesCSRF), ("action", "stop-all")]), now: Self.now)
        XCTAssertEqual(crossed.status, 403)
        XCTAssertEqual(crossed.stderr, "eventfilter: cgi: POST /settings/…: 403 Forbidden (the form's CSRF token does not match the page)\n")
        XCTAssertEqual(try root.dump(), beforeEve)
    }

    /// The headers of a page with a personal key in its address are on every answer under
    /// /settings, refusals included, and also when the request was refused before the pages saw it.
    func testEveryAnswerUnderSettingsCarriesTheSecurityHeaders() throws {
        let root = try makeRoot()
        let token = try token(root)
        let page = "/settings/\(token)"
        var answers: [(String, CGIAnswer)] = [
            ("page", try root.cgi("GET", page, now: Self.now)),
            ("wrong token", try root.cgi("GET", "/settings/" + String(repeating: "A", count: 43), now: Self.now)),
            ("method", try root.cgi("PUT", page, now: Self.now)),
            ("csrf", try root.cgi("POST", page, contentType: Self.form, body: "action=stop-all", now: Self.now)),
            ("over the body limit", try root.cgi("POST", page, contentType: Self.form, body: "", contentLength: 1 << 30, now: Self.now)),
            ("short body", try root.cgi("POST", page, contentType: Self.form, body: "action=x", contentLength: 100, now: Self.now)),
            ("double slashes", try root.cgi("POST", "//settings//x", contentType: Self.form, body: "", contentLength: 1 << 30, now: Self.now)),
        ]
        try root.write("settings/webhooks.ini", "[WebhookSettings]\nBodyLimit=lots\n")
        answers.append(("webhooks.ini broken", try root.cgi("GET", page, now: Self.now)))
        try root.write("settings/webhooks.ini", "")
        try root.write("settings/site.ini", "[SiteSettings]\nSiteName=Test Site\n")
        answers.append(("site.ini broken", try root.cgi("GET", page, now: Self.now)))
        XCTAssertEqual(answers.map { $0.1.status }, [200, 404, 405, 403, 413, 400, 413, 500, 500])
        for (name, answer) in answers {
            XCTAssertEqual(answer.headers["cache-control"], "no-store", name)
            XCTAssertEqual(answer.headers["referrer-policy"], "no-referrer", name)
            XCTAssertEqual(answer.headers["x-frame-options"], "DENY", name)
            XCTAssertEqual(answer.headers["content-security-policy"],
                           "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'", name)
            XCTAssertFalse(answer.stderr.contains(token), name)
        }
        // A webhook's answer is the sender's business: it gets no page headers.
        XCTAssertNil(try root.cgi("POST", "/nosuchsource", contentType: Self.form, body: "", contentLength: 1 << 30,
                                  now: Self.now).headers["content-security-policy"])
    }

    /// A personal link that reaches the program by a wrong path (a prefix the web server did not
    /// cut, a server mounted on the settings URL itself) is refused without its token in the log.
    func testATokenOnAWrongPathStaysOutOfTheLog() throws {
        let root = try makeRoot()
        let token = try token(root)
        for (path, logged) in [("/notification/settings/\(token)", "/notification/settings/…: 404 Not Found"),
                               ("/\(token)", "/…: 404 Not Found"), ("/./unsubscribe/\(token)", "/./unsubscribe/…: 404 Not Found"),
                               ("/settings/\(token)/x/y", "/settings/…: 404 not found")] {
            let answer = try root.cgi("GET", path, now: Self.now)
            XCTAssertEqual(answer.status, 404, path)
            XCTAssertEqual(answer.stderr, "eventfilter: cgi: GET \(logged)\n", path)
        }
        // A path with no secret is still logged whole, with the refusal's own words.
        XCTAssertEqual(try root.cgi("GET", "/x/y", now: Self.now).stderr,
                       "eventfilter: cgi: GET /x/y: 404 no webhook source at '/x/y'; POST to /NAME\n")
    }

    func testChangesMoveWaitingDigestItemsAndStopAllStopsEverything() throws {
        let root = try makeRoot()
        try root.ok("collaboration", "subscribe", "bob@example.com", "ezapprove", now: Self.now)
        try root.ok("digest", "bob@example.com", "daily", "08:00", now: Self.now)
        try root.ok("event", "add", "ezpublish", "node_id=77", "path=/1/2/60/77/", "name=Item", "class=Article",
                    "author=ann@example.com", "version=1", "url=/item", now: Self.now)
        try root.ok("run", now: Self.now)
        XCTAssertEqual(try root.scalar("SELECT send_at FROM digest_item"), 1_767_859_200)  // 2026-01-08T08:00Z
        let token = try token(root)
        let csrf = try csrf(in: try root.cgi("GET", "/settings/\(token)", now: Self.now).body)
        let saved = try root.cgi("POST", "/settings/\(token)", contentType: Self.form, body: Self.encode([
            ("csrf", csrf), ("action", "delivery"), ("delivery", "monthly"), ("monthday", "31"), ("time", "06:15"),
            ("timezone", "Europe/Oslo"),
        ]), now: Self.now)
        XCTAssertEqual(saved.status, 200)
        XCTAssertTrue(saved.body.contains("Saved. Mail now comes in a monthly digest on day 31 at 06:15 Europe/Oslo time."))
        // 31 January 2026, 06:15 in Oslo (UTC+1).
        XCTAssertEqual(try root.scalar("SELECT send_at FROM digest_item"), 1_769_836_500)
        XCTAssertTrue(try root.ok("user", "show", "bob@example.com", now: Self.now).contains("digest:        monthly 31 06:15"))

        let stopped = try root.cgi("POST", "/settings/\(token)", contentType: Self.form,
                                   body: Self.encode([("csrf", csrf), ("action", "stop-all")]), now: Self.now)
        XCTAssertEqual(stopped.status, 200)
        XCTAssertTrue(stopped.body.contains("You get no more mail from Test Site."))
        XCTAssertTrue(stopped.body.contains("You follow nothing."))
        XCTAssertEqual(try root.scalar("SELECT count(*) FROM subtree_rule") + (try root.scalar("SELECT count(*) FROM collaboration_rule")), 0)
    }

    func testSignedFollowLinkMadeWithTheReadmeOneLiner() throws {
        let site = TestRoot.defaultSiteINI.replacingOccurrences(of: "[MailSettings]", with: "FollowSecret=s3cret-follow\n\n[MailSettings]")
        let root = try makeRoot(siteINI: site)
        // The README's shell lines, as written, with the secret in the environment.
        let readme = try SettingsBrowserEndToEndTests.readmeBlock("sh", "  email=bob@example.com node=60 expires=$(( $(date +%s) + 7*86400 ))")
        // The block sits in a list item: it is indented and ends at an indented fence.
        let script = (readme.components(separatedBy: "\n  ```").first ?? "").split(separator: "\n").map { $0.hasPrefix("  ") ? String($0.dropFirst(2)) : String($0) }
            .joined(separator: "\n").replacingOccurrences(of: "node=60", with: "node=99")
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.arguments = ["-c", script]
        shell.environment = ["PATH": "/usr/bin:/bin", "FOLLOW_SECRET": "s3cret-follow"]
        let pipe = Pipe()
        shell.standardOutput = pipe
        try shell.run()
        let link = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        shell.waitUntilExit()
        XCTAssertEqual(shell.terminationStatus, 0)
        let url = try XCTUnwrap(URLComponents(string: link))
        XCTAssertEqual(url.path, "/notification/settings/follow")
        let query = try XCTUnwrap(url.percentEncodedQuery)
        let now = Timestamp.iso8601(Timestamp.now())

        let before = try root.dump()
        let shown = try root.cgi("GET", "/settings/follow", query: query, now: now)
        XCTAssertEqual(shown.status, 200)
        XCTAssertTrue(shown.body.contains(#"<button type="submit" id="follow">Keep me updated</button>"#))
        XCTAssertEqual(try root.dump(), before, "opening the link subscribes nobody")
        for (name, bad) in [("node", "node=98"), ("sig", "sig=00"), ("expires", "expires=1")] {
            let tampered = query.split(separator: "&").map { $0.hasPrefix(name + "=") ? bad : String($0) }.joined(separator: "&")
            XCTAssertEqual(try root.cgi("POST", "/settings/follow", contentType: Self.form, body: tampered, now: now).status, 404, name)
        }
        XCTAssertEqual(try root.dump(), before)
        let followed = try root.cgi("POST", "/settings/follow", contentType: Self.form, body: query, now: now)
        XCTAssertEqual(followed.status, 200)
        XCTAssertTrue(followed.body.contains("You now get mail when node 99 changes."))
        XCTAssertEqual(try root.ok("user", "list", now: Self.now).contains("nodes: 60,99"), true)
    }

    /// A link signed with the right secret still opens nothing once it has expired, for another
    /// address than the one signed, or for an address the store does not know.
    func testASignedFollowLinkIsBoundToItsAddressAndExpiry() throws {
        let site = TestRoot.defaultSiteINI.replacingOccurrences(of: "[MailSettings]", with: "FollowSecret=s3cret-follow\n\n[MailSettings]")
        let root = try makeRoot(siteINI: site)
        try root.ok("user", "add", "eve@example.com", now: Self.now)
        let now: Int64 = 1_767_798_000   // 2026-01-07T15:00:00Z
        func link(_ email: String, _ node: String, _ expires: Int64, signedFor signed: String? = nil) -> String {
            let message = SettingsPages.followMessage(email: signed ?? email, node: node, expires: expires)
            let sig = Crypto.hexEncode(Crypto.hmac(.sha256, key: Array("s3cret-follow".utf8), data: Array(message.utf8)))
            return Self.encode([("email", email), ("node", node), ("expires", String(expires)), ("sig", sig)])
        }
        let before = try root.dump()
        let refused = [
            link("bob@example.com", "99", now - 1),                                   // expired a second ago
            link("eve@example.com", "99", now + 3600, signedFor: "bob@example.com"),   // Bob's signature, Eve's address
            link("nobody@example.com", "99", now + 3600),                              // signed, but no such subscriber
        ]
        for query in refused {
            for answer in [try root.cgi("GET", "/settings/follow", query: query, now: Self.now),
                           try root.cgi("POST", "/settings/follow", contentType: Self.form, body: query, now: Self.now)] {
                XCTAssertEqual(answer.status, 404, query)
                XCTAssertEqual(answer.body, "not found\n", query)
                XCTAssertFalse(answer.stderr.contains("sig="), answer.stderr)
            }
        }
        XCTAssertEqual(try root.dump(), before)
        // The same link, valid until this very second, works.
        let followed = try root.cgi("POST", "/settings/follow", contentType: Self.form, body: link("bob@example.com", "99", now), now: Self.now)
        XCTAssertEqual(followed.status, 200)
        XCTAssertTrue(try root.ok("user", "list", now: Self.now).contains("nodes: 60,99"))
    }

    func testTokenFollowShowsAButtonAndNeedsTheCSRFToken() throws {
        let root = try makeRoot()
        let token = try token(root)
        let shown = try root.cgi("GET", "/settings/\(token)/follow", query: "node=42", now: Self.now)
        XCTAssertEqual(shown.status, 200)
        let csrf = try csrf(in: shown.body)
        let before = try root.dump()
        let forged = try root.cgi("POST", "/settings/\(token)/follow", contentType: Self.form, body: "node=42&csrf=x", now: Self.now)
        XCTAssertEqual(forged.status, 403)
        XCTAssertEqual(try root.dump(), before)
        let followed = try root.cgi("POST", "/settings/\(token)/follow", contentType: Self.form,
                                    body: Self.encode([("node", "42"), ("csrf", csrf)]), now: Self.now)
        XCTAssertEqual(followed.status, 200)
        XCTAssertTrue(try root.ok("user", "list", now: Self.now).contains("nodes: 42,60"))
    }

    func testValuesAreEscapedAndAnExtensionOverridesAPage() throws {
        let root = try makeRoot()
        try root.ok("event", "add", "ezpublish", "node_id=60", "path=/1/2/60/", #"name=<img src=x onerror="alert(1)">"#,
                    "class=Folder", "author=ann@example.com", "version=1", "url=/x", now: Self.now)
        let page = try root.cgi("GET", "/settings/\(try token(root))", now: Self.now)
        XCTAssertTrue(page.body.contains("Notification settings for Bob &lt;b&gt;Reader&lt;/b&gt;"))
        XCTAssertTrue(page.body.contains("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"))
        XCTAssertFalse(page.body.contains("<img"))

        try root.write("settings/site.ini", TestRoot.defaultSiteINI + "[ExtensionSettings]\nActiveExtensions[]=mysite\n")
        try root.write("extension/mysite/templates/settings/request.html", "<p>Ask {{site_name}} for a link</p>\n")
        XCTAssertEqual(try root.cgi("GET", "/settings", now: Self.now).body, "<p>Ask Test Site for a link</p>\n\n")
    }

    func testEveryMessageCarriesItsReadersOwnLink() throws {
        let root = try makeRoot()
        try root.ok("user", "add", "ann@example.com", now: Self.now)
        try root.ok("subscribe", "ann@example.com", "60", now: Self.now)
        for node in ["77", "78"] {
            try root.ok("event", "add", "ezpublish", "node_id=\(node)", "path=/1/2/60/\(node)/", "name=Item \(node)", "class=Article",
                        "author=carl@example.com", "version=1", "url=/\(node)", now: Self.now)
        }
        try root.ok("run", now: Self.now)
        try root.ok("event", "add", "ezpublish", "node_id=79", "path=/1/2/60/79/", "name=Item 79", "class=Article",
                    "author=carl@example.com", "version=1", "url=/79", now: Self.now)
        try root.ok("run", now: "2026-01-07T16:00:00Z")
        let pattern = #"https://example.com/notification/settings/[A-Za-z0-9_-]{43}"#
        func links(_ email: String) throws -> [String] {
            try root.mails().filter { $0.to.contains(email) }.map { mail in
                let text = try XCTUnwrap(mail.text.range(of: pattern, options: .regularExpression))
                let html = try XCTUnwrap(mail.html?.range(of: pattern, options: .regularExpression))
                XCTAssertEqual(mail.text[text], mail.html?[html], "the text and HTML parts carry the same link")
                return String(mail.text[text])
            }
        }
        let bobs = try links("bob@example.com"), anns = try links("ann@example.com")
        XCTAssertEqual(bobs.count, 3)
        XCTAssertEqual(anns.count, 3)
        // One link per reader and run; a later run's link does not end the earlier one.
        XCTAssertEqual(bobs[0], bobs[1])
        XCTAssertNotEqual(bobs[1], bobs[2])
        XCTAssertTrue(Set(bobs).isDisjoint(with: anns))
        for (link, email) in [(bobs[0], "bob@example.com"), (bobs[2], "bob@example.com"), (anns[0], "ann@example.com")] {
            let page = try root.cgi("GET", String(link.dropFirst("https://example.com/notification".count)), now: Self.now)
            XCTAssertEqual(page.status, 200)
            XCTAssertTrue(page.body.contains("goes to <strong>\(email)</strong>"), email)
            XCTAssertFalse(page.body.contains(email == "bob@example.com" ? "ann@example.com" : "bob@example.com"))
        }
    }

    func testASiteINIProblemBreaksOnlyTheSettingsPages() throws {
        let root = try makeRoot()
        try root.write("settings/site.ini", "[SiteSettings]\nSiteName=Test Site\n")  // no sender address
        let page = try root.cgi("GET", "/settings", now: Self.now)
        XCTAssertEqual(page.status, 500)
        XCTAssertEqual(page.body, "the settings pages are misconfigured\n")
        XCTAssertTrue(page.stderr.hasPrefix("eventfilter: cgi: GET /settings: 500 the settings pages are misconfigured (site.ini"),
                      page.stderr)
        // The rest of the web front still answers as before.
        XCTAssertEqual(try root.cgi("POST", "/nosuchsource", contentType: Self.form, body: "a=1", now: Self.now).status, 404)
    }
}
