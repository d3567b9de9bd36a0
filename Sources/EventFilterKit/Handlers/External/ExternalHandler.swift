import Foundation

/// A custom handler: any executable found as `<dir>/<name>/<name>handler`.
///
/// Protocol (README, "Custom handlers"): once per batch it reads the events due for it as JSON
/// lines on stdin (`{"id", "type", "params", "created_at"}`) and prints items as JSON lines
/// (`{"event_id", "to", "subject", "text", "html"?, "digest"?}`). Exit 0 means every event it was
/// given is handled. A non-zero exit, a timeout or an unusable line leaves all of them pending
/// for this handler alone; the run records why and retries at the next run.
final class ExternalHandler: EventHandler {
    let name: String
    let executable: URL
    /// The installation's root: the program's working directory and `EVENTFILTER_ROOT`.
    let root: URL
    var origin: String { executable.path }
    /// One run of the program serves a whole batch, before the write transaction opens.
    var takesWholeBatch: Bool { true }
    /// How the last batch went: nil when it was not run (no events), else success or the failure.
    private(set) var lastBatch: Result<Void, Failure>?

    init(name: String, executable: URL, root: URL) {
        self.name = name
        self.executable = executable
        self.root = root
    }

    func items(for events: [Event], renderer: MailRenderer, store: Store) throws -> [Int64: HandlerOutcome] {
        lastBatch = nil
        guard !events.isEmpty else { return [:] }
        var outcomes: [Int64: HandlerOutcome] = [:]
        switch execute(events, renderer: renderer) {
        case .failure(let reason):
            lastBatch = .failure(reason)
            for event in events { outcomes[event.id] = .failed(reason.description) }
        case .success(let output):
            do {
                let items = try parse(output, events: events, renderer: renderer, store: store)
                for event in events { outcomes[event.id] = .done((items[event.id] ?? []).map(HandlerItem.mail)) }
                lastBatch = .success(())
            } catch {
                lastBatch = .failure(error as? Failure ?? Failure(description: "\(error)"))
                for event in events { outcomes[event.id] = .failed("\(error)") }
            }
        }
        return outcomes
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        /// The last lines the handler wrote to stderr, for `status`.
        var stderrTail = ""
    }

    /// The last non-empty lines of a handler's stderr: where a program says what went wrong (a
    /// Python traceback ends with the exception; its first line is only "Traceback ...").
    static func tail(of stderr: String, lines: Int = 5, characters: Int = 1000) -> (lastLine: String, tail: String) {
        let nonEmpty = stderr.split(whereSeparator: \.isNewline).map(String.init)
            .filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        let last = nonEmpty.suffix(lines).joined(separator: "\n")
        return (nonEmpty.last.map { String($0.trimmingCharacters(in: .whitespaces).prefix(300)) } ?? "",
                String(last.suffix(characters)))
    }

