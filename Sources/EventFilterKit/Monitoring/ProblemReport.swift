/// The lines `run` prints for the problems that are new since the previous run: one per problem,
/// except that a flood of one kind (a dead server failing thousands of messages) is cut to the
/// first few and a count, so cron's mail stays readable.
///
///     let lines = ProblemReport.lines(for: newProblems)
///     lines.forEach { print($0) }
public enum ProblemReport {
    /// Lines printed per kind before the rest is summed up.
    public static let linesPerKind = 5

    public static func lines(for problems: [Problem]) -> [String] {
        var lines: [String] = []
        for kind in Problem.Kind.allCases {
            let ofKind = problems.filter { $0.kind == kind }
            lines += ofKind.prefix(linesPerKind).map(\.message)
            if ofKind.count > linesPerKind {
                lines.append("... and \(ofKind.count - linesPerKind) more \(noun(kind)) (see eventfilter \(command(kind)))")
            }
        }
        return lines
    }

    private static func noun(_ kind: Problem.Kind) -> String {
        switch kind {
        case .settings: return "settings problems"
        case .mailFailed: return "failed messages"
        case .mailDeferred: return "messages deferred too long"
        case .handlerFailing: return "failing handlers"
        case .handlerGaveUp: return "events given up"
        }
    }

    private static func command(_ kind: Problem.Kind) -> String {
        switch kind {
        case .settings: return "check"
        case .mailFailed: return "mail list --failed"
        case .mailDeferred: return "mail list --deferred"
        case .handlerFailing, .handlerGaveUp: return "status"
        }
    }
}
