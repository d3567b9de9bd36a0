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
        // A number outside what the setting can be stops here, naming the setting, rather than
        // in libcurl or in SMTPConfiguration's check without its site.ini name.
        func int(_ key: String, in range: ClosedRange<Int>, unit: String = "") throws -> Int? {
            guard let value = try mail.int(block, key) else { return nil }
            guard range.contains(value) else {
                throw EventFilterError.failure("site.ini [MailSettings] \(key) must be \(range.lowerBound)-\(range.upperBound)\(unit), got \(value)")
            }
            return value
        }
        if let seconds = try int("TransportConnectTimeout", in: SMTPConfiguration.timeoutRange, unit: " seconds") {
            configuration.connectTimeout = Double(seconds)
        }
        if let seconds = try int("TransportTimeout", in: SMTPConfiguration.timeoutRange, unit: " seconds") {
            configuration.timeout = Double(seconds)
        }
        if let connections = try int("MaxConnections", in: SMTPConfiguration.connectionsRange) {
            configuration.maxConnections = connections
        }
        if let limit = try int("MaxUnrecordedAcceptances", in: SMTPConfiguration.unrecordedAcceptancesRange) {
            configuration.maxUnrecordedAcceptances = limit
        }
        return configuration
    }
}
