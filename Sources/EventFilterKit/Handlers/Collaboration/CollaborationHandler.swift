/// `ezcollaborationnotification`: an `ezcollaboration` event (an approval waiting, say) goes to
/// its participants who have a collaboration rule for the event's identifier, always at once,
/// even for users who take everything else as a digest. Approvers and authors get their own
/// wording, as in eZ's `ezapprove` templates.
final class CollaborationHandler: EventHandler {
    let name = "ezcollaborationnotification"
    let origin = "built-in"

    /// eZ's participant role for approvers (`eZCollaborationItemParticipantLink::ROLE_APPROVER`).
    private static let approverRoles: Set<String> = ["approver", "4"]
    /// ... and for the author whose draft waits (`ROLE_AUTHOR`).
    private static let authorRoles: Set<String> = ["author", "5"]

    /// What a collaboration rule covers, in words for the footer's link.
    static func ruleSubject(_ identifier: String) -> String {
        identifier == "ezapprove" ? "approval requests" : "collaboration items of type \(identifier)"
    }

    func items(for events: [Event], renderer: MailRenderer, store: Store) throws -> [Int64: HandlerOutcome] {
        try eachEvent(events) { try items(for: $0, renderer: renderer, store: store) }
    }

    private func items(for event: Event, renderer: MailRenderer, store: Store) throws -> [HandlerItem] {
        guard event.type == EventType.collaboration,
              let identifier = event.param("identifier"),
              let participants = event.params["participants"] else { return [] }

        var roles: [String: String] = [:]
        var emails: [String] = []
        for participant in participants.arrayValue ?? [] {
            if let email = participant["email"]?.stringValue {
                roles[email.lowercased()] = participant["role"]?.stringValue ?? ""
                emails.append(email)
            }
        }
        var byRole: [String: [Recipient]] = [:]
        for var recipient in try store.collaborators(emails: emails, identifier: identifier) {
            recipient.unsubscribeSubject = Self.ruleSubject(identifier)
            byRole[roles[recipient.email.lowercased()] ?? "", default: []].append(recipient)
        }

        let itemID = event.param("item_id") ?? String(event.id)
        return try byRole.keys.sorted().map { role in
            let variables: [String: TemplateValue] = [
                "identifier": .text(identifier),
                "name": .text(event.param("name") ?? "item \(itemID)"),
                "item_id": .text(itemID),
                "url": .text(event.param("url") ?? "\(renderer.site.siteURL)/collaboration/item/full/\(itemID)"),
                "role": .text(role),
                "is_approver": .bool(Self.approverRoles.contains(role.lowercased())),
                "is_author": .bool(Self.authorRoles.contains(role.lowercased())),
            ]
            let content = try renderer.render(bases: ["ezcollaboration"], handler: name,
                                              thread: renderer.threadID(node: "collaboration-\(itemID)"), variables)
            return .mail(Items(content: content, recipients: byRole[role]!, delivery: .immediate))
        }
    }
}
