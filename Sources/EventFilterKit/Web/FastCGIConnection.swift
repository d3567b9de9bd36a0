/// The server side of one FastCGI connection, as a state machine over bytes: feed it what the web
/// server sent, get back complete requests and the records to send at once. No I/O, so it is
/// tested (and fuzzed) on its own.
///
///     let connection = FastCGIConnection(limits: .init(paramsLimit: 65536, bodyLimit: 1 << 20))
///     for event in try connection.feed(bytesFromSocket) {
///         switch event {
///         case .send(let bytes): write(bytes)                 // GET_VALUES_RESULT, UNKNOWN_TYPE, refusals
///         case .request(let request): answer(request)         // then FastCGIRecord.stream(.stdout, ...)
///         case .close: closeConnection()
///         }
///     }
///
/// One request at a time (FCGI_MPXS_CONNS is 0): a second FCGI_BEGIN_REQUEST while one is open
/// gets FCGI_END_REQUEST with CANT_MPX_CONN, a role other than RESPONDER gets UNKNOWN_ROLE, and
/// an unknown management record gets FCGI_UNKNOWN_TYPE. Anything else that breaks the protocol
/// (a wrong version, a record out of order, parameters over the limit, malformed name-value
/// pairs) throws FastCGIProtocolError: the caller closes this connection, nothing more.
public final class FastCGIConnection {
    /// What the parser holds in memory at most, per request.
    public struct Limits: Sendable {
        /// Total bytes of FCGI_PARAMS content.
        public var paramsLimit: Int
        /// Bytes of FCGI_STDIN kept; more are read and dropped, and the request is marked too large.
        public var bodyLimit: Int
        /// FCGI_MAX_CONNS reported to FCGI_GET_VALUES.
        public var maxConnections: Int

        public init(paramsLimit: Int = 65536, bodyLimit: Int, maxConnections: Int = 1) {
            self.paramsLimit = paramsLimit
            self.bodyLimit = bodyLimit
            self.maxConnections = maxConnections
        }
    }

    public enum Event: Sendable, Equatable {
        /// Records to write back now.
        case send([UInt8])
        /// A complete request to answer.
        case request(FastCGIRequest)
        /// The web server aborted a request it did not keep the connection for: close after sending.
        case close
    }

    private struct Open {
        let id: UInt16
        let keepConnection: Bool
        var params: [UInt8] = []
        /// The empty FCGI_PARAMS record that ends the parameters has arrived.
        var paramsComplete = false
        var body: [UInt8] = []
        var bodyTooLarge = false
    }

    public let limits: Limits
    private var buffer: [UInt8] = []
    private var start = 0
    private var open: Open?

    public init(limits: Limits) {
        self.limits = limits
    }

    /// True when no request is partly received: a good moment to stop.
    public var isIdle: Bool { open == nil && start == buffer.count }

    /// Consumes `bytes` and returns what they complete, in order.
    public func feed(_ bytes: [UInt8]) throws -> [Event] {
        buffer += bytes
        var events: [Event] = []
        while buffer.count - start >= FastCGIRecord.headerLength {
            let header = buffer[start..<start + FastCGIRecord.headerLength]
            let base = header.startIndex
            guard header[base] == FastCGIRecord.version else {
                throw FastCGIProtocolError("record version \(header[base]), expected 1")
            }
            let contentLength = Int(header[base + 4]) << 8 | Int(header[base + 5])
            let total = FastCGIRecord.headerLength + contentLength + Int(header[base + 6])
            guard buffer.count - start >= total else { break }
            let type = FastCGIRecord.Kind(rawValue: header[base + 1])
            let id = UInt16(header[base + 2]) << 8 | UInt16(header[base + 3])
            let contentStart = start + FastCGIRecord.headerLength
            let content = Array(buffer[contentStart..<contentStart + contentLength])
            start += total
            try handle(type: type, id: id, content: content, into: &events)
        }
        // Drop consumed bytes now and then, not on every record.
        if start > 0 && (start == buffer.count || start > 1 << 16) {
            buffer.removeFirst(start)
            start = 0
        }
        return events
    }

