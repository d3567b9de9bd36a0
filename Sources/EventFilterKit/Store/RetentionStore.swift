/// Retention: what every run removes once it is older than the settings keep it.
extension Store {
    /// The two ages a run purges by: `kept` for what `KeepDays` keeps (handled events, sent and
    /// cancelled mail, events a handler gave up on, bounces), `remembered` for what
    /// `KeepDedupeDays` keeps (dedupe keys, webhook sessions, deleted nodes, which must outlive
    /// any digest still waiting).
    ///
    ///     try store.purgeExpired(Store.RetentionCutoffs(kept: now - 30 * 86_400, remembered: now - 90 * 86_400))
    struct RetentionCutoffs: Sendable, Equatable {
        let kept: Int64
        let remembered: Int64
    }

    /// Removes everything older than its retention. On PostgreSQL this is one statement whose
    /// `WITH` clauses are the eight deletions: one round trip to the server instead of fourteen
    /// (eight deletions, two of them pairs in a transaction of their own), and the purge commits
    /// or fails as a whole. The clauses touch different tables, except sent and cancelled mail,
    /// which pick different outbox rows (each through its own partial index); every clause sees the rows as they were when the
    /// statement began. On SQLite, where a statement costs no round trip, each purge runs as before.
    func purgeExpired(_ cutoffs: RetentionCutoffs) throws {
        guard db.dialect == .postgresql else {
            try purgeHandledEvents(before: cutoffs.kept)
            try purgeDedupeKeys(before: cutoffs.remembered)
            try purgeWebhookObjects(before: cutoffs.remembered)
            try purgeDeletedNodes(before: cutoffs.remembered)
            try purgeSentMail(before: cutoffs.kept)
            try purgeCancelledMail(before: cutoffs.kept)
            try purgeGaveUp(before: cutoffs.kept)
            try purgeBounces(before: cutoffs.kept)
            return
        }
        let kept = cutoffs.kept, remembered = cutoffs.remembered
        try db.execute("""
            WITH handled AS (DELETE FROM event WHERE handled_at IS NOT NULL AND handled_at < ?),
            keys AS (DELETE FROM dedupe_key WHERE created_at < ?),
            sessions AS (DELETE FROM webhook_object WHERE updated_at < ? AND (end_date IS NULL OR end_date < ?) AND ready_at IS NULL),
            deletions AS (DELETE FROM deleted_node WHERE deleted_at < ?),
            gone AS (SELECT id FROM outbox WHERE state = 'sent' AND sent_at < ?
                     UNION ALL SELECT id FROM outbox WHERE state = 'cancelled' AND last_attempt_at < ?),
            bodies AS (DELETE FROM outbox_message WHERE outbox_id IN (SELECT id FROM gone)),
            mail AS (DELETE FROM outbox WHERE id IN (SELECT id FROM gone)),
            gave_up AS (DELETE FROM handler_gave_up WHERE gave_up_at < ?)
            DELETE FROM bounce WHERE received_at < ?
            """, [kept, remembered, remembered, remembered, remembered, kept, kept, kept, kept])
    }
}
