import Foundation
import XCTest

@testable import EventFilterKit

/// Panda (token in the URL or a header) and EnableX (HTTP Basic) notifications, with the payload
/// shapes of seeds 001 (Panda) and 004 (EnableX).
final class WebhookPandaEnableXTests: XCTestCase {
    private let token = "pnd-7f3a9c"
    private let credentials = "hooks:pa55word"
    private var panda: WebhookSource { WebhookSource(name: "panda", type: .panda, secret: token, pathPrefix: "/videos/") }
    private var enablex: WebhookSource { WebhookSource(name: "enablex", type: .enablex, secret: credentials) }

    private func panda(
        _ body: String, query: String = "token=pnd-7f3a9c", headers: [(String, String)] = [],
        source: WebhookSource? = nil
    ) -> WebhookVerdict {
        WebhookVerifier.process(
            WebhookFixtures.post(body, contentType: WebhookFixtures.form, headers: headers, query: query, path: "/panda"),
            source: source ?? panda, now: 0, bodyLimit: 1 << 16)
    }

    private func enablex(_ body: String, authorization: String? = "Basic aG9va3M6cGE1NXdvcmQ=") -> WebhookVerdict {
        // aG9va3M6cGE1NXdvcmQ= is base64("hooks:pa55word"), from `printf hooks:pa55word | base64`.
        WebhookVerifier.process(
            WebhookFixtures.post(
                body, contentType: "application/json", headers: authorization.map { [("Authorization", $0)] } ?? [],
                path: "/enablex"),
            source: enablex, now: 0, bodyLimit: 1 << 16)
    }

    // MARK: Panda

    func testVideoEncodedWithTokenInTheQuery() {
        let body = "event=video-encoded&video_id=bfa6029038de24e4494f20a166700021&encoding_ids%5B0%5D=firstid&encoding_ids%5B1%5D=secondid"
        let events = WebhookFixtures.events(panda(body))
        XCTAssertEqual(events.count, 1)
        let event = events[0]
        XCTAssertEqual(event.type, "panda.video-encoded")
        XCTAssertEqual(WebhookFixtures.string(event, "path"), "/videos/bfa6029038de24e4494f20a166700021/")
        XCTAssertEqual(WebhookFixtures.string(event, "node_id"), "bfa6029038de24e4494f20a166700021")
        XCTAssertEqual(event.params["encoding_ids"], ["firstid", "secondid"])
        XCTAssertNil(event.params["quiet"])
        // sha256 of the body, from `printf %s "$body" | sha256sum`.
        XCTAssertEqual(
            event.dedupeKey, "panda:panda:sha256:712bccecde5e6efa47a8e2752b72d97f74f2f871bebf5b8704a5e3aab66d36c7")
    }

    func testTokenInAHeader() {
        let events = WebhookFixtures.events(
            panda("event=video-created&video_id=123234", query: "", headers: [("X-Eventfilter-Token", token)]))
        XCTAssertEqual(events.first?.type, "panda.video-created")
        XCTAssertEqual(events.first.flatMap { WebhookFixtures.string($0, "path") }, "/videos/123234/")
    }

    func testMissingAndWrongTokens() {
        WebhookFixtures.assertRejected(panda("event=video-created&video_id=1", query: ""), 401, secret: token)
        WebhookFixtures.assertRejected(panda("event=video-created&video_id=1", query: "token="), 401, secret: token)
        WebhookFixtures.assertRejected(panda("event=video-created&video_id=1", query: "token=pnd-7f3a9d"), 403, secret: token)
        WebhookFixtures.assertRejected(panda("event=video-created&video_id=1", query: "token=pnd-7f3a9"), 403, secret: token)
        WebhookFixtures.assertRejected(
            panda("event=video-created&video_id=1", query: "", headers: [("X-Eventfilter-Token", "nope")]), 403, secret: token)
    }

    func testEncodingProgressIsQuietUnlessTheSourceAsks() {
        let body = "event=encoding-progress&encoding_id=firstid&progress=23"
        let quiet = WebhookFixtures.events(panda(body))[0]
        XCTAssertEqual(quiet.type, "panda.encoding-progress")
        XCTAssertEqual(quiet.params["quiet"], .bool(true))
        XCTAssertEqual(WebhookFixtures.string(quiet, "progress"), "23")
        XCTAssertEqual(WebhookFixtures.string(quiet, "path"), "/videos/", "no video id: the source's own level")

        var loud = panda
        loud.mailProgress = true
        XCTAssertNil(WebhookFixtures.events(panda(body, source: loud))[0].params["quiet"])
    }

    func testEncodingCompleteAndUnknownEvents() {
        XCTAssertEqual(WebhookFixtures.events(panda("event=encoding-complete&encoding_id=e1"))[0].type, "panda.encoding-complete")
        XCTAssertEqual(
            WebhookFixtures.events(panda("event=video-deleted&video_id=v9"))[0].type, "panda.video-deleted",
            "a new Panda event is stored, not bounced forever")
    }

    func testMalformedPandaBodies() {
        WebhookFixtures.assertRejected(panda("video_id=1"), 400, secret: token, mentioning: "event")
        WebhookFixtures.assertRejected(panda("event=video-encoded"), 400, secret: token, mentioning: "video_id")
        WebhookFixtures.assertRejected(panda("event=encoding-progress&progress=3"), 400, secret: token, mentioning: "encoding_id")
        WebhookFixtures.assertRejected(panda("event=video-encoded&video_id=%E0"), 400, secret: token)
        WebhookFixtures.assertRejected(panda("event=video-encoded&video_id=a%2Fb"), 400, secret: token, mentioning: "path")
        WebhookFixtures.assertRejected(panda("event=bad%20name&video_id=1"), 400, secret: token)
    }

