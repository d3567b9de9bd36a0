import Foundation

/// Held messages sent to PostgreSQL with `COPY ... FROM STDIN (FORMAT binary)`, the way its own
/// client loads rows, rather than as a multi-row `INSERT`: the server then parses no statement
/// of thousands of parameters and decodes no text, it only stores each row and its index
/// entries. A message's row names its state row's id, so the
/// ids are drawn from the outbox's sequence beforehand, a thousand a round trip (`nextval`: an id
/// drawn is never drawn again, whether or not its row commits, as with any insert).
///
/// The narrow state rows are copied first and waited for (a copy cannot start while another is
/// running); the messages, whose table carries the costlier indexes (the case-insensitive
/// recipient, the unique Message-ID), go without waiting, and the store's next statement
/// (or the transaction's end) reads their result and throws their error, so a transaction whose
/// copy failed never commits.
///
///     try store.sendCopyingMessages(store.heldMessages[...])   // inside the messages' transaction
extension Store {
    /// Ids drawn from the sequence in one round trip when the reserve runs out.
    static let outboxIDsPerReservation = 1_000

    static let copyingOutboxRows = "COPY outbox(id, created_at, next_attempt_at) FROM STDIN (FORMAT binary)"
    static let copyingOutboxMessages = """
        COPY outbox_message(outbox_id, recipient, sender, message_id, subject, message) FROM STDIN (FORMAT binary)
        """

    /// Sends `batch` (PostgreSQL) in two copies, the second without waiting for the server.
    func sendCopyingMessages(_ batch: ArraySlice<QueuedMessage>) throws {
        guard !batch.isEmpty, let postgres = db as? PostgresDatabase else { return }
        let ids = try reserveOutboxIDs(batch.count)
        var rows = PostgresCopyRows(columns: 3, reservingBytes: batch.count * 40)
        var messages = PostgresCopyRows(columns: 6, reservingBytes: batch.reduce(0) { $0 + $1.message.bytes.count + 200 })
        for (id, message) in zip(ids, batch) {
            rows.append(bigint: id)
            rows.append(bigint: message.createdAt)
            rows.append(bigint: message.createdAt)
            messages.append(bigint: id)
            messages.append(text: message.recipient)
            messages.append(text: message.sender)
            messages.append(text: message.message.messageID)
            messages.append(text: message.subject)
            messages.append(bytea: message.message.bytes)
        }
        try postgres.copyIn(Self.copyingOutboxRows, data: rows.finished())
        try postgres.sendCopyIn(Self.copyingOutboxMessages, data: messages.finished())
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
