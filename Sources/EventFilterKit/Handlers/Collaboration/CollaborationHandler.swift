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

    func handle(_ event: Event, run: RunContext) throws -> HandlerOutcome {
        guard event.type == EventType.collaboration,
              let identifier = event.param("identifier"),
              let participants = event.params["participants"] else { return .done([]) }

        var roles: [String: String] = [:]
        for participant in participants.arrayValue ?? [] {
            if let email = participant["email"]?.stringValue {
                roles[email.lowercased()] = participant["role"]?.stringValue ?? ""
            }
        }
        var byRole: [String: [Recipient]] = [:]
        try run.store.db.forEach("""
            SELECT DISTINCT u.id, u.email, u.name, u.timezone, c.token, u.token
            FROM json_each(?) AS p
            JOIN user AS u ON u.email = json_extract(p.value, '$.email') AND u.enabled = 1
            JOIN collaboration_rule AS c ON c.user_id = u.id AND c.identifier = ?
            ORDER BY u.id
            """, [participants.serialized, identifier]) { row in
            let email = row.string(1)
            let role = roles[email.lowercased()] ?? ""
            byRole[role, default: []].append(
                Recipient(userID: row.int64(0), email: email, name: row.string(2), timezone: row.string(3), digest: nil,
                          unsubscribeToken: row.string(4), unsubscribeSubject: Self.ruleSubject(identifier),
                          stopAllToken: row.string(5)))
        }

        let itemID = event.param("item_id") ?? String(event.id)
        return .done(try byRole.keys.sorted().map { role in
            let variables: [String: TemplateValue] = [
                "identifier": .text(identifier),
                "name": .text(event.param("name") ?? "item \(itemID)"),
                "item_id": .text(itemID),
                "url": .text(event.param("url") ?? "\(run.site.siteURL)/collaboration/item/full/\(itemID)"),
                "role": .text(role),
                "is_approver": .bool(Self.approverRoles.contains(role.lowercased())),
                "is_author": .bool(Self.authorRoles.contains(role.lowercased())),
            ]
            let content = try run.render(bases: ["ezcollaboration"], handler: name,
                                         thread: run.threadID(node: "collaboration-\(itemID)"), variables)
            return Items(content: content, recipients: byRole[role]!, delivery: .immediate)
        })
    }
}
