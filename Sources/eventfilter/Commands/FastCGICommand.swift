import EventFilterKit
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

struct FastCGICommand: Command {
    static let words = ["fastcgi"]
    static let abstract = "Serve webhooks and unsubscribe links as a persistent FastCGI responder."
    static let listen = Option("listen", value: "HOST:PORT", help: "listen on a TCP address, e.g. 127.0.0.1:9000",
                               parse: ValueParser.string)
    static let socket = Option("socket", value: "PATH", help: "listen on a Unix socket (created with mode 0660)",
                               parse: ValueParser.path)
    static let workers = Option("workers", value: "N", help: "run N responder processes on the one socket (1 to 64)",
                                parse: workerCount)
    static let parameters: [any Parameter] = [listen, socket, workers]
    static let exclusive = [ExclusiveGroup([listen, socket])]
    static let discussion = """
        The same routes and answers as 'eventfilter cgi', from one long-lived process that keeps
        its settings and its store connection open (FastCGI 1.0, the RESPONDER role):
          /NAME                 a webhook for the source [Source-NAME] of settings/webhooks.ini
          /unsubscribe/TOKEN    the one-click unsubscribe link of a message (RFC 8058)
          /settings[/TOKEN]     the subscriber's settings pages (SettingsURL of site.ini)
        The web server must pass the path below the mount point as PATH_INFO.

        With neither --listen nor --socket, standard input must be a listening socket, as a web
        server's spawner passes it (lighttpd's bin-path, spawn-fcgi). Requests are answered one
        after another; --workers N starts N such processes and restarts one that dies.
        SIGTERM finishes the request in hand and exits 0; SIGHUP re-reads the settings (a broken
        file is reported and the previous settings stay). Refusals go to the web server's error
        log (FCGI_STDERR), connection problems to stderr, never a secret.

        Examples:
          eventfilter --root /srv/eventfilter fastcgi --listen 127.0.0.1:9000
          eventfilter --root /srv/eventfilter fastcgi --socket /run/eventfilter/fcgi.sock --workers 2
        """

    /// Connections one responder holds at once: a web server's pool of kept-alive upstream
    /// connections (nginx's `keepalive`) fits, with room for the ones it opens beyond it.
    static let maxConnections = 64

    @Sendable static func workerCount(_ word: String) throws -> Int {
        guard let value = Int(word), (1...64).contains(value) else {
            throw ValueParser.Invalid(description: "expected a whole number from 1 to 64, got '\(word.prefix(40))'")
        }
        return value
    }

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let front = try WebFrontState(context)   // settings and store before the socket: a broken root fails at once
        let listener: FastCGIListener
        do {
            if let address = arguments[listen] {
                listener = try FastCGIListener.tcp(address)
            } else if let path = arguments[socket] {
                listener = try FastCGIListener.unix(path)
            } else if let inherited = FastCGIListener.inherited() {
                listener = inherited
            } else {
                throw EventFilterError.usage(
                    "fastcgi needs --listen HOST:PORT or --socket PATH, or a listening socket as standard input (lighttpd bin-path, spawn-fcgi)")
            }
        } catch let error as FastCGIServerError {
            throw EventFilterError.failure(error.description)
        }
        defer { listener.close() }

        if let count = arguments[workers] {
            var childArguments = ["eventfilter", "--root", context.root.path]
            if let now = context.fixedNow { childArguments += ["--now", Timestamp.iso8601(now)] }
            childArguments.append("fastcgi")
            let environment = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
            let supervisor = FastCGISupervisor(
                listener: listener, workers: count, executable: "/proc/self/exe", arguments: childArguments, environment: environment)
            supervisor.log = { Output.error("fastcgi: \($0)") }
            do {
                try supervisor.run()
            } catch let error as FastCGIServerError {
                throw EventFilterError.failure(error.description)
            }
            return
        }

        try front.startCheckpoints()
        let responder = FastCGIResponder(
            listener: listener,
            limits: FastCGIConnection.Limits(bodyLimit: front.router.intake.bodyLimit, maxConnections: maxConnections)) { requests in
            front.replies(to: requests, now: context.now)
        }
        responder.onReload = { [unowned responder] in
            front.reload()
            responder.limits.bodyLimit = front.router.intake.bodyLimit
        }
        responder.log = { Output.error("fastcgi: \($0)") }
        responder.serve()
    }
}

/// The responder's long-lived state: the router over the open store, re-made from the settings on SIGHUP.
private final class WebFrontState {
    private let context: CommandContext
    private(set) var router: Router
    private var checkpointer: BackgroundCheckpointer?

    init(_ context: CommandContext) throws {
        self.context = context
        router = try openRouter(context, intake: try openIntake(context))
    }

    /// For the process that answers (not a `--workers` supervisor, which writes nothing): the
    /// commits answer webhooks, and none of them should wait for a checkpoint's copy and sync.
    func startCheckpoints() throws {
        checkpointer = try BackgroundCheckpointer.start(for: router.intake.store)
    }

