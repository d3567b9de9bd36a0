import Foundation

/// Finds templates by name, letting extensions override the built-in ones, the way eZ Publish
/// lets a design override `notification/handler/...` templates.
///
/// A name such as `ezsubtree/subject.txt` is looked up as
/// `extension/<ext>/templates/ezsubtree/subject.txt` under the root for each extension in the
/// order given (the first that has the file wins), then in `builtins`. Parsed templates are
/// cached for the life of the library, so a run parses each template once. Use it from one
/// thread; the `Template`s it returns are `Sendable`.
///
///     let library = TemplateLibrary(root: root, extensions: ["mysite"], builtins: BuiltinTemplates.core)
///     let subject = try library.template("ezsubtree/subject.txt")
///         .render(["class": "Article", "name": "Blåbær", "site_name": "Example"], escapeHTML: false)
///     library.origin(of: "ezsubtree/subject.txt")   // "extension/mysite/templates/ezsubtree/subject.txt" or "built-in"
public final class TemplateLibrary {
    public let root: URL
    public let extensions: [String]
    private let builtins: [String: String]
    private var cache: [String: Template] = [:]
    private var missing: Set<String> = []

    public init(root: URL, extensions: [String], builtins: [String: String]) {
        self.root = root
        self.extensions = extensions
        self.builtins = builtins
    }

    /// The template called `name`, parsed once.
    /// - Throws: `TemplateError` when no extension and no built-in has it, when its file cannot
    ///   be read as UTF-8, or when it does not parse (the message names the file and line).
    public func template(_ name: String) throws -> Template {
        if let cached = cache[name] { return cached }
        let template: Template
        switch try locate(name) {
        case .file(let relativePath):
            let url = root.appendingPathComponent(relativePath)
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw TemplateError("\(relativePath): cannot read the template")
            }
            guard let source = String(data: data, encoding: .utf8) else {
                throw TemplateError("\(relativePath): the template is not valid UTF-8")
            }
            template = try Template(source: source, name: relativePath)
        case .builtin(let source):
            template = try Template(source: source, name: "built-in \(name)")
        case .missing:
            throw TemplateError("template '\(name)' not found in \(searchedPlaces)")
        }
        cache[name] = template
        return template
    }

    /// Whether an extension or the built-ins have `name`. Answers are remembered, so asking once
    /// per event costs no file-system lookups after the first.
    public func exists(_ name: String) -> Bool {
        if cache[name] != nil { return true }
        if missing.contains(name) { return false }
        if case .missing? = try? locate(name) {
            missing.insert(name)
            return false
        }
        return (try? locate(name)) != nil
    }

    /// Where `name` comes from: the file's path relative to the root, `built-in`, or
    /// `not found`.
    public func origin(of name: String) -> String {
        switch try? locate(name) {
        case .file(let relativePath)?: return relativePath
        case .builtin?: return "built-in"
        case .missing?, nil: return "not found"
        }
    }

    private enum Location {
        case file(String)
        case builtin(String)
        case missing
    }

    private func locate(_ name: String) throws -> Location {
        try Self.validate(name: name)
        for ext in extensions {
            let relativePath = "extension/\(ext)/templates/\(name)"
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: root.appendingPathComponent(relativePath).path, isDirectory: &isDirectory),
                !isDirectory.boolValue {
                return .file(relativePath)
            }
        }
        if let source = builtins[name] { return .builtin(source) }
        return .missing
    }

    private var searchedPlaces: String {
        let places = extensions.map { "extension/\($0)/templates" } + ["the built-in templates"]
        return places.joined(separator: ", ")
    }

    /// Names are relative paths inside `templates/`; nothing may climb out of it.
    private static func validate(name: String) throws {
        let components = name.split(separator: "/", omittingEmptySubsequences: false)
        if name.isEmpty || name.hasPrefix("/") || name.utf8.contains(0)
            || components.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) {
            throw TemplateError("template name \(HeaderCheck.quoted(name)) is not a relative path inside templates/")
        }
    }
}
