import XCTest
@testable import EventFilterKit

/// The sink: a digest row for a reader with a schedule, a queued message for everyone else (and
/// for everyone when the items must go at once); it counts only what was committed.
final class ItemSinkTests: XCTestCase {
    private func items(_ run: RunFixture, delivery: Items.Delivery, to emails: [String]) throws -> Items {
        let content = try run.renderer.render(bases: ["event"], handler: "ezsubtree", thread: nil,
                                              ["name": .text("Spring news"), "type": .text("kaltura.entry_add")])
        let recipients = try emails.map { email -> Recipient in
            let user = try XCTUnwrap(try run.store.user(email: email))
            return Recipient(userID: user.id, email: email, name: "", timezone: "UTC",
                             digest: try run.store.digestSchedule(userID: user.id), unsubscribeToken: nil)
        }
        return Items(content: content, recipients: recipients, delivery: delivery)
    }

    func testADigestReaderGetsARowAndEveryoneElseAMessageCountedOnceCommitted() throws {
        let run = try RunFixture()
        try run.user("ann@example.com", digest: ["daily", "08:00"])
        try run.user("bob@example.com")
        let event = try run.event("kaltura.entry_add", ["name": "Spring news"])
        let mail = try items(run, delivery: .recipientSetting, to: ["ann@example.com", "bob@example.com"])

        try run.sink.inTransaction {
            try run.sink.accept([.mail(mail)], event: event)
            XCTAssertEqual(run.sink.pending, ItemSink.Counts(messagesQueued: 1, digestItems: 1))
            XCTAssertEqual(run.sink.committed, ItemSink.Counts(), "nothing counts before the commit")
        }
        XCTAssertEqual(run.sink.committed, ItemSink.Counts(messagesQueued: 1, digestItems: 1))
        XCTAssertEqual(try run.queued().map { $0.components(separatedBy: ":")[0] }, ["bob@example.com"])
        let digestRow = try run.store.db.first("""
            SELECT u.email, i.send_at FROM digest_item AS i JOIN user AS u ON u.id = i.user_id
            """) { (try $0.string("email"), try $0.int64("send_at")) }
        XCTAssertEqual(digestRow?.0, "ann@example.com")
        XCTAssertEqual(digestRow?.1, run.now + 20 * 3600, "ann's next 08:00 UTC is tomorrow's")
        XCTAssertEqual(try run.count("content"), 1)
    }

    func testItemsThatMustGoAtOnceSkipTheDigest() throws {
        let run = try RunFixture()
        try run.user("ann@example.com", digest: ["daily", "08:00"])
        let event = try run.event("ezcollaboration", ["identifier": "ezapprove", "participants": [["email": "ann@example.com", "role": "approver"]]])
        try run.sink.inTransaction {
            try run.sink.accept([.mail(try items(run, delivery: .immediate, to: ["ann@example.com"]))], event: event)
        }
        XCTAssertEqual(run.sink.committed, ItemSink.Counts(messagesQueued: 1))
        XCTAssertEqual(try run.count("digest_item"), 0)
        XCTAssertEqual(try run.count("content"), 0)
    }

    /// A handler's messages for one event are written inside the transaction (on PostgreSQL
    /// together, in one statement sent once the next event's items come, or at the
    /// transaction's end), each message's bytes under the id of its own state row.
    func testEachMessageOfAHandlerIsStoredUnderItsOwnIDInsideItsTransaction() throws {
        let run = try RunFixture()
        run.store.heldMessagesPerCopy = 4  // PostgreSQL: the first event's four go once held
        let emails = (1...7).map { "reader\($0)@example.com" }
        for email in emails { try run.user(email) }
        let first = try run.event("ezpublish", ["node_id": "60"])
        let second = try run.event("ezpublish", ["node_id": "61"])
        try run.sink.inTransaction {
            try run.sink.accept([.mail(try items(run, delivery: .immediate, to: Array(emails[..<4])))], event: first)
            try run.sink.accept([.mail(try items(run, delivery: .immediate, to: Array(emails[4...])))], event: second)
            XCTAssertGreaterThanOrEqual(try run.count("outbox"), 4, "the first event's are written once the next event's came")
            XCTAssertEqual(try run.count("outbox_message"), try run.count("outbox"))
        }
        let stored = try run.store.db.map("""
            SELECT recipient, message FROM outbox JOIN outbox_message ON outbox_message.outbox_id = outbox.id ORDER BY outbox.id
            """) { (try $0.string("recipient"), try ParsedMail(bytes: try $0.bytes("message"))) }
        XCTAssertEqual(stored.map(\.0), emails, "queued in the handlers' order, all committed")
        for (recipient, mail) in stored {
            XCTAssertEqual(mail.header("To"), recipient, "each message's bytes are its own recipient's")
        }
    }

