import Foundation

/// Builds the transport that site.ini `[MailSettings] Transport` names: `file` (the default),
/// `SMTP` or `sendmail`, wrapped for `DebugSending=enabled`.
///
///     let transport = try TransportFactory.make(settings: settings, root: root)
public enum TransportFactory {
    public static func make(settings: Settings, root: URL) throws -> MailTransport {
        let mail = try settings.file("site.ini")
        let block = "MailSettings"
        let name = (mail.string(block, "Transport") ?? "file").trimmingCharacters(in: .whitespaces).lowercased()
        let debugSending = try mail.bool(block, "DebugSending", default: false)
        let transport: MailTransport
        switch name {
        case "file", "":
            transport = try FileTransport(directory: root.appendingPathComponent("var/log/mail"))
        case "smtp":
            transport = try SMTPTransport(configuration: try smtpConfiguration(mail))
        case "sendmail":
            let path = mail.string(block, "SendmailPath").flatMap { $0.isEmpty ? nil : $0 } ?? "/usr/sbin/sendmail"
            let options = mail.array(block, "SendmailOptions").filter { !$0.isEmpty }
            // `-t` reads the recipients from the headers, which a debug redirect does not change:
            // then name the (redirected) envelope recipient instead.
            let timeout = try mail.int(block, "SendmailTimeout") ?? 60
            guard timeout > 0 else { throw EventFilterError.failure("site.ini [MailSettings] SendmailTimeout must be positive") }
            transport = SendmailTransport(path: path, extraOptions: options, recipientSource: debugSending ? .envelope : .headers,
                                          timeout: Double(timeout))
        default:
            throw EventFilterError.failure("site.ini [MailSettings] Transport=\(name) is not file, SMTP or sendmail")
        }
        guard debugSending else { return transport }
        guard let receiver = mail.string(block, "DebugReceiverEmail")?.trimmingCharacters(in: .whitespaces), !receiver.isEmpty,
              (try? Mailbox(address: receiver)) != nil else {
            throw EventFilterError.failure("site.ini [MailSettings] DebugSending=enabled needs a valid DebugReceiverEmail")
        }
        return RedirectingTransport(wrapping: transport, to: receiver)
    }

    /// Checks the mail settings as `make` reads them, without creating anything (for `eventfilter check`).
    public static func validate(settings: Settings, root: URL) throws {
        let mail = try settings.file("site.ini")
        let name = (mail.string("MailSettings", "Transport") ?? "file").trimmingCharacters(in: .whitespaces).lowercased()
        if name == "file" || name.isEmpty {
            // The file transport has nothing to check but the debug redirect; building it would create var/log/mail.
            guard try mail.bool("MailSettings", "DebugSending", default: false) else { return }
            guard let receiver = mail.string("MailSettings", "DebugReceiverEmail")?.trimmingCharacters(in: .whitespaces),
                  (try? Mailbox(address: receiver)) != nil else {
                throw EventFilterError.failure("site.ini [MailSettings] DebugSending=enabled needs a valid DebugReceiverEmail")
            }
            return
        }
        if name == "smtp" {
            try smtpConfiguration(mail).validate()
        }
        _ = try make(settings: settings, root: root)
    }

    static func smtpConfiguration(_ mail: SettingsFile) throws -> SMTPConfiguration {
        let block = "MailSettings"
        guard let server = mail.string(block, "TransportServer")?.trimmingCharacters(in: .whitespaces), !server.isEmpty else {
            throw EventFilterError.failure("site.ini [MailSettings] Transport=SMTP needs TransportServer")
        }
        let securityText = (mail.string(block, "TransportConnectionType") ?? "").trimmingCharacters(in: .whitespaces).lowercased()
        guard let security = SMTPConfiguration.Security(rawValue: securityText) else {
            throw EventFilterError.failure("site.ini [MailSettings] TransportConnectionType=\(securityText) is not empty, tls or ssl")
        }
        let defaultPort = security == .implicitTLS ? 465 : 25
        var configuration = SMTPConfiguration(server: server, port: try mail.int(block, "TransportPort") ?? defaultPort, security: security)
        let user = mail.string(block, "TransportUser") ?? ""
        let password = mail.string(block, "TransportPassword") ?? ""
        if !user.isEmpty && !password.isEmpty {
            configuration.user = user
            configuration.password = password
        }
        configuration.allowPlaintextAuthentication = try mail.bool(block, "TransportAllowPlaintextAuth", default: false)
        configuration.verifyCertificate = try mail.bool(block, "TransportVerifyCertificate", default: true)
        if let ca = mail.string(block, "TransportCAFile"), !ca.isEmpty { configuration.caFile = ca }
        if let helo = mail.string(block, "SenderHost"), !helo.isEmpty { configuration.heloName = helo }
        for key in ["TransportConnectTimeout", "TransportTimeout"] {
            guard let seconds = try mail.int(block, key) else { continue }
            let range = SMTPConfiguration.timeoutRange
            guard range.contains(seconds) else {
                throw EventFilterError.failure("site.ini [MailSettings] \(key) must be \(range.lowerBound)-\(range.upperBound) seconds, got \(seconds)")
            }
            if key == "TransportTimeout" { configuration.timeout = Double(seconds) } else { configuration.connectTimeout = Double(seconds) }
        }
        if let connections = try mail.int(block, "MaxConnections") {
            guard (1...64).contains(connections) else {
                throw EventFilterError.failure("site.ini [MailSettings] MaxConnections must be 1-64, got \(connections)")
            }
            configuration.maxConnections = connections
        }
        if let limit = try mail.int(block, "MaxUnrecordedAcceptances") {
            let range = SMTPConfiguration.unrecordedAcceptancesRange
            guard range.contains(limit) else {
                throw EventFilterError.failure("site.ini [MailSettings] MaxUnrecordedAcceptances must be \(range.lowerBound)-\(range.upperBound), got \(limit)")
            }
            configuration.maxUnrecordedAcceptances = limit
        }
        return configuration
    }
}