    func testPandaReplayHasTheSameKeyAndDifferentBodiesDiffer() {
        let first = WebhookFixtures.events(panda("event=encoding-progress&encoding_id=e1&progress=10"))[0]
        let again = WebhookFixtures.events(panda("event=encoding-progress&encoding_id=e1&progress=10"))[0]
        let later = WebhookFixtures.events(panda("event=encoding-progress&encoding_id=e1&progress=20"))[0]
        XCTAssertEqual(first.dedupeKey, again.dedupeKey)
        XCTAssertNotEqual(first.dedupeKey, later.dedupeKey)
    }

    // MARK: EnableX

    func testRecordingBecomesLinks() {
        let body = #"{"type":"recording","trans_date":"1700000000","app_id":"app1","room_id":"room-a","conf_num":"c9","recording":["https://files.enablex.io/rec/room-a-1.mp4","https://files.enablex.io/rec/room-a-2.mp4?sig=x"]}"#
        let events = WebhookFixtures.events(enablex(body))
        XCTAssertEqual(events.count, 1)
        let event = events[0]
        XCTAssertEqual(event.type, "enablex.recording")
        XCTAssertEqual(WebhookFixtures.string(event, "path"), "/enablex/app1/room-a/")
        XCTAssertEqual(WebhookFixtures.string(event, "node_id"), "room-a")
        XCTAssertEqual(WebhookFixtures.string(event, "conf_num"), "c9")
        XCTAssertEqual(
            event.params["links"],
            [
                ["title": "room-a-1.mp4", "url": "https://files.enablex.io/rec/room-a-1.mp4"],
                ["title": "room-a-2.mp4", "url": "https://files.enablex.io/rec/room-a-2.mp4?sig=x"],
            ])
        XCTAssertTrue(event.dedupeKey.hasPrefix("enablex:enablex:sha256:"))
    }

    func testTranscodedFileTransferAndRoomdrop() {
        let transcoded = #"{"type":"transcoded","app_id":"app1","room_id":"r1","recording":"http://cdn.example/t/r1.mp4","stage":"1","file_size":"1024"}"#
        XCTAssertEqual(
            WebhookFixtures.events(enablex(transcoded))[0].params["links"], [["title": "r1.mp4", "url": "http://cdn.example/t/r1.mp4"]])

        let transfer = #"{"type":"file-transfer","app_id":"app1","room_id":"r1","destination":{"name":"awss3","account":"acme"},"files":[{"url":"https://s3.example/"},{"url":"javascript:alert(1)"},{"url":"sftp://h/f.mp4"},{"url":"https://s3.example/b/room%20a.mp4"}]}"#
        let links = WebhookFixtures.events(enablex(transfer))[0].params["links"]
        XCTAssertEqual(
            links,
            [
                ["title": "Recording 1", "url": "https://s3.example/"],
                ["title": "room a.mp4", "url": "https://s3.example/b/room%20a.mp4"],
            ], "only web URLs become links, titled by file name")

        let roomdrop = #"{"type":"roomdrop","trans_date":"1700000000","app_id":"app1","room_id":"r1","conf_num":"c1"}"#
        let event = WebhookFixtures.events(enablex(roomdrop))[0]
        XCTAssertEqual(event.type, "enablex.roomdrop")
        XCTAssertEqual(event.params["links"], [])
    }

    func testWrongAndMissingBasicAuth() {
        let body = #"{"type":"roomdrop","app_id":"app1","room_id":"r1"}"#
        WebhookFixtures.assertRejected(enablex(body, authorization: nil), 401, secret: credentials)
        WebhookFixtures.assertRejected(enablex(body, authorization: "Bearer abc"), 401, secret: credentials)
        WebhookFixtures.assertRejected(enablex(body, authorization: "Basic ###"), 401, secret: credentials)
        // base64("hooks:pa55wort") and base64("hooks:") and base64("hooks:pa55word:")
        WebhookFixtures.assertRejected(enablex(body, authorization: "Basic aG9va3M6cGE1NXdvcnQ="), 403, secret: credentials)
        WebhookFixtures.assertRejected(enablex(body, authorization: "Basic aG9va3M6"), 403, secret: credentials)
        WebhookFixtures.assertRejected(enablex(body, authorization: "Basic aG9va3M6cGE1NXdvcmQ6"), 403, secret: credentials)
        XCTAssertEqual(WebhookFixtures.events(enablex(body, authorization: "basic  aG9va3M6cGE1NXdvcmQ=")).count, 1, "scheme is case-insensitive")
    }

    func testMalformedEnableXBodies() {
        WebhookFixtures.assertRejected(enablex("type=roomdrop"), 400, secret: credentials)
        WebhookFixtures.assertRejected(enablex(#"{"app_id":"a"}"#), 400, secret: credentials, mentioning: "type")
        WebhookFixtures.assertRejected(enablex(#"{"type":"roomdrop"}"#), 400, secret: credentials, mentioning: "app_id")
        WebhookFixtures.assertRejected(enablex(#"{"type":"roomdrop","app_id":"a","room_id":"x/y"}"#), 400, secret: credentials)
        // Unauthenticated garbage is refused for its credentials, before anyone parses it.
        WebhookFixtures.assertRejected(enablex("{{{", authorization: nil), 401, secret: credentials)
    }
}
