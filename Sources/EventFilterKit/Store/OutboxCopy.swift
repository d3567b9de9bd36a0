import Foundation

/// Held messages sent to PostgreSQL with `COPY ... FROM STDIN (FORMAT binary)`, the way its own
/// client loads rows, rather than as a multi-row `INSERT`: the server then parses no statement
/// of thousands of parameters, plans no join of the bodies to their rows and decodes no text,
/// it only stores each row and its index entries. A body's row names its message's id, so the
/// ids are drawn from the outbox's sequence beforehand, a thousand a round trip (`nextval`: an id
/// drawn is never drawn again, whether or not its row commits, as with any insert).
///
/// The bodies are copied first and waited for (a copy cannot start while another is running);
/// the state rows, which carry the indexes, go without waiting, and the store's next statement
/// (or the transaction's end) reads their result and throws their error, so a transaction whose
/// copy failed never commits.
///
///     try store.sendCopyingMessages(store.heldMessages[...])   // inside the messages' transaction
extension Store {
    /// Ids drawn from the sequence in one round trip when the reserve runs out.
    static let outboxIDsPerReservation = 1_000

    static let copyingOutboxRows = """
        COPY outbox(id, recipient, sender, message_id, subject, created_at, next_attempt_at) FROM STDIN (FORMAT binary)
        """
    static let copyingOutboxBodies = "COPY outbox_message(outbox_id, message) FROM STDIN (FORMAT binary)"

    /// Sends `batch` (PostgreSQL) in two copies, the second without waiting for the server.
    func sendCopyingMessages(_ batch: ArraySlice<QueuedMessage>) throws {
        guard !batch.isEmpty, let postgres = db as? PostgresDatabase else { return }
        let ids = try reserveOutboxIDs(batch.count)
        var bodies = PostgresCopyRows(columns: 2, reservingBytes: batch.reduce(0) { $0 + $1.message.bytes.count + 20 })
        var rows = PostgresCopyRows(columns: 7, reservingBytes: batch.count * 200)
        for (id, message) in zip(ids, batch) {
            bodies.append(bigint: id)
            bodies.append(bytea: message.message.bytes)
            rows.append(bigint: id)
            rows.append(text: message.recipient)
            rows.append(text: message.sender)
            rows.append(text: message.message.messageID)
            rows.append(text: message.subject)
            rows.append(bigint: message.createdAt)
            rows.append(bigint: message.createdAt)
        }
        try postgres.copyIn(Self.copyingOutboxBodies, data: bodies.finished())
        try postgres.sendCopyIn(Self.copyingOutboxRows, data: rows.finished())
    }

    /// `count` ids from the outbox's identity sequence, in increasing order.
    private func reserveOutboxIDs(_ count: Int) throws -> ArraySlice<Int64> {
        if reservedOutboxIDs.count < count {
            let drawn = try db.map("""
                SELECT nextval(pg_get_serial_sequence('outbox', 'id')) AS id FROM generate_series(1, ?)
                """, [max(count - reservedOutboxIDs.count, Self.outboxIDsPerReservation)]) { try $0.int64("id") }
            reservedOutboxIDs = reservedOutboxIDs + drawn.sorted()
        }
        let ids = reservedOutboxIDs.prefix(count)
        reservedOutboxIDs = reservedOutboxIDs.dropFirst(count)
        return ids
    }
}
