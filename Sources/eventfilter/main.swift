import EventFilterKit
import Foundation

let environment = ProcessInfo.processInfo.environment
do {
    var argv = try CommandLineParser.decode((1..<Int(CommandLine.argc)).compactMap { CommandLine.unsafeArgv[$0].map { UnsafePointer($0) } })
    // A web server starts a CGI program with no arguments: then `eventfilter` is `eventfilter cgi`.
    if argv.isEmpty, let gateway = environment["GATEWAY_INTERFACE"], gateway.hasPrefix("CGI/") {
        argv = ["cgi"]
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
