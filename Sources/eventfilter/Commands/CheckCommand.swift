import EventFilterKit
import Foundation

struct CheckCommand: Command {
    static let words = ["check"]
    static let abstract = "Validate every settings file, extension, handler, template override and webhook source."
    static let discussion = """
        Prints 'file:line: problem' for each problem, unknown keys included, and exits 1 if there is any.
        'eventfilter run' refuses to start on the errors; it reports the warnings (marked '(warning)':
        unknown keys and blocks, files that are not templates) once and goes on.
        """

    static func run(_ arguments: ParsedArguments, _ context: CommandContext) throws {
        let findings = SettingsCheck(root: context.root, settings: try context.settings()).findings()
        for finding in findings {
            Output.line(finding.description + (finding.severity == .warning ? " (warning)" : ""))
        }
        if !findings.isEmpty { exit(1) }
    }
}
