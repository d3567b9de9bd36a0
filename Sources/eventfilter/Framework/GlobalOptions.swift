import EventFilterKit

/// The options every command takes, wherever they stand on the line.
enum GlobalOptions {
    static let root = Option("root", value: "DIR",
                             help: "the installation (default: $EVENTFILTER_ROOT, else the current directory)",
                             parse: ValueParser.path)
    static let now = Option("now", value: "TIME", help: "ISO 8601 time with an offset or Z, used for every time decision",
                            parse: ValueParser.time)
    static let help = Flag("help", help: "show the help of the command (or of the group, or the overview)")
    static let version = Flag("version", help: "print the version")

    static var all: [any Parameter] { [root, now, help, version] }
}
