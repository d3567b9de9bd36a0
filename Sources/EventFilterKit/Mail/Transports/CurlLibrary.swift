import CCurl

/// libcurl, opened the first time SMTP delivery needs it rather than whenever the program starts
/// (the program is not linked against it; see Sources/CCurl/CurlLoader.c).
///
///     try CurlLibrary.load(for: configuration)   // before the first curl call
///
/// A missing library (or one too old to have every function the transport calls) is one line:
/// `smtp mail.example.com:25: SMTP delivery needs libcurl, which could not be loaded: libcurl.so.4:
/// cannot open shared object file: No such file or directory`.
enum CurlLibrary {
    /// Loads libcurl once per process; later calls only repeat the first one's answer.
    static func load(for configuration: SMTPConfiguration) throws(SMTPConfigurationError) {
        if let reason = ccurl_load() {
            throw SMTPConfigurationError(message: "smtp \(configuration.serverLabel): \(String(cString: reason))")
        }
    }
}