    /// Messages of a transaction that fails are never written, not even by the next one.
    func testMessagesOfAFailedTransactionAreNotWrittenByTheNextOne() throws {
        struct Stop: Error {}
        let run = try RunFixture()
        try run.user("ann@example.com")
        try run.user("bob@example.com")
        let event = try run.event("ezpublish", ["node_id": "60"])
        XCTAssertThrowsError(try run.sink.inTransaction {
            try run.sink.accept([.mail(try items(run, delivery: .immediate, to: ["ann@example.com"]))], event: event)
            throw Stop()
        })
        XCTAssertEqual(try run.count("outbox"), 0)
        XCTAssertEqual(run.sink.committed, ItemSink.Counts())
        try run.sink.inTransaction {
            try run.sink.accept([.mail(try items(run, delivery: .immediate, to: ["bob@example.com"]))], event: event)
        }
        XCTAssertEqual(try run.queued().map { $0.components(separatedBy: ":")[0] }, ["bob@example.com"])
        XCTAssertEqual(try run.count("outbox_message"), 1)
        XCTAssertEqual(run.sink.committed, ItemSink.Counts(messagesQueued: 1))
    }

    func testItemsThatCannotBeWrittenLeaveNothingAndCountNothing() throws {
        let run = try RunFixture()
        try run.user("bob@example.com")
        let event = try run.event("ezpublish", ["node_id": "60"])
        var good = try items(run, delivery: .recipientSetting, to: ["bob@example.com"])
        var bad = good
        bad.recipients[0].timezone = "Not/AZone"
        good.recipients.append(bad.recipients[0])
        let before = try run.count("outbox")
        try run.sink.inTransaction {
            XCTAssertThrowsError(try run.sink.accept([.nodeDeleted(node: "60", at: run.now), .mail(good)], event: event))
            XCTAssertEqual(run.sink.pending, ItemSink.Counts())
        }
        XCTAssertEqual(run.sink.committed, ItemSink.Counts())
        XCTAssertEqual(try run.count("outbox"), before, "the first message of the pair went back with the savepoint")
        XCTAssertEqual(try run.count("outbox_message"), before, "and its bytes with it")
        XCTAssertEqual(try run.count("deleted_node"), 0)
    }

    func testARolledBackTransactionIsNotCounted() throws {
        let run = try RunFixture()
        try run.user("bob@example.com")
        let event = try run.event("ezpublish", ["node_id": "60"])
        struct Stop: Error {}
        XCTAssertThrowsError(try run.sink.inTransaction {
            try run.sink.accept([.mail(try items(run, delivery: .recipientSetting, to: ["bob@example.com"]))], event: event)
            throw Stop()
        })
        XCTAssertEqual(run.sink.committed, ItemSink.Counts())
        XCTAssertEqual(run.sink.pending, ItemSink.Counts())
        XCTAssertEqual(try run.count("outbox"), 0)
    }
    func testDigestReadersInZonesOfTheirOwnEachWaitForTheirOwnNextTime() throws {
        let run = try RunFixture()
        for email in ["ann@example.com", "carl@example.com", "dora@example.com"] { try run.user(email, digest: ["daily", "08:00"]) }
        let event = try run.event("kaltura.entry_add", ["name": "Spring news"])
        var mail = try items(run, delivery: .recipientSetting, to: ["ann@example.com", "carl@example.com", "dora@example.com"])
        mail.recipients[1].timezone = "Asia/Tokyo"  // 21:00 there now: its next 08:00 is 11 hours away

        try run.sink.inTransaction { try run.sink.accept([.mail(mail)], event: event) }
        XCTAssertEqual(run.sink.committed, ItemSink.Counts(digestItems: 3))
        let rows = try run.store.db.map("""
            SELECT u.email, i.send_at, i.content_id FROM digest_item AS i JOIN user AS u ON u.id = i.user_id ORDER BY u.email
            """) { "\(try $0.string("email")) +\(try $0.int64("send_at") - run.now)" }
        XCTAssertEqual(rows, ["ann@example.com +\(20 * 3600)", "carl@example.com +\(11 * 3600)", "dora@example.com +\(20 * 3600)"])
        XCTAssertEqual(try run.count("content"), 1, "the readers share one content")
        XCTAssertEqual(try run.count("outbox"), 0)
    }

