/// The template sources, named by event and part.
enum IngestMailText {
    // Room names are optional in EnableX bodies; the room id always comes.
    private static let room = "{{#room_name}}{{room_name}}{{/room_name}}{{^room_name}}{{room_id}}{{/room_name}}"

    /// The source's own link to where people watch the object (`EntryURL=`, `VideoURL=`,
    /// `RecordingURL=`), percent-encoded at intake.
    private static let watchText = """
        {{#watch_url}}
        Watch: {{watch_url}}
        {{/watch_url}}
        """

    private static let watchHTML = """
        {{#watch_url}}
        <p><a href="{{watch_url}}">Watch</a></p>
        {{/watch_url}}
        """

    private static let linksText = """
        {{#links}}
        {{title}}: {{url}}
        {{/links}}
        """

    private static let linksHTML = """
        {{#links}}
        <li><a href="{{url}}">{{title}}</a></li>
        {{/links}}
        """

    /// The links as a list of their own, when there are any.
    private static let linksListHTML = """
        {{#has_links}}
        <ul>
        {{/has_links}}
        \(linksHTML)
        {{#has_links}}
        </ul>
        {{/has_links}}
        """

    // MARK: Generic (any source, Standard Webhooks)

    static let eventSubject = """
        {{type}}: {{name}}
        """

    static let eventText = """
        This email is to inform you that {{site_name}} received a {{type}} notification about {{name}}.
        \(linksText)

        """

    static let eventHTML = """
        <p>This email is to inform you that <a href="{{site_url}}">{{site_name}}</a> received a \
        <code>{{type}}</code> notification about {{name}}.</p>
        \(linksListHTML)

        """

    // MARK: Kaltura

    static let kalturaSubject = """
        Kaltura: {{name}}
        """

    static let kalturaText = """
        This email is to inform you about a change in Kaltura ({{type}}) concerning {{name}}.
        {{#download_url}}

        Download: {{download_url}}
        {{/download_url}}

        """

    static let kalturaHTML = """
        <p>This email is to inform you about a change in Kaltura (<code>{{type}}</code>) concerning {{name}}.</p>
        {{#download_url}}
        <p><a href="{{download_url}}">Download</a></p>
        {{/download_url}}

        """

    private static let entryLinksText = """
        {{#download_url}}
        Download: {{download_url}}
        {{/download_url}}
        {{#thumbnail_url}}
        Thumbnail: {{thumbnail_url}}
        {{/thumbnail_url}}
        """

    private static let entryLinksHTML = """
        {{#download_url}}
        <p><a href="{{download_url}}">Download</a>{{#thumbnail_url}} &middot; <a href="{{thumbnail_url}}">Thumbnail</a>{{/thumbnail_url}}</p>
        {{/download_url}}
        {{^download_url}}
        {{#thumbnail_url}}
        <p><a href="{{thumbnail_url}}">Thumbnail</a></p>
        {{/thumbnail_url}}
        {{/download_url}}
        """

    static let entryAddedSubject = """
        {{#ready}}"{{name}}" is ready to watch{{/ready}}{{^ready}}New media "{{name}}" was added{{/ready}}
        """

    static let entryAddedText = """
        {{#ready}}
        "{{name}}" has been added to Kaltura and is ready to watch.
        \(watchText)
        {{/ready}}
        {{^ready}}
        "{{name}}" has been added to Kaltura. You will hear from us again when it is ready to watch.
        {{/ready}}
        Entry {{node_id}}{{#partner_id}}, partner {{partner_id}}{{/partner_id}}

        \(entryLinksText)

        """

    static let entryAddedHTML = """
        {{#ready}}
        <p>&ldquo;{{name}}&rdquo; has been added to Kaltura and is ready to watch.</p>
        \(watchHTML)
        {{/ready}}
        {{^ready}}
        <p>&ldquo;{{name}}&rdquo; has been added to Kaltura. You will hear from us again when it is ready to watch.</p>
        {{/ready}}
        <p>Entry {{node_id}}{{#partner_id}}, partner {{partner_id}}{{/partner_id}}</p>
        \(entryLinksHTML)

        """

    static let entryChangedSubject = """
        {{#ready}}"{{name}}" is ready to watch{{/ready}}{{^ready}}"{{name}}" was updated{{/ready}}
        """

