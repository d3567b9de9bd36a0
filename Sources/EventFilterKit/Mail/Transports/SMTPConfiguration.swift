import Foundation

/// Where and how ``SMTPTransport`` delivers: site.ini `[MailSettings]` Transport=SMTP.
///
/// ```swift
/// var smtp = SMTPConfiguration(server: "mail.example.com", port: 587, security: .starttls)
/// smtp.user = "notify"
/// smtp.password = secret               // AUTH is used only when both are set
/// // A password goes over STARTTLS or smtps only, unless plain text is allowed explicitly:
/// // smtp.allowPlaintextAuthentication = true
/// let transport = try SMTPTransport(configuration: smtp)
/// ```
///
/// `description`, `debugDescription` and `dump` never show the password.
public struct SMTPConfiguration: Sendable, Equatable {
    /// How the connection is protected; the raw values are eZ's `TransportConnectionType`.
    public enum Security: String, Sendable, CaseIterable {
        /// Plain SMTP. STARTTLS is not attempted even if offered.
        case none = ""
        /// STARTTLS is required: a server that does not offer it is an error, never a silent fallback.
        case starttls = "tls"
        /// TLS from the first byte (smtps, usually port 465).
        case implicitTLS = "ssl"
    }

    public var server: String
    public var port: Int
    public var security: Security
    /// AUTH is attempted only when both `user` and `password` are set.
    public var user: String?
    public var password: String?
    /// Checks the server certificate and its name. Off only when a setting says so.
    public var verifyCertificate: Bool = true
    /// A PEM file of trusted certificates to use instead of the system store.
    public var caFile: String? = nil
    /// The name sent in EHLO (eZ `SenderHost`).
    public var heloName: String = "localhost"
    /// Seconds to wait for the TCP (and TLS) connection.
    public var connectTimeout: Double = 10
    /// Seconds one message may take from start to the server's final reply, connecting included.
    public var timeout: Double = 60
    /// Parallel connections (eZ-style `MaxConnections`); each one is reused for many messages.
    public var maxConnections: Int = 1
    /// How many messages may be in the server's hands before their acceptance is committed
    /// (`MaxUnrecordedAcceptances`); a crash can send that many again. Nil: `maxConnections`,
    /// one per connection. Larger lets acceptances commit in groups (a fsync each on PostgreSQL).
    public var maxUnrecordedAcceptances: Int? = nil
    /// Lets AUTH go over a connection without TLS (`TransportAllowPlaintextAuth=enabled`). Off by
    /// default: anyone on the path could read the password, so `validate()` refuses
    /// `security == .none` with credentials unless this is set.
    public var allowPlaintextAuthentication: Bool = false

    public init(
        server: String, port: Int = 25, security: Security = .none,
        user: String? = nil, password: String? = nil,
        verifyCertificate: Bool = true, caFile: String? = nil, heloName: String = "localhost",
        connectTimeout: Double = 10, timeout: Double = 60, maxConnections: Int = 1,
        allowPlaintextAuthentication: Bool = false
    ) {
        self.server = server
        self.port = port
        self.security = security
        self.user = user
        self.password = password
        self.verifyCertificate = verifyCertificate
        self.caFile = caFile
        self.heloName = heloName
        self.connectTimeout = connectTimeout
        self.timeout = timeout
        self.maxConnections = maxConnections
        self.allowPlaintextAuthentication = allowPlaintextAuthentication
    }

    /// What `MaxConnections` may be.
    public static let connectionsRange = 1...64

    /// What `MaxUnrecordedAcceptances` may be: a batch holds at most 500 messages anyway.
    public static let unrecordedAcceptancesRange = 1...500

    /// What `TransportTimeout` and `TransportConnectTimeout` may be, in seconds: libcurl takes
    /// its timeouts in milliseconds and refuses more than a 32-bit long holds (2,147,483,647 ms).
    public static let timeoutRange = 1...2_147_483

    /// `host:port` as an operator would type it; every failure reason starts with `smtp <this>:`.
    public var serverLabel: String {
        server.contains(":") ? "[\(server)]:\(port)" : "\(server):\(port)"
    }

    /// Whether AUTH will be attempted.
    var usesAuthentication: Bool { user != nil && password != nil }

    /// The libcurl URL: the path is the EHLO name.
    var url: String {
        let scheme = security == .implicitTLS ? "smtps" : "smtp"
        let helo = heloName.addingPercentEncoding(withAllowedCharacters: .urlUnreservedCharacters) ?? heloName
        return "\(scheme)://\(serverLabel)/\(helo)"
    }

