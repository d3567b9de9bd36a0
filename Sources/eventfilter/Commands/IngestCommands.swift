import EventFilterKit
import Foundation

/// Opens the webhook intake of an installation: sources and body limit from webhooks.ini, the store.
func openIntake(_ context: CommandContext) throws -> WebhookIntake {
    let settings = try context.settings()
    let sources = try WebhookSources.load(settings: settings)
    let limit = try WebhookSources.bodyLimit(settings: settings)
    return WebhookIntake(store: try context.store(), sources: sources, bodyLimit: limit)
}

/// The router of the web front: webhooks, unsubscribe links and the settings pages. A site.ini
/// problem is kept for the settings pages' answer, so webhooks still arrive. `settings` is the
/// context's (read once) unless given: a reload passes the ones it has just read.
func openRouter(_ context: CommandContext, intake: WebhookIntake, settings given: Settings? = nil) throws -> Router {
    let settings = try given ?? context.settings()
    do {
        let pages = try SettingsPages(root: context.root, settings: settings, store: intake.store, bodyLimit: intake.bodyLimit,
                                      sources: intake.sources.mapValues { $0.type.rawValue })
        return Router(intake: intake, settings: .available(pages))
    } catch {
        return Router(intake: intake, settings: .misconfigured(ErrorReport.message(error)))
    }
}

struct IngestCommand: Command {
    static let words = ["ingest"]
    static let abstract = "Verify and store one webhook request read from stdin; print its event ids."
    static let source = Argument("SOURCE", help: "a source of settings/webhooks.ini, with an optional query string ('panda?token=...')",
                                 parse: ValueParser.string)
    static let contentType = Option("content-type", value: "TYPE", help: "the request's Content-Type",
                                    parse: RequestHeader.oneLine)
    static let header = RepeatedOption("header", value: "'Name: value'", help: "a request header, e.g. a signature header",
                                       parse: RequestHeader.parse)
    static let method = Option("method", value: "METHOD", help: "the request method (default POST), for replaying refusals",
                               parse: RequestHeader.method)
    static let parameters: [any Parameter] = [source, contentType, header, method]
    static let discussion = """
        Takes the request a web server would pass to 'eventfilter cgi' for the path /SOURCE, and
        answers it the same way: the body is verified with the source's secret from
        settings/webhooks.ini and its events are stored. Prints the event ids, one per line (the
        stored id when the request is a duplicate), and exits 0; a rejected request prints the
        answer's status and reason and exits 1, storing nothing.

        Examples:
          eventfilter ingest kaltura --content-type application/x-www-form-urlencoded < notification.txt
          eventfilter ingest hooks --content-type application/json \\
              --header 'webhook-id: msg_1' --header 'webhook-timestamp: 1767258000' \\
              --header 'webhook-signature: v1,...' < payload.json
        """

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let target = arguments[source]
        let (name, query) = splitQuery(target)
        guard !name.isEmpty, !name.contains("/") else {
            throw EventFilterError.usage("SOURCE must be a source name from settings/webhooks.ini, got '\(target.prefix(60))'")
        }
        var headers: [(name: String, value: String)] = []
        if let type = arguments[contentType] { headers.append((name: "Content-Type", value: type)) }
        for given in arguments[header] { headers.append((name: given.name, value: given.value)) }

        let intake = try openIntake(context)
        // One byte over the limit is enough to know the body is too large; the rest stays unread.
        let body = try CGI.readStandardInput(intake.bodyLimit + 1)
        guard body.count <= intake.bodyLimit else {
            throw EventFilterError.failure(
                "rejected (413 Content Too Large): body exceeds the limit of \(intake.bodyLimit) bytes")
        }
        let request = HTTPRequest(method: arguments[method] ?? "POST", path: "/" + name, query: query, headers: headers, body: body)
        let answer = intake.accept(request, sourceName: name, now: context.now)
        guard answer.response.status == 200 else {
            let response = answer.response
            var message = "rejected (\(response.status) \(response.reason)): \(response.body)"
            if let detail = answer.logDetail { message += " (\(detail))" }
            throw EventFilterError.failure(message)
        }
        for id in answer.eventIDs { Output.line(String(id)) }
    }

    private static func splitQuery(_ target: String) -> (String, String) {
        guard let mark = target.firstIndex(of: "?") else { return (target, "") }
        return (String(target[..<mark]), String(target[target.index(after: mark)...]))
    }
}

struct CGICommand: Command {
    static let words = ["cgi"]
    static let abstract = "Answer one webhook, unsubscribe or settings-page request as a CGI program (RFC 3875)."
    static let discussion = """
        Run by a web server (lighttpd mod_cgi, Apache mod_cgi(d), nginx + fcgiwrap) for each request.
        The path after the program selects what is asked for:
          /NAME                 a webhook for the source [Source-NAME] of settings/webhooks.ini
          /unsubscribe/TOKEN    the one-click unsubscribe link of a message (RFC 8058)
          /settings[/TOKEN]     the subscriber's settings pages (SettingsURL of site.ini)
        Answers 200 when stored or a duplicate, 400 malformed, 401/403 bad credentials or signature,
        404 unknown source, 405 wrong method, 413 body over [WebhookSettings] BodyLimit, 500 when
        nothing could be stored (the sender retries). Refusals are logged to stderr (the server's
        error log) without secrets. Exits 0 once it has answered.

        Set the installation with EVENTFILTER_ROOT (e.g. lighttpd setenv.add-environment, Apache
        SetEnv) or a wrapper script that runs 'eventfilter --root DIR cgi'.
        """

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let environment = ProcessInfo.processInfo.environment
        let method = environment["REQUEST_METHOD"] ?? "?"
        let path = environment["PATH_INFO"] ?? ""

        let response: HTTPResponse
        var logLine: String?
        do {
            let intake = try openIntake(context)
            let request = CGI.request(environment: environment, body: CGI.readStandardInput, bodyLimit: intake.bodyLimit)
            (response, logLine) = WebFront.respond(
                router: try openRouter(context, intake: intake), request: request, now: context.now, front: "cgi", method: method, path: path)
        } catch {
            // Settings or store trouble: the sender learns only that it should retry; the details
            // (file and line, never a secret) go to the operator's log.
            response = Router.finish(HTTPResponse(status: 500, body: "the webhook receiver is misconfigured; nothing was stored"), path: path)
            logLine = WebFront.logLine(front: "cgi", method: method, path: path, response: response, detail: "\(error)")
        }

        FileHandle.standardOutput.write(Data(response.cgiBytes))
        if let logLine { Output.error(logLine) }
    }
}
