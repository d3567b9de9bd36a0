/// The receiving end of every webhook: verify, store, answer. `eventfilter ingest` calls it
/// directly; `eventfilter cgi` and `eventfilter fastcgi` reach it through `Router`, so a request
/// gets the same answer whichever way it arrives.
///
///     let intake = WebhookIntake(store: store, sources: try WebhookSources.load(settings: settings),
///                                bodyLimit: try WebhookSources.bodyLimit(settings: settings))
///     let answer = intake.accept(request, sourceName: "panda", now: now)
///     write(answer.response.cgiBytes)
///
/// Storing commits every event of a request in one transaction before the answer, so a 200 means
/// "stored" and anything else means "nothing stored". Duplicates (a sender's retry, a replay)
/// answer 200 and store nothing. When storing fails the answer is 500, so the sender retries.
///
/// One-click unsubscribe (RFC 8058) lives here too, because it is the other thing a web server
/// forwards to the web front: `POST /unsubscribe/TOKEN` removes what the token names (a rule,
/// what the user's digests carry, or everything: see `Store.unsubscribe(token:)`) and answers 200
/// whether or not it still existed; `GET` shows a page with a button that POSTs,
/// so mail scanners that follow links unsubscribe nobody.
public final class WebhookIntake {
    public let store: Store
    public let sources: [String: WebhookSource]
    public let bodyLimit: Int

    public init(store: Store, sources: [String: WebhookSource], bodyLimit: Int = WebhookSources.defaultBodyLimit) {
        self.store = store
        self.sources = sources
        self.bodyLimit = bodyLimit
    }

    /// What became of one request.
    public struct Answer: Sendable, Equatable {
        /// What to send back.
        public var response: HTTPResponse
        /// The ids of the request's events, new or already stored, in the order the request gave them.
        public var eventIDs: [Int64]
        /// How many of `eventIDs` this request stored (the rest were duplicates).
        public var storedCount: Int
        /// More than the sender is told, for the operator's log (never a secret); nil when all went well.
        public var logDetail: String?

        public init(_ response: HTTPResponse, eventIDs: [Int64] = [], storedCount: Int = 0, logDetail: String? = nil) {
            self.response = response
            self.eventIDs = eventIDs
            self.storedCount = storedCount
            self.logDetail = logDetail
        }
    }

    /// A request checked and ready to store, or the answer that refuses it.
    public enum Verified {
        /// Store these events of `source` (with `store(_:now:)`).
        case events(WebhookSource, [IncomingEvent])
        /// Nothing to store: send this answer.
        case refused(Answer)
    }

    /// Verifies and stores one request for the source `sourceName`.
    public func accept(_ request: HTTPRequest, sourceName: String, now: Int64) -> Answer {
        store(verify(request, sourceName: sourceName, now: now), now: now)
    }

    /// The part of `accept` that reads no store: the source, the signature or token, the body.
    /// The web front runs it before it takes the write lock, so that other writers wait only for
    /// the storing.
    public func verify(_ request: HTTPRequest, sourceName: String, now: Int64) -> Verified {
        guard let source = sources[sourceName] else {
            return .refused(Answer(HTTPResponse(status: 404, body: "no webhook source named \(IngestText.quoted(sourceName))")))
        }
        let verdict = WebhookVerifier.process(request, source: source, now: now, bodyLimit: bodyLimit)
        if let refusal = verdict.rejectionResponse(for: source) { return .refused(Answer(refusal)) }
        guard case .accepted(let events) = verdict else { return .refused(Answer(HTTPResponse(status: 500, body: "no verdict"))) }

        // A value the store cannot take (an event name too long for a type, a node id with a
        // space) is the sender's to fix: 400, so it does not retry for ever as after a 500.
        for event in events {
            do {
                try Store.validateEvent(type: event.type, params: event.params)
            } catch let error as EventFilterError {
                return .refused(Answer(HTTPResponse(status: 400, body: "cannot store this notification: \(Self.oneLine(error.description))")))
            } catch {
                return .refused(Answer(HTTPResponse(status: 400, body: "cannot store this notification")))
            }
        }
        return .events(source, events)
    }

