// libFuzzer entry for the FastCGI parser, compiled with the parser's sources alone by
// Tests/Fuzz/fastcgi_fuzz.sh (not part of the SwiftPM build). Every input is a record stream
// fed in slices whose lengths the input itself chooses; the parser must end in requests within
// its limits or a FastCGIProtocolError, never a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let connection = FastCGIConnection(limits: .init(paramsLimit: 4096, bodyLimit: 1024))
    var index = 0
    while index < bytes.count {
        // The first byte of each slice chooses the slice's length: the parser sees every split.
        let length = max(1, Int(bytes[index]) % 64)
        let end = min(bytes.count, index + 1 + length)
        do {
            for event in try connection.feed(Array(bytes[(index + 1)..<end])) {
                if case .request(let request) = event { precondition(request.body.count <= 1024) }
            }
        } catch {
            precondition(error is FastCGIProtocolError)
            return 0
        }
        index = end
    }
    return 0
}