    private func handle(type: FastCGIRecord.Kind, id: UInt16, content: [UInt8], into events: inout [Event]) throws {
        if id == 0 {
            events.append(.send(management(type: type, content: content)))
            return
        }
        switch type {
        case .beginRequest:
            guard content.count == 8 else {
                throw FastCGIProtocolError("FCGI_BEGIN_REQUEST of \(content.count) bytes, expected 8")
            }
            if let open {
                guard open.id != id else { throw FastCGIProtocolError("request \(id) begun twice") }
                events.append(.send(FastCGIRecord.endRequest(requestID: id, .cantMultiplexConnection)))
                return
            }
            let role = UInt16(content[0]) << 8 | UInt16(content[1])
            guard role == FastCGIRecord.responderRole else {
                events.append(.send(FastCGIRecord.endRequest(requestID: id, .unknownRole)))
                return
            }
            open = Open(id: id, keepConnection: content[2] & FastCGIRecord.keepConnectionFlag != 0)
        case .abortRequest:
            guard let current = open, current.id == id else { return }  // a refused or finished request
            open = nil
            events.append(.send(FastCGIRecord.endRequest(requestID: id, .requestComplete)))
            if !current.keepConnection { events.append(.close) }
        case .params:
            guard var current = open, current.id == id else { return }
            // Out of `open` while it grows, so the append is in place: a copy left behind would
            // make every record copy all the parameters so far (quadratic in tiny records).
            open = nil
            guard !current.paramsComplete else { throw FastCGIProtocolError("FCGI_PARAMS after the end of the parameters") }
            if content.isEmpty {
                guard FastCGIRecord.pairsAreWellFormed(current.params) else {
                    throw FastCGIProtocolError("malformed name-value pairs in FCGI_PARAMS")
                }
                current.paramsComplete = true
            } else {
                guard current.params.count + content.count <= limits.paramsLimit else {
                    throw FastCGIProtocolError("parameters over the limit of \(limits.paramsLimit) bytes")
                }
                current.params += content
            }
            open = current
        case .stdin:
            guard var current = open, current.id == id else { return }
            open = nil   // as for FCGI_PARAMS: the body grows in place, not copied per record
            guard current.paramsComplete else {
                throw FastCGIProtocolError("FCGI_STDIN before the end of FCGI_PARAMS")
            }
            if content.isEmpty {
                events.append(.request(FastCGIRequest(
                    id: id, keepConnection: current.keepConnection, encodedParams: current.params,
                    body: current.bodyTooLarge ? [] : current.body, bodyTooLarge: current.bodyTooLarge)))
                return
            }
            if current.bodyTooLarge || current.body.count + content.count > limits.bodyLimit {
                current.bodyTooLarge = true
                current.body = []
            } else {
                current.body += content
            }
            open = current
        case .data:
            return  // the FILTER role's second stream: a responder has no use for it
        default:
            throw FastCGIProtocolError("unexpected record type \(type.rawValue) for request \(id)")
        }
    }

    /// The answer to a management record (request id 0).
    private func management(type: FastCGIRecord.Kind, content: [UInt8]) -> [UInt8] {
        guard type == .getValues else {
            return FastCGIRecord(type: .unknownType, requestID: 0, content: [type.rawValue, 0, 0, 0, 0, 0, 0, 0]).bytes
        }
        let known: [String: String] = [
            "FCGI_MAX_CONNS": String(limits.maxConnections),
            "FCGI_MAX_REQS": String(limits.maxConnections),
            "FCGI_MPXS_CONNS": "0",
        ]
        // Unknown names are left out of the answer (§4.1); a malformed query gets an empty answer.
        let asked = FastCGIRecord.decodePairs(content) ?? []
        var answer: [(name: [UInt8], value: [UInt8])] = []
        for pair in asked {
            let name = String(decoding: pair.name, as: UTF8.self)
            if let value = known[name], !answer.contains(where: { $0.name == pair.name }) {
                answer.append((pair.name, Array(value.utf8)))
            }
        }
        return FastCGIRecord(type: .getValuesResult, requestID: 0, content: FastCGIRecord.encodePairs(answer)).bytes
    }
}