    static let entryChangedText = """
        {{#ready}}
        "{{name}}" is ready to watch in Kaltura.
        \(watchText)
        {{/ready}}
        {{^ready}}
        "{{name}}" was updated in Kaltura.
        {{/ready}}
        Entry {{node_id}}{{#partner_id}}, partner {{partner_id}}{{/partner_id}}

        \(entryLinksText)

        """

    static let entryChangedHTML = """
        {{#ready}}
        <p>&ldquo;{{name}}&rdquo; is ready to watch in Kaltura.</p>
        \(watchHTML)
        {{/ready}}
        {{^ready}}
        <p>&ldquo;{{name}}&rdquo; was updated in Kaltura.</p>
        {{/ready}}
        <p>Entry {{node_id}}{{#partner_id}}, partner {{partner_id}}{{/partner_id}}</p>
        \(entryLinksHTML)

        """

    static let entryDeletedSubject = """
        Kaltura entry {{node_id}} was deleted
        """

    static let entryDeletedText = """
        The Kaltura entry {{node_id}}{{#partner_id}} of partner {{partner_id}}{{/partner_id}} was deleted; \
        it can no longer be watched.

        """

    static let entryDeletedHTML = """
        <p>The Kaltura entry {{node_id}}{{#partner_id}} of partner {{partner_id}}{{/partner_id}} was deleted; \
        it can no longer be watched.</p>

        """

    static let scheduledSubject = """
        Webinar "{{name}}" scheduled for {{start_text}}
        """

    static let scheduledText = """
        The webinar "{{name}}" has been scheduled.

        Starts: {{start_text}}
        {{#end_text}}
        Ends:   {{end_text}}
        {{/end_text}}
        \(sessionDetailsText)

        We will remind you shortly before it starts.

        """

    /// Who runs a webinar and what it is about, in the announcement and the reminder alike.
    private static let sessionDetailsText = """
        {{#organizer}}
        Organizer: {{organizer}}
        {{/organizer}}
        {{#description}}

        {{description}}
        {{/description}}
        """

    static let scheduledHTML = """
        <p>The webinar &ldquo;{{name}}&rdquo; has been scheduled.</p>
        <p>Starts: {{start_text}}{{#end_text}}<br>
        Ends: {{end_text}}{{/end_text}}{{#organizer}}<br>
        Organizer: {{organizer}}{{/organizer}}</p>
        {{#description}}
        <p>{{description}}</p>
        {{/description}}
        <p>We will remind you shortly before it starts.</p>

        """

    // The reminder says when, not "in N minutes": announced inside the lead, or picked up by a
    // late run, it arrives later than start - lead.
    static let reminderSubject = """
        Webinar "{{name}}" starts at {{start_clock}}
        """

    static let reminderText = """
        A reminder: the webinar "{{name}}" starts soon, on {{start_text}}.
        \(sessionDetailsText)

        """

    static let reminderHTML = """
        <p>A reminder: the webinar &ldquo;{{name}}&rdquo; starts soon, on {{start_text}}.</p>
        {{#organizer}}
        <p>Organizer: {{organizer}}</p>
        {{/organizer}}
        {{#description}}
        <p>{{description}}</p>
        {{/description}}

        """

    // MARK: Panda

    static let pandaSubject = """
        Panda: {{event}} for video {{node_id}}
        """

    static let pandaText = """
        Panda reported "{{event}}" for video {{node_id}}.

        """

    static let pandaHTML = """
        <p>Panda reported &ldquo;{{event}}&rdquo; for video {{node_id}}.</p>

        """

    static let videoCreatedSubject = """
        Video {{video_id}} was uploaded
        """

    static let videoCreatedText = """
        Video {{video_id}} was uploaded to Panda and is waiting to be encoded.
        We will tell you when it is ready.

        """

    static let videoCreatedHTML = """
        <p>Video {{video_id}} was uploaded to Panda and is waiting to be encoded.
        We will tell you when it is ready.</p>

        """

    static let videoEncodedSubject = """
        Video {{video_id}} is ready
        """

