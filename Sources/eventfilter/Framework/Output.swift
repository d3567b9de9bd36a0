import Foundation

/// Where commands write: results on stdout, the one-line error on stderr.
///
///     Output.line("added user ann@example.com")
///     Output.error("unknown user bob@example.com")     // "eventfilter: unknown user bob@example.com"
enum Output {
    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func text(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    static func error(_ text: String) {
        FileHandle.standardError.write(Data(("eventfilter: " + text + "\n").utf8))
    }
}
