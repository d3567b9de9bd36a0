/// Parameters that exclude each other: `--failed|--deferred|--queued`, or `ID|--all-failed`
/// when one of them is required.
struct ExclusiveGroup: Sendable {
    let members: [ParameterSpec]
    let required: Bool

    init(_ members: [any Parameter], required: Bool = false) {
        self.members = members.map(\.spec)
        self.required = required
    }

    var synopsis: String {
        let text = members.map { $0.kind == .argument ? $0.valueName : $0.synopsis }.joined(separator: "|")
        return required ? text : "[\(text)]"
    }
}