    /// The end of a handler's stderr file, at most `bytes` of it, as text: a handler that wrote
    /// hundreds of megabytes (a traceback in a loop) costs no more than this to read. A line cut
    /// at the start is dropped, unless it is the only one.
    static func readEnd(of url: URL, bytes: Int = 65_536) -> String {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return "" }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        let start = size > UInt64(bytes) ? size - UInt64(bytes) : 0
        guard (try? handle.seek(toOffset: start)) != nil, let data = try? handle.readToEnd() else { return "" }
        var end = data[...]
        if start > 0, let newline = end.firstIndex(of: 10), end[end.index(after: newline)...].contains(where: { $0 != 10 && $0 != 13 && $0 != 32 }) {
            end = end[end.index(after: newline)...]
        }
        return String(decoding: end, as: UTF8.self)
    }

    /// Runs the program with stdin and stdout in temporary files, which needs no threads and
    /// cannot deadlock on a full pipe.
    private func execute(_ events: [Event], renderer: MailRenderer) -> Result<[UInt8], Failure> {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("eventfilter-\(name)-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        do {
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            var input = ""
            for event in events {
                let line: JSONValue = ["id": .number(Double(event.id)), "type": .string(event.type), "params": event.params,
                                       "created_at": .string(Timestamp.iso8601(event.createdAt))]
                input += line.serialized + "\n"
            }
            let inputURL = scratch.appendingPathComponent("in.jsonl")
            let outputURL = scratch.appendingPathComponent("out.jsonl")
            let errorURL = scratch.appendingPathComponent("err.txt")
            try Data(input.utf8).write(to: inputURL)
            try Data().write(to: outputURL)
            try Data().write(to: errorURL)

            let process = Process()
            process.executableURL = executable
            process.currentDirectoryURL = root
            var environment = ProcessInfo.processInfo.environment
            environment["EVENTFILTER_ROOT"] = root.path
            environment["EVENTFILTER_NOW"] = Timestamp.iso8601(renderer.now)
            process.environment = environment
            process.standardInput = try FileHandle(forReadingFrom: inputURL)
            process.standardOutput = try FileHandle(forWritingTo: outputURL)
            process.standardError = try FileHandle(forWritingTo: errorURL)
            let finished = DispatchSemaphore(value: 0)
            process.terminationHandler = { _ in finished.signal() }
            try process.run()
            if finished.wait(timeout: .now() + renderer.site.handlerTimeout) == .timedOut {
                stop(process, finished: finished)
                return .failure(Failure(description: "\(name) timed out after \(Int(renderer.site.handlerTimeout)) s"))
            }
            guard process.terminationStatus == 0 else {
                let (lastLine, tail) = Self.tail(of: Self.readEnd(of: errorURL))
                let how = process.terminationReason == .uncaughtSignal ? "was killed by signal" : "exited with status"
                return .failure(Failure(description: "\(name) \(how) \(process.terminationStatus)" + (lastLine.isEmpty ? "" : ": \(lastLine)"),
                                        stderrTail: tail))
            }
            return .success(Array(try Data(contentsOf: outputURL)))
        } catch {
            return .failure(Failure(description: "\(name) could not run \(executable.path): \(error.localizedDescription)"))
        }
    }

    /// Stops a handler that ran out of time, and whatever it started: Foundation makes the child
    /// the leader of its own process group, so the whole group gets SIGTERM, then SIGKILL.
    private func stop(_ process: Process, finished: DispatchSemaphore) {
        let pid = process.processIdentifier
        let target = getpgid(pid) == pid ? -pid : pid
        kill(target, SIGTERM)
        let endedInGrace = finished.wait(timeout: .now() + 5) == .success
        kill(target, SIGKILL)
        if !endedInGrace { _ = finished.wait(timeout: .now() + 5) }
    }

    /// Every line must be a valid item for one of the given events; one bad line fails the batch,
    /// because a half-understood output could drop mail silently.
    private func parse(_ output: [UInt8], events: [Event], renderer: MailRenderer, store: Store) throws -> [Int64: [Items]] {
        let given = Set(events.map(\.id))
        var items: [Int64: [Items]] = [:]
        var recipients: [String: Recipient?] = [:]
        let happened = Dictionary(events.map { ($0.id, $0.createdAt) }, uniquingKeysWith: { first, _ in first })
        for (index, rawLine) in output.split(separator: UInt8(ascii: "\n")).enumerated() {
            let lineNumber = index + 1
            let line = Array(rawLine)
            guard !line.allSatisfy({ $0 == 32 || $0 == 13 || $0 == 9 }) else { continue }
            let value: JSONValue
            do { value = try JSONValue.parse(line) } catch {
                throw Failure(description: "\(name) output line \(lineNumber) is not JSON")
            }
            guard let eventNumber = value["event_id"]?.stringValue, let eventID = Int64(eventNumber), given.contains(eventID) else {
                throw Failure(description: "\(name) output line \(lineNumber): event_id is missing or not one of the events it was given")
            }
            guard let to = value["to"]?.stringValue, let subject = value["subject"]?.stringValue, let text = value["text"]?.stringValue else {
                throw Failure(description: "\(name) output line \(lineNumber): needs to, subject and text")
            }
            if subject.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                throw Failure(description: "\(name) output line \(lineNumber): subject contains a line break or control character")
            }
            do { _ = try Mailbox(address: to) } catch {
                throw Failure(description: "\(name) output line \(lineNumber): invalid address '\(to.prefix(100))'")
            }
            let recipient: Recipient?
            if let cached = recipients[to.lowercased()] {
                recipient = cached
            } else {
                recipient = try lookUp(to, store: store)
                recipients[to.lowercased()] = .some(recipient)
            }
            guard let recipient else { continue }  // a disabled user
            let wantsDigest = value["digest"]?.boolValue
            var chosen = recipient
            if wantsDigest == false { chosen.digest = nil }
            // Its subject follows the site's pattern like every other; its texts carry no time placeholders.
            let content = RenderedContent(
                handler: name, subject: try renderer.subjectLine(LocalTimeText.strippingMarkers(subject)),
                text: LocalTimeText.strippingMarkers(text),
                html: value["html"]?.stringValue.map(LocalTimeText.strippingMarkers), thread: nil,
                line: DigestLine(source: name, nodeID: nil, path: [], name: LocalTimeText.strippingMarkers(subject), url: nil,
                                 happenedAt: happened[eventID] ?? renderer.now))
            items[eventID, default: []].append(Items(content: content, recipients: [chosen], delivery: .recipientSetting))
        }
        return items
    }

    /// A known user brings their name, time zone and digest; a disabled one, or one who chose
    /// "stop all notifications" and has subscribed to nothing since, gets nothing; an
    /// unknown address is mailed at once, unless hard bounces suppressed it.
    private func lookUp(_ email: String, store: Store) throws -> Recipient? {
        guard let user = try store.user(email: email) else {
            if try store.isSuppressedByBounces(email) { return nil }
            return Recipient(userID: nil, email: email, name: "", timezone: "UTC", digest: nil, unsubscribeToken: nil)
        }
        guard user.enabled, try !store.hasStoppedAll(userID: user.id) else { return nil }
        return Recipient(userID: user.id, email: user.email, name: user.name, timezone: user.timezone,
                         digest: try store.digestSchedule(userID: user.id), unsubscribeToken: nil)
    }
}