    /// The part of `accept` that stores: the events of a verified request in one transaction (or
    /// in the caller's), and the answer.
    public func store(_ verified: Verified, now: Int64) -> Answer {
        let source: WebhookSource, events: [IncomingEvent]
        switch verified {
        case .refused(let answer): return answer
        case .events(let verifiedSource, let verifiedEvents): (source, events) = (verifiedSource, verifiedEvents)
        }
        let results: [Store.AddResult]
        do {
            let lifecycle = ObjectLifecycle(store: store, source: source, now: now)
            results = try store.inTransaction { try lifecycle.store(events) }
        } catch let error as EventFilterError {
            // An event derived from the request (a reminder, a notice) that the store refuses.
            return Answer(HTTPResponse(status: 400, body: "cannot store this notification: \(Self.oneLine(error.description))"))
        } catch {
            return Answer(
                HTTPResponse(status: 500, body: "could not store the notification; nothing was stored, please retry"),
                logDetail: "source \(IngestText.quoted(source.name)): storing failed: \(Self.oneLine("\(error)"))")
        }

        var ids: [Int64] = []
        var lines: [String] = []
        var stored = 0
        for result in results where !ids.contains(result.id) {
            ids.append(result.id)
            switch result {
            case .added(let id):
                stored += 1
                lines.append(String(id))
            case .duplicate(let id):
                lines.append("\(id) duplicate")
            }
        }
        return Answer(
            HTTPResponse(status: 200, body: lines.isEmpty ? "accepted, no events" : lines.joined(separator: "\n")),
            eventIDs: ids, storedCount: stored)
    }

    // MARK: One-click unsubscribe

    /// `POST` removes the rule (idempotent, no redirect, no authentication: RFC 8058 §3.2);
    /// `GET` and `HEAD` show a confirmation page whose button POSTs.
    public func unsubscribe(_ request: HTTPRequest, token: String) -> Answer {
        guard Self.isToken(token) else {
            return Answer(HTTPResponse(status: 400, body: "malformed unsubscribe link"))
        }
        let noStore = [HTTPHeader("Cache-Control", "no-store")]
        switch request.method {
        case "POST":
            guard request.body.count <= bodyLimit else {
                return Answer(HTTPResponse(
                    status: 413, body: "body of \(request.body.count) bytes exceeds the limit of \(bodyLimit) bytes"))
            }
            do {
                try store.unsubscribe(token: token)
            } catch {
                return Answer(
                    HTTPResponse(status: 500, body: "could not unsubscribe now; please try again", headers: noStore),
                    logDetail: "unsubscribe failed: \(Self.oneLine("\(error)"))")
            }
            return Answer(HTTPResponse(status: 200, body: "unsubscribed", headers: noStore))
        case "GET", "HEAD":
            return Answer(HTTPResponse(
                status: 200, body: Self.confirmationPage,
                headers: noStore + [HTTPHeader("X-Robots-Tag", "noindex")], contentType: "text/html; charset=utf-8"))
        default:
            return Answer(HTTPResponse(
                status: 405, body: "method \(IngestText.quoted(request.method)) not allowed; POST to unsubscribe",
                headers: [HTTPHeader("Allow", "GET, HEAD, POST")]))
        }
    }

    /// The page a person sees when the link is opened in a browser. The form posts back to the
    /// same URL with the RFC 8058 body; nothing in it depends on the request.
    static let confirmationPage = """
        <!DOCTYPE html>
        <html lang="en">
        <head><meta charset="utf-8"><meta name="robots" content="noindex"><title>Unsubscribe</title></head>
        <body>
        <p>Do you want to stop receiving these notifications?</p>
        <form method="post">
        <input type="hidden" name="List-Unsubscribe" value="One-Click">
        <button type="submit">Unsubscribe</button>
        </form>
        </body>
        </html>
        """

    /// Tokens are the store's hex strings; anything that is not a short run of letters and digits
    /// cannot be one.
    static func isToken(_ token: String) -> Bool {
        !token.isEmpty && token.utf8.count <= 128
            && token.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) }
    }

    private static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}
