/// The bytes that follow a 354 reply: the message with every line that starts with "." given
/// another "." (RFC 5321 section 4.5.2, so no line of the message can end the data early), a
/// final CRLF if the message lacks one, and the end-of-data line ".\r\n".
///
///     SMTPDotStuffing.data(for: Array("a\r\n.b\r\n".utf8))   // "a\r\n..b\r\n.\r\n"
///
/// Lines end with CRLF (the composer writes nothing else); a "." is doubled at the start of the
/// message and after each CRLF, as libcurl did before the transport spoke the transaction itself.
enum SMTPDotStuffing {
    static let endOfData: [UInt8] = Array(".\r\n".utf8)

    static func data(for message: [UInt8]) -> [UInt8] {
        var data: [UInt8] = []
        data.reserveCapacity(message.count + 64)
        message.withUnsafeBufferPointer { bytes in
            // Copies the runs between the dots that start a line in one go: a message has few.
            var copied = 0
            var atLineStart = true
            for index in 0..<bytes.count {
                let byte = bytes[index]
                if atLineStart && byte == UInt8(ascii: ".") {
                    data.append(contentsOf: bytes[copied..<index])
                    data.append(UInt8(ascii: "."))
                    copied = index
                }
                atLineStart = byte == 0x0A && index > 0 && bytes[index - 1] == 0x0D
            }
            data.append(contentsOf: bytes[copied...])
        }
        if !(data.count >= 2 && data[data.count - 2] == 0x0D && data[data.count - 1] == 0x0A) {
            data.append(contentsOf: [0x0D, 0x0A])
        }
        data.append(contentsOf: endOfData)
        return data
    }
}
