/// The mail of ingested webhook events: what a person would write about a recording, an encoded
/// video or a webinar, not a dump of fields.
///
/// The subtree handler looks templates up for an event type `T` as `T/`, then its source's
/// (`kaltura/` for `kaltura.entry_add`), then `event/`. Every string (and number) param is a
/// variable, with `links` (a list of `title`, `url`), `name`, `node_id`, `type` and the site's
/// `site_name`, `site_url`. Derived at intake: Kaltura schedule events have `start_text`
/// ("Thursday 1 January 2026, 09:00 UTC"), `start_clock` ("09:00 UTC"), `start_time` (ISO 8601)
/// and the same for `end_`; reminders `lead_minutes`; ready Kaltura entries `ready`; `watch_url` from the
/// source's `EntryURL=`/`VideoURL=`/`RecordingURL=` template; a moved
/// session's mail `old_start_text` and `old_start_clock` beside the new `start_text`.
///
/// As with the kernel's templates, an extension overrides any of them with
/// `extension/<ext>/templates/<name>`, e.g. `templates/enablex.recording/subject.txt`.
extension BuiltinTemplates {
    static let ingest: [String: String] = {
        var templates: [String: String] = [:]
        func add(_ bases: [String], subject: String, text: String, html: String) {
            for base in bases {
                templates["\(base)/subject.txt"] = subject
                templates["\(base)/body.txt"] = text
                templates["\(base)/body.html"] = html
            }
        }
        add(["event"], subject: IngestMailText.eventSubject, text: IngestMailText.eventText, html: IngestMailText.eventHTML)

        // Kaltura: legacy server notifications say entry_add, HTTP notifications entry_added.
        add(["kaltura"], subject: IngestMailText.kalturaSubject, text: IngestMailText.kalturaText, html: IngestMailText.kalturaHTML)
        add(["kaltura.entry_add", "kaltura.entry_added"],
            subject: IngestMailText.entryAddedSubject, text: IngestMailText.entryAddedText, html: IngestMailText.entryAddedHTML)
        add(["kaltura.entry_update", "kaltura.entry_changed", "kaltura.entry_updated"],
            subject: IngestMailText.entryChangedSubject, text: IngestMailText.entryChangedText, html: IngestMailText.entryChangedHTML)
        add(["kaltura.entry_delete", "kaltura.entry_deleted"],
            subject: IngestMailText.entryDeletedSubject, text: IngestMailText.entryDeletedText, html: IngestMailText.entryDeletedHTML)
        add(["kaltura.schedule_event", "kaltura.schedule_event_added"],
            subject: IngestMailText.scheduledSubject, text: IngestMailText.scheduledText, html: IngestMailText.scheduledHTML)
        add(["kaltura.schedule_reminder"],
            subject: IngestMailText.reminderSubject, text: IngestMailText.reminderText, html: IngestMailText.reminderHTML)
        add(["kaltura.schedule_rescheduled"],
            subject: IngestMailText.rescheduledSubject, text: IngestMailText.rescheduledText,
            html: IngestMailText.rescheduledHTML)
        add(["kaltura.schedule_cancelled"],
            subject: IngestMailText.cancelledSubject, text: IngestMailText.cancelledText, html: IngestMailText.cancelledHTML)

        // Panda: ids only, so the mail names the video by its id.
        add(["panda"], subject: IngestMailText.pandaSubject, text: IngestMailText.pandaText, html: IngestMailText.pandaHTML)
        add(["panda.video-created"],
            subject: IngestMailText.videoCreatedSubject, text: IngestMailText.videoCreatedText, html: IngestMailText.videoCreatedHTML)
        add(["panda.video-encoded"],
            subject: IngestMailText.videoEncodedSubject, text: IngestMailText.videoEncodedText, html: IngestMailText.videoEncodedHTML)
        add(["panda.encoding-complete"],
            subject: IngestMailText.encodingCompleteSubject, text: IngestMailText.encodingCompleteText,
            html: IngestMailText.encodingCompleteHTML)
        add(["panda.encoding-progress"],
            subject: IngestMailText.encodingProgressSubject, text: IngestMailText.encodingProgressText,
            html: IngestMailText.encodingProgressHTML)

        // EnableX: the room's recordings and files, as links.
        add(["enablex"], subject: IngestMailText.enablexSubject, text: IngestMailText.enablexText, html: IngestMailText.enablexHTML)
        add(["enablex.recording"],
            subject: IngestMailText.recordingSubject, text: IngestMailText.recordingText, html: IngestMailText.recordingHTML)
        add(["enablex.transcoded"],
            subject: IngestMailText.transcodedSubject, text: IngestMailText.transcodedText, html: IngestMailText.transcodedHTML)
        add(["enablex.file-transfer"],
            subject: IngestMailText.filesSubject, text: IngestMailText.filesText, html: IngestMailText.filesHTML)
        add(["enablex.roomdrop"],
            subject: IngestMailText.roomdropSubject, text: IngestMailText.roomdropText, html: IngestMailText.roomdropHTML)
        return templates
    }()
}
