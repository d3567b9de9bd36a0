import EventFilterKit
import Foundation

/// One `NAME=VALUE` word of `event add`: a param, its value a string or, starting with `[` or `{`, JSON.
struct EventParam: Sendable {
    let name: String
    let value: JSONValue

    @Sendable static func parse(_ word: String) throws -> EventParam {
        guard let equals = word.firstIndex(of: "="), equals != word.startIndex else {
            throw ValueParser.Invalid(description: "expected NAME=VALUE, got '\(word.prefix(60))'")
        }
        let name = String(word[..<equals])
        let text = String(word[word.index(after: equals)...])
        guard text.hasPrefix("[") || text.hasPrefix("{") else { return EventParam(name: name, value: .string(text)) }
        do { return EventParam(name: name, value: try JSONValue.parse(text)) } catch {
            throw ValueParser.Invalid(description: "\(name): \(ErrorReport.message(error))")
        }
    }
}

struct EventAddCommand: Command {
    static let words = ["event", "add"]
    static let abstract = "Store an unhandled event and print its id."
    static let type = Argument("TYPE", help: "the event type, e.g. ezpublish, ezcollaboration", parse: ValueParser.string)
    static let params = ArgumentList("NAME=VALUE", help: "a param; a VALUE that starts with '[' or '{' is read as JSON",
                                     parse: EventParam.parse)
    static let notBefore = Option("not-before", value: "TIME",
                                  help: "keep the event waiting until TIME (ISO 8601), e.g. a reminder", parse: ValueParser.time)
    static let key = Option("key", value: "KEY",
                            help: "a dedupe key: a second event with the same key is not stored; the first event's id is printed",
                            parse: ValueParser.string)
    static let parameters: [any Parameter] = [type, params, notBefore, key]
    static let discussion = """
        Prints the new event's id (its confirmation, the form scripts read). A param value is text of
        at most \(EventInputLimits.maximumTextBytes) bytes; all params together at most \(EventInputLimits.maximumParamsBytes).
        A param named twice is refused.

        Examples:
          eventfilter event add ezpublish node_id=77 path=/1/2/60/77/ name=Hello class=Article author=ann@example.com version=1
          eventfilter event add ezcollaboration identifier=ezapprove item_id=5 name=Draft \\
              participants='[{"email":"boss@example.com","role":"approver"}]'
        """

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        var params: [String: JSONValue] = [:]
        for param in arguments[Self.params] {
            guard params.updateValue(param.value, forKey: param.name) == nil else {
                throw EventFilterError.usage("param '\(param.name.prefix(60))' is given more than once")
            }
        }
        let key = arguments[Self.key]
        try EventInputLimits.check(params: .object(params), key: key)
        let result = try context.store().addEvent(type: arguments[Self.type], params: .object(params),
                                                  notBefore: arguments[Self.notBefore], dedupeKey: key, now: context.now)
        Output.line(String(result.id))
    }
}

struct EventImportCommand: Command {
    static let words = ["event", "import"]
    static let abstract = "Store events from JSON lines, all or none."
    static let file = OptionalArgument("FILE|-", help: "the file to read; '-' or none reads stdin", parse: ValueParser.path)
    static let parameters: [any Parameter] = [file]
    static let discussion = """
        Each line: {"type": "...", "params": {...}, "not_before": "ISO 8601"?, "key": "..."?}; any other key
        is refused. Blank lines are skipped. A bad line stops the import with its line number and stores
        nothing. Prints how many events were stored and how many were duplicates of a key already stored.
        """

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let source = arguments[file] ?? "-"
        let handle: FileHandle
        if source == "-" {
            handle = FileHandle.standardInput
        } else {
            guard let opened = FileHandle(forReadingAtPath: source) else {
                throw EventFilterError.failure("cannot read \(source): \(String(cString: strerror(errno)))")
            }
            handle = opened
        }
        let store = try context.store()
        let result = try EventImporter(store: store, now: context.now).importLines(from: handle)
        Output.line("imported \(result.added) events, \(result.duplicates) duplicates")
    }
}

struct EventListCommand: Command {
    static let words = ["event", "list"]
    static let abstract = "List stored events, newest first."
    static let unhandled = Flag("unhandled", help: "only events not handled yet")
    static let type = Option("type", value: "TYPE", help: "only events of this type, e.g. ezpublish", parse: ValueParser.string)
    static let limit = Option("limit", value: "N", help: "at most N events (default 100)", parse: ValueParser.count)
    static let json = Flag("json", help: "one JSON object per line")
    static let parameters: [any Parameter] = [unhandled, type, limit, json]
    static let discussion = """
        One event a line, tab-separated: id, type, name (the param 'name', or '-'), created, state, and
        the handlers that failed on it.
        """

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let rows = try context.store(.readOnly).listEvents(unhandledOnly: arguments[unhandled], type: arguments[type],
                                                  limit: arguments[limit] ?? 100)
        for row in rows {
            let event = row.event
            if arguments[json] {
                var object: [String: JSONValue] = [
                    "id": .number(Double(event.id)), "type": .string(event.type), "params": event.params,
                    "created_at": .string(Timestamp.iso8601(event.createdAt)),
                    "handled_at": row.handledAt.map { .string(Timestamp.iso8601($0)) } ?? .null,
                    "not_before": event.notBefore.map { .string(Timestamp.iso8601($0)) } ?? .null,
                    "key": row.dedupeKey.map { .string($0) } ?? .null,
                ]
                object["failed_handlers"] = .array(row.failedHandlers.map { ["handler": .string($0.handler), "error": .string($0.error)] })
                Output.line(JSONValue.object(object).serialized)
            } else {
                let state = row.handledAt.map { "handled \(Timestamp.iso8601($0))" }
                    ?? event.notBefore.map { "waiting until \(Timestamp.iso8601($0))" } ?? "unhandled"
                let name = event.params["name"]?.stringValue.map { String(ErrorReport.oneLine($0).prefix(80)) } ?? "-"
                var line = "\(event.id)\t\(event.type)\t\(name)\t\(Timestamp.iso8601(event.createdAt))\t\(state)"
                for failure in row.failedHandlers { line += "\t\(failure.handler) failed: \(failure.error)" }
                Output.line(line)
            }
        }
    }
}
