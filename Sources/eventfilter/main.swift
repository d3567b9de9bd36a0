import EventFilterKit
import Foundation

let commands: [Command.Type] = [
    RunCommand.self,
    EventAddCommand.self, EventImportCommand.self, EventListCommand.self,
    IngestCommand.self, CGICommand.self,
    UserAddCommand.self, UserRemoveCommand.self, UserListCommand.self, UserDisableCommand.self, UserEnableCommand.self,
    DigestCommand.self, SubscribeCommand.self, UnsubscribeCommand.self,
    CollaborationSubscribeCommand.self, CollaborationUnsubscribeCommand.self,
    StatusCommand.self, HandlersCommand.self,
    MailListCommand.self, MailRetryCommand.self, MailAckCommand.self, CheckCommand.self,
]

func overview(_ commands: [Command.Type]) -> String {
    let width = commands.map { $0.words.joined(separator: " ").count }.max() ?? 0
    let lines = commands.map { "  " + $0.words.joined(separator: " ").padding(toLength: width + 2, withPad: " ", startingAt: 0) + $0.abstract }
    return """
        eventfilter: an eZ-Publish-style notification filter with digest delivery.

        Usage: eventfilter [--root DIR] [--now TIME] COMMAND ...

        Commands:
        \(lines.joined(separator: "\n"))

        'eventfilter COMMAND --help' shows a command's help.

        """
}

let parser = CommandLineParser(commands: commands)
do {
    let environment = ProcessInfo.processInfo.environment
    var arguments = Array(CommandLine.arguments.dropFirst())
    // A web server starts a CGI program with no arguments: then `eventfilter` is `eventfilter cgi`.
    if arguments.isEmpty, let gateway = environment["GATEWAY_INTERFACE"], gateway.hasPrefix("CGI/") {
        arguments = ["cgi"]
    }
    let invocation = try parser.parse(arguments, environment: environment)
    guard let command = invocation.command else {
        FileHandle.standardOutput.write(Data(overview(commands).utf8))
        exit(0)
    }
    if invocation.wantsHelp {
        FileHandle.standardOutput.write(Data(command.help.utf8))
        exit(0)
    }
    try command.run(invocation.arguments, CommandContext(root: invocation.root, now: invocation.now))
} catch let error as EventFilterError {
    Output.error(error.description)
    exit(error.kind == .usage ? 2 : 1)
} catch let error as TimeError {
    Output.error(error.description)
    exit(2)
} catch {
    Output.error("\(error)")
    exit(1)
}
