/// The blocks and keys eventfilter reads, per INI file, for `eventfilter check`'s unknown-key
/// warnings. eZ Publish's own keys in the files eventfilter shares with it are listed too, so its
/// stock files check clean. A new setting must be added here as well as where it is read.
///
///     SettingsSchema.keys(in: "MailSettings", of: "site.ini", blocks: SettingsSchema.known["site.ini"]!)
enum SettingsSchema {
    /// The files checked, in the order findings are listed.
    static let files = ["site.ini", "notification.ini", "webhooks.ini"]

    static let known: [String: [String: Set<String>]] = [
        "site.ini": [
            "SiteSettings": ["SiteName", "SiteURL", "UnsubscribeURL", "SettingsURL", "FollowSecret"],
            "ExtensionSettings": ["ActiveExtensions"],
            "MailSettings": [
                "Transport", "AdminEmail", "EmailSender", "TransportServer", "TransportPort", "TransportUser", "TransportPassword",
                "TransportConnectionType", "TransportVerifyCertificate", "TransportCAFile", "TransportConnectTimeout",
                "TransportTimeout", "MaxConnections", "MaxUnrecordedAcceptances", "SenderHost", "SendmailPath", "SendmailOptions", "SendmailTimeout",
                "DebugSending", "DebugReceiverEmail", "TransportAllowPlaintextAuth", "BounceAddress", "BounceDisableAfter",
                "EmailReplyTo",
                // eZ Publish's, accepted and not used
                "TransportAlias", "AllowedCharsets", "OutputCharset", "ContentType", "HeaderLineEnding",
                "SendmailInsertUndisclosedRecipient", "ExcludeHeaders",
            ],
            "DatabaseSettings": ["Backend", "ConnectionString"],
        ],
        "notification.ini": [
            "RuleSettings": ["RepositoryDirectories", "ExtensionDirectories", "Alias", "LimitDeleteElements"],
            "NotificationEventTypeSettings": ["RepositoryDirectories", "ExtensionDirectories", "AvailableNotificationEventTypes"],
            "NotificationEventHandlerSettings": ["RepositoryDirectories", "ExtensionDirectories", "AvailableNotificationEventTypes"],
            "TransportSettings": ["DefaultTransport", "TransportPluginPath"],
            "MailSettings": ["EmailSender"],
            "SubtreeHandlerSettings": ["NotifyAuthor"],
            "GeneralDigestSettings": ["MaxItems"],
            "EventFilterSettings": [
                "BatchSize", "KeepDays", "HandlerTimeout", "KeepDedupeDays", "WarnDeferredAfter", "MaxRunTime", "HandlerGiveUpAfter",
            ],
        ],
        "webhooks.ini": [
            "WebhookSettings": ["BodyLimit"],
        ],
    ]

    /// Files whose unknown blocks are not reported: eZ's site.ini carries many blocks for the CMS.
    static let openFiles: Set<String> = ["site.ini"]

    /// The keys of `block`, nil for an unknown block. `[Source-NAME]` blocks of webhooks.ini are
    /// checked by their own loader, which refuses unknown keys.
    static func keys(in block: String, of file: String, blocks: [String: Set<String>]) -> Set<String>? {
        blocks[block]
    }

    static func isCheckedByLoader(block: String, of file: String) -> Bool {
        file == WebhookSources.fileName && block.hasPrefix(WebhookSources.sourcePrefix)
    }

    /// The files of a template set an extension may override.
    static let templateFiles: Set<String> = ["subject.txt", "body.txt", "body.html", "footer.txt", "footer.html"]
}