    /// Re-reads settings/ (webhook sources, secrets, the body limit, site.ini for the settings
    /// pages); keeps the store connection.
    func reload() {
        do {
            let settings = Settings(root: context.root)
            let intake = WebhookIntake(
                store: try context.store(), sources: try WebhookSources.load(settings: settings),
                bodyLimit: try WebhookSources.bodyLimit(settings: settings))
            router = try openRouter(context, intake: intake, settings: settings)
            Output.error("fastcgi: settings re-read")
        } catch {
            Output.error("fastcgi: settings not re-read, the previous ones stay: \(ErrorReport.message(error))")
        }
    }

    /// The replies to the requests of one round, in order. Webhooks are verified first, outside
    /// any transaction; two or more then share one commit (`GroupCommit`): each is answered 2xx
    /// only once that commit holds its events; when the commit fails, each gets the 500 a failed
    /// store gets on its own. Other requests (unsubscribe links, settings pages, refusals before
    /// the router) are answered one by one, as `Router.answer` answers them.
    func replies(to requests: [FastCGIRequest], now: Int64) -> [FastCGIResponder.Reply] {
        let parsed = requests.map(parse)
        var verified: [Int: WebhookIntake.Verified] = [:]
        for (index, item) in parsed.enumerated() {
            if case .success(let request) = item.request, router.routesToIntake(request), let name = request.sourceName {
                verified[index] = router.intake.verify(request, sourceName: name, now: now)
            }
        }
        let grouped = verified.keys.sorted()
        var answers = [(response: HTTPResponse, logLine: String?)?](repeating: nil, count: requests.count)
        if grouped.count == 1, let index = grouped.first {
            let answer = router.intake.store(verified[index]!, now: now)
            answers[index] = WebFront.finish(answer, front: "fastcgi", method: parsed[index].method, path: parsed[index].path)
        } else if grouped.count > 1 {
            // Signatures and bodies are checked before the write lock is taken: another worker
            // waits only for the storing.
            do {
                let results = try GroupCommit(store: router.intake.store).run(grouped.count, { position in
                    let index = grouped[position]
                    let answer = self.router.intake.store(verified[index]!, now: now)
                    return WebFront.finish(answer, front: "fastcgi", method: parsed[index].method, path: parsed[index].path)
                }, kept: { $0.response.status < 300 })
                for (index, result) in zip(grouped, results) { answers[index] = result }
            } catch {
                for index in grouped {
                    let response = Router.finish(
                        HTTPResponse(status: 500, body: "could not store the notification; nothing was stored, please retry"),
                        path: parsed[index].path)
                    answers[index] = (response, WebFront.logLine(
                        front: "fastcgi", method: parsed[index].method, path: parsed[index].path, response: response,
                        detail: "storing failed: \(ErrorReport.message(error))"))
                }
            }
        }
        return parsed.indices.map { index in
            let (response, logLine) = answers[index] ?? respond(parsed[index], now: now)
            return reply(response, logLine: logLine, path: parsed[index].path)
        }
    }

    /// A request as the router takes it, with its method and path for the log line.
    private struct Parsed {
        var request: Result<HTTPRequest, HTTPResponseError>
        var method: String
        var path: String
    }

    private func parse(_ request: FastCGIRequest) -> Parsed {
        let variables = request.variables
        let method = variables.method ?? "?"
        let path = variables.pathInfo ?? ""
        let limit = router.intake.bodyLimit
        var parsed = CGI.request(variables: variables, body: { _ in request.body }, bodyLimit: limit)
        if request.bodyTooLarge, parsed.statusOnFailure != 413 {
            // The body ran past the limit without a CONTENT_LENGTH saying so up front.
            parsed = .failure(HTTPResponseError(status: 413, reason: "body exceeds the limit of \(limit) bytes"))
        }
        return Parsed(request: parsed, method: method, path: path)
    }

    private func respond(_ parsed: Parsed, now: Int64) -> (response: HTTPResponse, logLine: String?) {
        WebFront.respond(router: router, request: parsed.request, now: now, front: "fastcgi", method: parsed.method, path: parsed.path)
    }

    private func reply(_ response: HTTPResponse, logLine: String?, path: String) -> FastCGIResponder.Reply {
        if let logLine, WebFront.redacted(path) != path {
            // nginx writes the request line, personal token and all, next to every FCGI_STDERR
            // line it logs: a refusal on a path with a token goes to the responder's own stderr
            // (the journal under systemd) instead, so the web server has nothing to add it to.
            Output.error(logLine)
            return FastCGIResponder.Reply(stdout: response.cgiBytes, stderr: nil)
        }
        return FastCGIResponder.Reply(stdout: response.cgiBytes, stderr: logLine.map { "eventfilter: " + $0 })
    }
}

private extension Result where Failure == HTTPResponseError {
    var statusOnFailure: Int? {
        if case .failure(let error) = self { return error.status }
        return nil
    }
}
