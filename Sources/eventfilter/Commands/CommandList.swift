import EventFilterKit
import Foundation

/// Every command, in the order the overview and the reference list them.
enum CommandList {
    static let version = "1.0.0"

    static var all: [any Command.Type] {
        [
            RunCommand.self,
            EventAddCommand.self, EventImportCommand.self, EventListCommand.self,
            IngestCommand.self, CGICommand.self, FastCGICommand.self,
            UserAddCommand.self, UserRemoveCommand.self, UserListCommand.self, UserShowCommand.self, UserSetCommand.self,
            UserTokenCommand.self,
            UserDisableCommand.self, UserEnableCommand.self,
            DigestCommand.self, SubscribeCommand.self, UnsubscribeCommand.self,
            CollaborationSubscribeCommand.self, CollaborationUnsubscribeCommand.self,
            StatusCommand.self, CheckCommand.self, HandlersCommand.self,
            MailListCommand.self, MailShowCommand.self, MailRetryCommand.self, MailAckCommand.self, MailFlushCommand.self,
            BounceCommand.self, BackupCommand.self, DatabaseMigrateCommand.self, DatabaseCopyCommand.self,
            HelpCommand.self,
        ]
    }

    static var visible: [any Command.Type] { all.filter { !$0.isHidden } }

    /// `eventfilter --help`: the global usage and one line per command.
    static var overview: String {
        """
        eventfilter: an eZ-Publish-style notification filter with digest delivery.

        Usage: eventfilter [--root DIR] [--now TIME] COMMAND ...

        Commands:
        \(HelpTable.render(visible.map { ($0.name, $0.abstract) }))
        Global options:
        \(HelpTable.render(GlobalOptions.all.map { ($0.spec.synopsis, $0.spec.help) }))
        'eventfilter COMMAND --help' shows a command's help.

        """
    }

    /// `eventfilter user --help`: the commands of one group.
    static func groupHelp(_ words: [String]) -> String {
        let members = visible.filter { $0.words.starts(with: words) }
        return "Usage: eventfilter \(words.joined(separator: " ")) SUBCOMMAND ...\n\nSubcommands:\n"
            + HelpTable.render(members.map { ($0.usage, $0.abstract) })
            + "\n'eventfilter \(words.joined(separator: " ")) SUBCOMMAND --help' shows a subcommand's help.\n"
    }

    /// The README's command reference: one usage line per command, from the declarations.
    static var reference: String {
        let lines = ["eventfilter [--root DIR] [--now TIME] [--help] [--version]"] + visible.map { "eventfilter \($0.usage)" }
        return lines.joined(separator: "\n") + "\n"
    }
}