    func testADigestReaderWhoseZoneCannotBeReadLeavesNothingOfTheHandlersItems() throws {
        let run = try RunFixture()
        try run.user("ann@example.com", digest: ["daily", "08:00"])
        try run.user("bob@example.com", digest: ["daily", "08:00"])
        let event = try run.event("ezpublish", ["node_id": "60"])
        var mail = try items(run, delivery: .recipientSetting, to: ["ann@example.com", "bob@example.com"])
        mail.recipients[1].timezone = "Not/AZone"
        try run.sink.inTransaction {
            XCTAssertThrowsError(try run.sink.accept([.nodeDeleted(node: "60", at: run.now), .mail(mail)], event: event)) {
                XCTAssertFalse($0 is any StorageError, "the handler's failure, not the store's: the run goes on")
            }
            XCTAssertEqual(run.sink.pending, ItemSink.Counts())
        }
        XCTAssertEqual(run.sink.committed, ItemSink.Counts())
        XCTAssertEqual(try run.count("digest_item"), 0, "ann's row is not written either")
        XCTAssertEqual(try run.count("content"), 0)
        XCTAssertEqual(try run.count("deleted_node"), 0, "the deletion before it goes too")
    }

    /// Immediate mail for one reader more than the sink composes ahead, the last of whom has a time
    /// zone that cannot be read: the sink writes as it goes and fails at the last reader.
    private func moreReadersThanComposedAheadTheLastOfThemInAZoneThatCannotBeRead(_ run: RunFixture) throws -> Items {
        let content = try run.renderer.render(bases: ["event"], handler: "ezsubtree", thread: nil,
                                              ["name": .text("Spring news"), "type": .text("kaltura.entry_add")])
        var recipients = (0...ItemSink.composedAhead).map {
            Recipient(userID: nil, email: "reader\($0)@example.com", name: "", timezone: "UTC", digest: nil, unsubscribeToken: nil)
        }
        recipients[recipients.count - 1].timezone = "Not/AZone"
        return Items(content: content, recipients: recipients, delivery: .immediate)
    }

    func testMoreImmediateReadersThanAreComposedAheadStillLeaveNothingWhenTheLastCannotBeComposed() throws {
        let run = try RunFixture()
        let event = try run.event("ezpublish", ["node_id": "60"])
        let mail = try moreReadersThanComposedAheadTheLastOfThemInAZoneThatCannotBeRead(run)
        try run.sink.inTransaction {
            XCTAssertThrowsError(try run.sink.accept([.nodeDeleted(node: "60", at: run.now), .mail(mail)], event: event))
            XCTAssertEqual(run.sink.pending, ItemSink.Counts())
        }
        XCTAssertEqual(try run.count("outbox"), 0, "the \(ItemSink.composedAhead) messages written before it went back")
        XCTAssertEqual(try run.count("deleted_node"), 0)
    }

