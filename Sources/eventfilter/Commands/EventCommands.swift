import EventFilterKit
import Foundation

struct EventAddCommand: Command {
    static let words = ["event", "add"]
    static let usage = "event add TYPE [NAME=VALUE ...] [--not-before TIME] [--key KEY]"
    static let abstract = "Store an unhandled event and print its id."
    static let discussion = """
        A VALUE that starts with '[' or '{' is read as JSON (e.g. participants for ezcollaboration).
        --not-before TIME   keep the event waiting until TIME (ISO 8601), e.g. a reminder
        --key KEY           a dedupe key: a second event with the same key is not stored;
                            the first event's id is printed instead

        Examples:
          eventfilter event add ezpublish node_id=77 path=/1/2/60/77/ name=Hello class=Article author=ann@example.com version=1
          eventfilter event add ezcollaboration identifier=ezapprove item_id=5 name=Draft \\
              participants='[{"email":"boss@example.com","role":"approver"}]'
        """
    static let valueOptions = ["not-before", "key"]

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        guard let type = arguments.positionals.first else { throw EventFilterError.usage("missing TYPE") }
        var params: [String: JSONValue] = [:]
        for pair in arguments.positionals.dropFirst() {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw EventFilterError.usage("expected NAME=VALUE, got '\(pair)'")
            }
            let name = String(pair[..<equals])
            let value = String(pair[pair.index(after: equals)...])
            if value.hasPrefix("[") || value.hasPrefix("{") {
                do { params[name] = try JSONValue.parse(value) } catch {
                    throw EventFilterError.usage("\(name): \(error)")
                }
            } else {
                params[name] = .string(value)
            }
        }
        let notBefore = try arguments.value("not-before").map(Timestamp.parse)
        let result = try context.store().addEvent(type: type, params: .object(params), notBefore: notBefore,
                                                  dedupeKey: arguments.value("key"), now: context.now)
        Output.line(String(result.id))
    }
}

struct EventImportCommand: Command {
    static let words = ["event", "import"]
    static let usage = "event import [FILE|-]"
    static let abstract = "Store events from JSON lines, all or none."
    static let discussion = """
        Each line: {"type": "...", "params": {...}, "not_before": "ISO 8601"?, "key": "..."?}
        Blank lines are skipped. A bad line stops the import with its line number and stores nothing.
        Prints how many events were stored and how many were duplicates of a key already stored.
        """

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let source = arguments.positionals.first ?? "-"
        guard arguments.positionals.count <= 1 else { throw EventFilterError.usage("unexpected argument '\(arguments.positionals[1])'") }
        let handle: FileHandle
        if source == "-" {
            handle = FileHandle.standardInput
        } else {
            guard let opened = FileHandle(forReadingAtPath: source) else { throw EventFilterError.failure("cannot read \(source)") }
            handle = opened
        }
        let store = try context.store()
        let result = try EventImporter(store: store, now: context.now).importLines(from: handle)
        Output.line("imported \(result.added) events, \(result.duplicates) duplicates")
    }
}

struct EventListCommand: Command {
    static let words = ["event", "list"]
    static let usage = "event list [--unhandled] [--json]"
    static let abstract = "List stored events (the oldest 1000)."
    static let flags = ["unhandled", "json"]

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        _ = try arguments.positionals()
        let rows = try context.store(.readOnly).listEvents(unhandledOnly: arguments.has("unhandled"))
        for row in rows {
            let event = row.event
            if arguments.has("json") {
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
                var line = "\(event.id)\t\(event.type)\t\(Timestamp.iso8601(event.createdAt))\t\(state)"
                for failure in row.failedHandlers { line += "\t\(failure.handler) failed: \(failure.error)" }
                Output.line(line)
            }
        }
    }
}
