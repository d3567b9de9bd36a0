/// What `eventfilter` may do when a web server started it: be the CGI receiver, nothing else.
///
/// ```swift
/// // at the very top of main.swift, before any parsing
/// let argv = try CGIGate.arguments(environment: ProcessInfo.processInfo.environment) {
///     Array(CommandLine.arguments.dropFirst())
/// }
/// // GET /hooks?user+remove+ann@example.com under Apache's ScriptAlias:
/// //   ["user", "remove", "ann@example.com"]  ->  ["cgi"]
/// ```
///
/// A web server sets `GATEWAY_INTERFACE` for every CGI program it starts (RFC 3875 section 4.1.4).
/// For a "search" query, one without an unencoded `=`, it also puts the query's `+`-separated
/// words on the command line (section 4.4; Apache's mod_cgi and mod_cgid do), so with the binary
/// itself as the script any visitor could type a command. Under `GATEWAY_INTERFACE`, therefore,
/// the command is always `cgi`, whatever the arguments say.
///
/// Of the arguments, only the global options `--root DIR` and `--now TIME` that lead them are
/// kept (a wrapper script's `exec eventfilter --root /srv/site cgi`), and only when the request
/// cannot have put words on the command line: no query, or one with an `=`. Otherwise none is
/// kept, since `?--root+/tmp/x` would arrive looking exactly like a wrapper's option; the root
/// then comes from `EVENTFILTER_ROOT`, which a request cannot set.
public enum CGIGate {
    /// The arguments to parse. Outside a web server, `commandLine()` unchanged (its error too).
    /// Under one, `cgi` preceded by the trusted global options; then `commandLine()` is not
    /// even called when the request may have added words, and a command line it cannot decode
    /// keeps no option, so nothing a request sends can stop the receiver from answering.
    public static func arguments(environment: [String: String], commandLine: () throws -> [String]) rethrows -> [String] {
        guard environment["GATEWAY_INTERFACE"] != nil else { return try commandLine() }
        guard !serverMayHaveAddedWords(environment), let words = try? commandLine() else { return ["cgi"] }
        return leadingGlobalOptions(words) + ["cgi"]
    }

    /// RFC 3875 section 4.4: the server adds command-line words only for a non-empty query
    /// without an unencoded `=`.
    static func serverMayHaveAddedWords(_ environment: [String: String]) -> Bool {
        let query = environment["QUERY_STRING"] ?? ""
        return !query.isEmpty && !query.contains("=")
    }

    /// `--root DIR`, `--root=DIR`, `--now TIME`, `--now=TIME` at the start of `arguments`, up to
    /// the first word that is none of them.
    static func leadingGlobalOptions(_ arguments: [String]) -> [String] {
        var kept: [String] = []
        var index = 0
        while index < arguments.count {
            let word = arguments[index]
            if word == "--root" || word == "--now", index + 1 < arguments.count {
                kept += [word, arguments[index + 1]]
                index += 2
            } else if word.hasPrefix("--root=") || word.hasPrefix("--now=") {
                kept.append(word)
                index += 1
            } else {
                break
            }
        }
        return kept
    }
}
