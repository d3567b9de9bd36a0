/// The mail when a scheduled session moves or is called off: one message naming what changed,
/// sent once per change (intake stores these events only when subscribers were told of the session).
///
///     IngestMailText.rescheduledSubject   // Webinar "{{name}}" moved to {{start_text}}
extension IngestMailText {
    static let rescheduledSubject = """
        Webinar "{{name}}" moved to {{start_text}}
        """

    static let rescheduledText = """
        The webinar "{{name}}" has been rescheduled.

        Was:    {{old_start_text}}
        Now:    {{start_text}}
        {{#end_text}}
        Ends:   {{end_text}}
        {{/end_text}}

        Your reminder has moved with it: it will arrive shortly before the new start.

        """

    static let rescheduledHTML = """
        <p>The webinar &ldquo;{{name}}&rdquo; has been rescheduled.</p>
        <p>Was: <s>{{old_start_text}}</s><br>
        Now: <strong>{{start_text}}</strong>{{#end_text}}<br>
        Ends: {{end_text}}{{/end_text}}</p>
        <p>Your reminder has moved with it: it will arrive shortly before the new start.</p>

        """

    static let cancelledSubject = """
        Webinar "{{name}}" cancelled
        """

    static let cancelledText = """
        The webinar "{{name}}"{{#start_text}}, scheduled for {{start_text}},{{/start_text}} has been cancelled.

        You will not get a reminder for it.

        """

    static let cancelledHTML = """
        <p>The webinar &ldquo;{{name}}&rdquo;{{#start_text}}, scheduled for {{start_text}},{{/start_text}} has been cancelled.</p>
        <p>You will not get a reminder for it.</p>

        """
}
