import EventFilterKit
import Foundation

let environment = ProcessInfo.processInfo.environment
do {
    // Started by a web server (GATEWAY_INTERFACE set), the program is the CGI receiver and nothing
    // else, whatever words a request's query put on the command line.
    let argv = try CGIGate.arguments(environment: environment) {
        try CommandLineParser.decode((1..<Int(CommandLine.argc)).compactMap { CommandLine.unsafeArgv[$0].map { UnsafePointer($0) } })
    }
    switch try CommandLineParser(commands: CommandList.all).parse(argv, environment: environment) {
    case .run(let command, let arguments, let context):
        try command.run(arguments, context)
    case .overview:
        Output.text(CommandList.overview)
    case .groupHelp(let words):
        Output.text(CommandList.groupHelp(words))
    case .help(let command):
        Output.text(command.help)
    case .version:
        Output.line("eventfilter \(CommandList.version)")
    case .missingCommand:
        FileHandle.standardError.write(Data(CommandList.overview.utf8))
        exit(2)
    }
} catch {
    Output.error(ErrorReport.message(error))
    exit(ErrorReport.status(error))
}