    /// Rejects settings that could never work, with the site.ini key that holds the mistake.
    func validate() throws(SMTPConfigurationError) {
        func fail(_ message: String) -> SMTPConfigurationError { SMTPConfigurationError(message: message) }
        let hostForbidden = CharacterSet.whitespacesAndNewlines.union(CharacterSet(charactersIn: "/@?#[]\0"))
        if server.isEmpty {
            throw fail("SMTP server name is empty (site.ini [MailSettings] TransportServer)")
        }
        if server.unicodeScalars.contains(where: hostForbidden.contains) {
            throw fail("SMTP server name \(server.debugDescription) is not a host name (TransportServer)")
        }
        if !(1...65535).contains(port) {
            throw fail("SMTP port \(port) is not between 1 and 65535 (TransportPort)")
        }
        let heloAllowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]")
        if heloName.isEmpty || !heloName.unicodeScalars.allSatisfy(heloAllowed.contains) {
            throw fail("EHLO name \(heloName.debugDescription) is not a host name or address literal (SenderHost)")
        }
        if (user == nil) != (password == nil) {
            throw fail("SMTP AUTH needs both TransportUser and TransportPassword; only one is set")
        }
        if let user, user.isEmpty || user.contains("\0") {
            throw fail("SMTP user name is empty or contains a NUL byte (TransportUser)")
        }
        if let password, password.contains("\0") {
            throw fail("SMTP password contains a NUL byte (TransportPassword)")
        }
        if usesAuthentication && security == .none && !allowPlaintextAuthentication {
            throw fail("smtp \(serverLabel): refusing to send the SMTP password unencrypted: set"
                       + " TransportConnectionType=tls (STARTTLS) or ssl (smtps), or"
                       + " TransportAllowPlaintextAuth=enabled to allow it")
        }
        if let caFile, !FileManager.default.isReadableFile(atPath: caFile) {
            throw fail("CA file \(caFile) does not exist or is not readable")
        }
        if !(connectTimeout > 0) || !(timeout > 0) {
            throw fail("SMTP timeouts must be positive (connect \(connectTimeout) s, per message \(timeout) s)")
        }
        let longest = Double(Self.timeoutRange.upperBound)
        if connectTimeout > longest || timeout > longest {
            throw fail("SMTP timeouts must be at most \(Self.timeoutRange.upperBound) s (connect \(connectTimeout) s, per message \(timeout) s)")
        }
        if !Self.connectionsRange.contains(maxConnections) {
            throw fail("MaxConnections \(maxConnections) is not between \(Self.connectionsRange.lowerBound) and \(Self.connectionsRange.upperBound)")
        }
        if let limit = maxUnrecordedAcceptances, !(Self.unrecordedAcceptancesRange).contains(limit) {
            throw fail("MaxUnrecordedAcceptances \(limit) is not between 1 and \(Self.unrecordedAcceptancesRange.upperBound)")
        }
    }
}

extension SMTPConfiguration: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String {
        var parts = ["\(security == .implicitTLS ? "smtps" : "smtp")://\(serverLabel)"]
        if security == .starttls { parts.append("starttls") }
        if let user { parts.append("user=\(user) password=<hidden>") }
        if allowPlaintextAuthentication { parts.append("plaintext auth allowed") }
        if !verifyCertificate { parts.append("certificate check off") }
        if let caFile { parts.append("ca=\(caFile)") }
        parts.append("helo=\(heloName)")
        parts.append("connections=\(maxConnections)")
        if let maxUnrecordedAcceptances { parts.append("unrecorded=\(maxUnrecordedAcceptances)") }
        return "SMTPConfiguration(" + parts.joined(separator: " ") + ")"
    }

    public var debugDescription: String { description }

    /// Keeps the password out of `dump()` and debugger output.
    public var customMirror: Mirror {
        Mirror(self, children: [
            "server": server, "port": port, "security": security, "user": user as Any,
            "password": password == nil ? "nil" : "<hidden>",
            "verifyCertificate": verifyCertificate, "caFile": caFile as Any, "heloName": heloName,
            "connectTimeout": connectTimeout, "timeout": timeout, "maxConnections": maxConnections,
            "maxUnrecordedAcceptances": maxUnrecordedAcceptances as Any,
            "allowPlaintextAuthentication": allowPlaintextAuthentication,
        ])
    }
}

extension CharacterSet {
    /// RFC 3986 unreserved characters: safe in a URL path without escaping.
    fileprivate static let urlUnreservedCharacters = CharacterSet(
        charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
}