    static let videoEncodedText = """
        Video {{video_id}} has been encoded by Panda and is ready to be played.
        \(watchText)
        {{^watch_url}}
        Find it in Panda under video id {{video_id}}.
        {{/watch_url}}

        """

    static let videoEncodedHTML = """
        <p>Video {{video_id}} has been encoded by Panda and is ready to be played.</p>
        \(watchHTML)
        {{^watch_url}}
        <p>Find it in Panda under video id {{video_id}}.</p>
        {{/watch_url}}

        """

    static let encodingCompleteSubject = """
        Encoding {{encoding_id}}{{#video_id}} of video {{video_id}}{{/video_id}} is complete
        """

    static let encodingCompleteText = """
        Panda has finished encoding {{encoding_id}}{{#video_id}} of video {{video_id}}{{/video_id}}.

        """

    static let encodingCompleteHTML = """
        <p>Panda has finished encoding {{encoding_id}}{{#video_id}} of video {{video_id}}{{/video_id}}.</p>

        """

    static let encodingProgressSubject = """
        Encoding {{encoding_id}} is {{progress}}% done
        """

    static let encodingProgressText = """
        Panda is encoding {{encoding_id}}{{#video_id}} of video {{video_id}}{{/video_id}}: {{progress}}% done.

        """

    static let encodingProgressHTML = """
        <p>Panda is encoding {{encoding_id}}{{#video_id}} of video {{video_id}}{{/video_id}}: {{progress}}% done.</p>

        """

    // MARK: EnableX

    static let enablexSubject = """
        Room \(room): {{type}}
        """

    static let enablexText = """
        EnableX reported {{type}} for room \(room).
        \(linksText)

        """

    static let enablexHTML = """
        <p>EnableX reported <code>{{type}}</code> for room \(room).</p>
        \(linksListHTML)

        """

    static let recordingSubject = """
        Recording of room \(room) is ready
        """

    static let recordingText = """
        The recording of room \(room) is ready.
        \(watchText)
        {{^watch_url}}
        EnableX app {{app_id}}, room {{room_id}}{{#conf_num}}, conference {{conf_num}}{{/conf_num}}.
        {{/watch_url}}
        {{#has_links}}

        Download it here:
        {{/has_links}}
        \(linksText)

        """

    static let recordingHTML = """
        <p>The recording of room \(room) is ready.</p>
        \(watchHTML)
        {{^watch_url}}
        <p>EnableX app {{app_id}}, room {{room_id}}{{#conf_num}}, conference {{conf_num}}{{/conf_num}}.</p>
        {{/watch_url}}
        {{#has_links}}
        <p>Download it here:</p>
        <ul>
        {{/has_links}}
        \(linksHTML)
        {{#has_links}}
        </ul>
        {{/has_links}}

        """

    static let transcodedSubject = """
        Transcoded recording of room \(room) is ready
        """

    static let transcodedText = """
        The recording of room \(room) has been transcoded into a single video.
        {{#has_links}}

        Watch or download it here:
        {{/has_links}}
        \(linksText)

        """

    static let transcodedHTML = """
        <p>The recording of room \(room) has been transcoded into a single video.</p>
        {{#has_links}}
        <p>Watch or download it here:</p>
        <ul>
        {{/has_links}}
        \(linksHTML)
        {{#has_links}}
        </ul>
        {{/has_links}}

        """

    static let filesSubject = """
        Files shared in room \(room)
        """

    static let filesText = """
        Files were shared in room \(room).
        {{#has_links}}

        Download them here:
        {{/has_links}}
        \(linksText)

        """

    static let filesHTML = """
        <p>Files were shared in room \(room).</p>
        {{#has_links}}
        <p>Download them here:</p>
        <ul>
        {{/has_links}}
        \(linksHTML)
        {{#has_links}}
        </ul>
        {{/has_links}}

        """

    static let roomdropSubject = """
        Room \(room) was dropped
        """

    static let roomdropText = """
        EnableX dropped room \(room){{#conf_num}} (conference {{conf_num}}){{/conf_num}}; \
        the session in it has ended.

        """

    static let roomdropHTML = """
        <p>EnableX dropped room \(room){{#conf_num}} (conference {{conf_num}}){{/conf_num}}; \
        the session in it has ended.</p>

        """
}
