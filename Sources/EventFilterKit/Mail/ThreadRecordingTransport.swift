/// A transport whose own threads record the outcomes they learn (``OutcomeRecorders``), rather
/// than handing them to the calling thread to record: the outbox then delivers through
/// ``deliver(_:recordingOn:)``. Each outcome holds its message's place until it is committed
/// (an SMTP connection's thread commits the outcomes waiting while the server reads the next
/// envelope), and the transport bounds how many accepted messages can wait
/// for their commit at once, as with `MailTransport.deliver(_:recordingGroups:)`; that bound is
/// what a crash can send twice.
///
///     try transport.deliver(batch, recordingOn: recorders)   // throws the first record's failure, once
protocol ThreadRecordingTransport: MailTransport {
    /// Whether this transport's threads should record their own outcomes; when not, they are
    /// grouped on the calling thread (`deliver(_:recordingGroups:)`).
    var recordsOnItsThreads: Bool { get }

    /// Delivers `messages`; each outcome is recorded by one of the transport's threads (the one
    /// that learned it, or one committing the outcomes of several), through a recorder taken
    /// from `recorders` and given back when that thread is done. When a record
    /// fails no message starts or completes any more, and this throws that failure once every
    /// thread is done.
    func deliver(_ messages: [OutgoingMessage], recordingOn recorders: OutcomeRecorders) throws
}
