extension BuiltinTemplates {
    /// Every built-in template a run may look up: the kernel's and the ingested sources'.
    static let all: [String: String] = core.merging(ingest) { kernel, _ in kernel }
}