    func testAWithdrawalInAHandlerWrittenAsItGoesKeepsTheEarlierEventsDigestRowsWhenItFails() throws {
        let run = try RunFixture()
        try run.user("ann@example.com", digest: ["daily", "08:00"])
        let first = try run.event("kaltura.entry_add", ["name": "Spring news"])
        let second = try run.event("ezpublish", ["node_id": "60"])
        let many = try moreReadersThanComposedAheadTheLastOfThemInAZoneThatCannotBeRead(run)
        try run.sink.inTransaction {
            try run.sink.accept([.mail(try items(run, delivery: .recipientSetting, to: ["ann@example.com"]))], event: first)
            XCTAssertThrowsError(try run.sink.accept([.withdrawDigestItems(ofEvent: 999), .mail(many)], event: second)) {
                XCTAssertFalse($0 is any StorageError, "the handler's failure: the run goes on")
            }
        }
        XCTAssertEqual(run.sink.committed, ItemSink.Counts(digestItems: 1))
        XCTAssertEqual(try run.count("digest_item"), 1, "the first event's row stays")
        XCTAssertEqual(try run.count("content"), 1)
        XCTAssertEqual(try run.count("outbox"), 0)
    }

    /// The personal settings links in the messages queued for `email`, in queueing order.
    private func settingsLinks(_ run: RunFixture, of email: String) throws -> [String] {
        let prefix = run.site.settingsURL + "/"
        return try run.store.db.map("""
            SELECT message FROM outbox JOIN outbox_message ON outbox_message.outbox_id = outbox.id
            WHERE recipient = ? ORDER BY outbox.id
            """, [email]) { row -> String in
            let text = try ParsedMail(bytes: try row.bytes("message")).text
            let start = try XCTUnwrap(text.range(of: prefix), "the message carries a settings link").upperBound
            return String(text[start...].prefix { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        }
    }

    /// A reader's link is stored once in a transaction however many of their messages it holds;
    /// when the savepoint of a handler that stored it is undone, the reader's next message in the
    /// same transaction stores it again: every queued message's link leads to its reader.
    func testEveryQueuedMessagesSettingsLinkIsStoredAfterTheSavepointThatFirstStoredItWasUndone() throws {
        let run = try RunFixture()
        try run.user("bob@example.com")
        let first = try run.event("ezpublish", ["node_id": "60"])
        let second = try run.event("ezpublish", ["node_id": "61"])
        var many = try moreReadersThanComposedAheadTheLastOfThemInAZoneThatCannotBeRead(run)
        many.recipients[0] = try items(run, delivery: .immediate, to: ["bob@example.com"]).recipients[0]
        try run.sink.inTransaction {
            XCTAssertThrowsError(try run.sink.accept([.mail(many)], event: first), "the last reader's zone cannot be read")
            XCTAssertEqual(try run.count("settings_token"), 0, "bob's link went with the savepoint")
            try run.sink.accept([.mail(try items(run, delivery: .immediate, to: ["bob@example.com"]))], event: second)
            try run.sink.accept([.mail(try items(run, delivery: .immediate, to: ["bob@example.com"]))], event: second)
        }
        let links = try settingsLinks(run, of: "bob@example.com")
        XCTAssertEqual(links.count, 2)
        XCTAssertEqual(Set(links).count, 1, "one link per reader and run")
        for link in links { XCTAssertEqual(try run.store.settingsUser(token: link)?.email, "bob@example.com") }
        XCTAssertEqual(try run.count("settings_token"), 1)
    }

    /// The renderer gives a reader one link per run; once a transaction holding it committed,
    /// later transactions of the run do not store it again. A link revoked meanwhile (the reader
    /// asked for all links to be revoked) stays revoked: the run's later messages do not bring it
    /// back. A transaction that rolled back leaves its links unstored, and the reader's next
    /// message stores it.
    func testALinkCommittedInARunIsNotStoredAgainAndOneRolledBackIsStoredByTheNextMessage() throws {
        let run = try RunFixture()
        try run.user("bob@example.com")
        try run.user("carol@example.com")
        let event = try run.event("ezpublish", ["node_id": "60"])
        try run.sink.inTransaction {
            try run.sink.accept([.mail(try items(run, delivery: .immediate, to: ["bob@example.com"]))], event: event)
        }
        let bobsLink = try XCTUnwrap(try settingsLinks(run, of: "bob@example.com").first)
        XCTAssertEqual(try run.store.settingsUser(token: bobsLink)?.email, "bob@example.com")
        try run.store.revokeSettingsTokens(email: "bob@example.com")

        struct Stop: Error {}
        XCTAssertThrowsError(try run.sink.inTransaction {
            try run.sink.accept([.mail(try items(run, delivery: .immediate, to: ["carol@example.com"]))], event: event)
            throw Stop()
        })
        try run.sink.inTransaction {
            try run.sink.accept([.mail(try items(run, delivery: .immediate, to: ["bob@example.com", "carol@example.com"]))], event: event)
        }
        XCTAssertEqual(try settingsLinks(run, of: "bob@example.com"), [bobsLink, bobsLink], "one link per reader and run")
        XCTAssertNil(try run.store.settingsUser(token: bobsLink), "the revoked link stays revoked")
        let carolsLinks = try settingsLinks(run, of: "carol@example.com")
        XCTAssertEqual(carolsLinks.count, 1, "the rolled-back message is gone")
        XCTAssertEqual(try run.store.settingsUser(token: carolsLinks[0])?.email, "carol@example.com",
                       "her link, first stored by the transaction that rolled back, was stored by the one that committed")
        XCTAssertEqual(try run.count("settings_token"), 1)
    }

    /// An event's messages the store refuses (on PostgreSQL sent without waiting while the next
    /// event is read, the refusal read by a later statement) fail the whole transaction: no
    /// event of it is marked handled, no message of it is kept, nothing is counted, and the next
    /// transaction's statements get their own results.
    func testARefusedInsertOfAnEarlierEventsMessagesFailsTheWholeTransaction() throws {
        let run = try RunFixture()
        run.store.heldMessagesPerCopy = 1  // PostgreSQL: each event's message is sent when the next event comes
        for email in ["bad@example.com", "ann@example.com", "bob@example.com"] { try run.user(email) }
        try run.store.breakWrites("INSERT", on: "outbox_message", when: "NEW.recipient = 'bad@example.com'")
        let first = try run.event("ezpublish", ["node_id": "60"])
        let second = try run.event("ezpublish", ["node_id": "61"])
        let third = try run.event("ezpublish", ["node_id": "62"])
        XCTAssertThrowsError(try run.sink.inTransaction {
            try run.store.deferringHandledMarks(now: run.now) {
                try run.sink.accept([.mail(try items(run, delivery: .immediate, to: ["bad@example.com"]))], event: first)
                try run.store.markEventHandled(first.id, now: run.now)
                try run.sink.accept([.mail(try items(run, delivery: .immediate, to: ["ann@example.com"]))], event: second)
                try run.store.markEventHandled(second.id, now: run.now)
            }
        }) { error in
            XCTAssertTrue("\(error)".contains(BrokenWrites.message), "\(error)")
        }
        XCTAssertEqual(try run.count("outbox"), 0)
        XCTAssertEqual(try run.count("outbox_message"), 0)
        XCTAssertEqual(try run.store.db.scalarInt("SELECT count(*) FROM event WHERE handled_at IS NOT NULL"), 0)
        XCTAssertEqual(run.sink.committed, ItemSink.Counts())

        try run.sink.inTransaction {
            try run.store.deferringHandledMarks(now: run.now) {
                try run.sink.accept([.mail(try items(run, delivery: .immediate, to: ["bob@example.com"]))], event: third)
                try run.store.markEventHandled(third.id, now: run.now)
            }
        }
        XCTAssertEqual(try run.queued().map { $0.components(separatedBy: ":")[0] }, ["bob@example.com"])
        XCTAssertEqual(try run.store.db.scalarInt("SELECT count(*) FROM event WHERE handled_at IS NOT NULL"), 1)
        XCTAssertEqual(run.sink.committed, ItemSink.Counts(messagesQueued: 1))
    }
}
