/// A message queued inside `Store.batchingQueuedMessages` and not yet written: what one outbox
/// row and its body hold.
///
///     store.messageBatch?.append(QueuedMessage(recipient: "ann@example.com", sender: "site@example.com",
///                                              subject: "News", message: composed, createdAt: now))
struct QueuedMessage {
    let recipient: String
    let sender: String
    let subject: String
    let message: ComposedMessage
    let createdAt: Int64
}
