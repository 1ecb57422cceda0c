// supervisord's event listener framing: the header line, the payload tokens, and an incremental
// decoder for the stream a listener reads on stdin.
//
// `len:` in the header counts the payload's characters as Python sees them (code points), not
// bytes (Supervisor issue #1243). The decoder decodes UTF-8 incrementally and counts code points.
// Choice for invalid UTF-8: every byte that is not part of a complete, valid UTF-8 sequence
// (overlong forms, surrogates and values over U+10FFFF included) counts as ONE character, which is
// what Python's `surrogateescape` error handler yields. A valid sequence split across reads is
// waited for, never miscounted.

/// A malformed event header, payload or stream, with the stream offset where it was found.
public struct EventParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    /// Byte offset in the stream (or in the parsed text), when known.
    public var offset: Int?
    public init(_ reason: String, offset: Int? = nil) {
        self.reason = reason
        self.offset = offset
    }
    public var description: String {
        if let offset { return "malformed event at byte \(offset): \(reason)" }
        return "malformed event: \(reason)"
    }
}

/// `ver:3.0 server:supervisor serial:31 pool:NAME poolserial:31 eventname:PROCESS_STATE_EXITED len:76`
public struct EventHeader: Sendable, Equatable {
    public var version: String
    public var server: String
    public var serial: Int
    public var pool: String
    public var poolSerial: Int
    public var eventName: String
    /// The payload length in characters (Unicode code points).
    public var length: Int
    /// Every token of the header, including the ones above.
    public var fields: [String: String]

    /// Headers longer than this are refused (supervisord's are about 120 bytes).
    public static let maxLength = 4096

    /// Parses one header line (a trailing `\n` is allowed). Required: ver, serial, pool, poolserial,
    /// eventname, len; `server` defaults to empty.
    public static func parse(_ line: String) throws(EventParseError) -> EventHeader {
        var text = Substring(line)
        if text.hasSuffix("\n") { text = text.dropLast() }
        guard text.utf8.count <= maxLength else { throw EventParseError("header is longer than \(maxLength) bytes") }
        let fields = try EventPayload.tokens(text, what: "header")
        func need(_ key: String) throws(EventParseError) -> String {
            guard let v = fields[key] else { throw EventParseError("header has no \(key): \"\(text.prefix(120))\"") }
            return v
        }
        func number(_ key: String) throws(EventParseError) -> Int {
            let v = try need(key)
            guard v.utf8.count <= 18, let n = Int(v), n >= 0, v.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw EventParseError("header \(key) is \"\(v.prefix(40))\", not a non-negative number")
            }
            return n
        }
        return EventHeader(version: try need("ver"), server: fields["server"] ?? "", serial: try number("serial"),
                           pool: try need("pool"), poolSerial: try number("poolserial"),
                           eventName: try need("eventname"), length: try number("len"), fields: fields)
    }
}

/// A payload: `key:value` tokens on the first line and, for PROCESS_LOG and PROCESS_COMMUNICATION
/// events, the raw data after the first newline.
public struct EventPayload: Sendable, Equatable {
    public var fields: [String: String]
    /// The text after the first newline (log data), or nil if the payload has no newline.
    public var data: String?

    public subscript(key: String) -> String? { fields[key] }

    public init(fields: [String: String], data: String?) {
        self.fields = fields
        self.data = data
    }

    /// Splits the payload at its first newline and parses the tokens before it. Works on bytes,
    /// not Characters: faster, and a `\r\n` or a combining mark cannot hide a separator.
    public static func parse(_ text: String) throws(EventParseError) -> EventPayload {
        let u = text.utf8
        if let nl = u.firstIndex(of: 0x0A) {
            return EventPayload(fields: try tokens(text[..<nl], what: "payload"), data: String(text[u.index(after: nl)...]))
        }
        return EventPayload(fields: try tokens(Substring(text), what: "payload"), data: nil)
    }

    /// `key:value key:value`, split on spaces; the value is everything after the first `:`.
    static func tokens(_ text: Substring, what: String) throws(EventParseError) -> [String: String] {
        var out: [String: String] = [:]
        for token in text.utf8.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 }) {
            guard let colon = token.firstIndex(of: 0x3A), colon != token.startIndex else {
                throw EventParseError("\(what) token \"\(String(decoding: token.prefix(60), as: UTF8.self))\" is not key:value")
            }
            out[String(decoding: token[..<colon], as: UTF8.self)] = String(decoding: token[token.index(after: colon)...], as: UTF8.self)
        }
        return out
    }
}

/// One complete event from the stream.
public struct SupervisorEvent: Sendable, Equatable {
    public var header: EventHeader
    /// The payload's bytes exactly as read.
    public var payloadBytes: [UInt8]
    /// The payload decoded as UTF-8 (invalid bytes become U+FFFD).
    public var payload: String { String(decoding: payloadBytes, as: UTF8.self) }
    /// Byte offset of the header in the stream.
    public var offset: Int

    public init(header: EventHeader, payloadBytes: [UInt8], offset: Int) {
        self.header = header
        self.payloadBytes = payloadBytes
        self.offset = offset
    }

    public func parsedPayload() throws(EventParseError) -> EventPayload { try EventPayload.parse(payload) }
}

/// Feed it the bytes a listener reads; take complete events out with `next()`.
///
/// After an error the decoder is out of sync with supervisord and keeps throwing the same error.
public struct EventStreamDecoder: Sendable {
    public let maxPayloadLength: Int
    private var buffer: [UInt8] = []
    private var start = 0               // first unconsumed byte in buffer
    private var consumedBefore = 0      // stream offset of buffer[0]
    private var failure: EventParseError?

    /// `maxPayloadLength` bounds `len` (characters); a larger one is an error.
    public init(maxPayloadLength: Int = 1 << 20) {
        self.maxPayloadLength = maxPayloadLength
    }

    /// Bytes received but not yet part of a returned event.
    public var bufferedByteCount: Int { buffer.count - start }
    /// Bytes consumed by returned events so far.
    public var consumedByteCount: Int { consumedBefore + start }

    public mutating func feed(_ bytes: some Sequence<UInt8>) {
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeFirst(start)
            consumedBefore += start
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete event, or nil if more bytes are needed.
    public mutating func next() throws(EventParseError) -> SupervisorEvent? {
        if let failure { throw failure }
        do {
            return try decode()
        } catch {
            failure = error
            throw error
        }
    }

    /// Decodes every complete event in `bytes` (a whole capture); leftover bytes are an error.
    public static func decodeAll(_ bytes: some Sequence<UInt8>, maxPayloadLength: Int = 1 << 20) throws(EventParseError) -> [SupervisorEvent] {
        var d = EventStreamDecoder(maxPayloadLength: maxPayloadLength)
        d.feed(bytes)
        var out: [SupervisorEvent] = []
        while let e = try d.next() { out.append(e) }
        try d.finish()
        return out
    }

    /// Call at end of stream: throws if a partial event is left.
    public func finish() throws(EventParseError) {
        if let failure { throw failure }
        if bufferedByteCount > 0 {
            throw EventParseError("stream ended inside an event (\(bufferedByteCount) bytes left over)", offset: consumedByteCount)
        }
    }

    private mutating func decode() throws(EventParseError) -> SupervisorEvent? {
        let headerStart = start
        let offset = consumedBefore + start
        var nl = start
        while nl < buffer.count, buffer[nl] != 0x0A {
            let b = buffer[nl]
            if b < 0x20 && b != 0x09 || b >= 0x7F {
                throw EventParseError("header contains byte 0x\(String(b, radix: 16)), not printable ASCII", offset: consumedBefore + nl)
            }
            nl += 1
            if nl - headerStart > EventHeader.maxLength {
                throw EventParseError("no newline within \(EventHeader.maxLength) bytes of a header", offset: offset)
            }
        }
        guard nl < buffer.count else { return nil }
        let line = String(decoding: buffer[headerStart..<nl], as: UTF8.self)
        let header: EventHeader
        do {
            header = try EventHeader.parse(line)
        } catch {
            throw EventParseError(error.reason, offset: offset)
        }
        guard header.length <= maxPayloadLength else {
            throw EventParseError("payload len \(header.length) is over the limit of \(maxPayloadLength)", offset: offset)
        }
        let payloadStart = nl + 1
        guard let payloadEnd = EventStreamDecoder.advance(buffer, from: payloadStart, characters: header.length) else {
            return nil
        }
        let payload = Array(buffer[payloadStart..<payloadEnd])
        start = payloadEnd
        return SupervisorEvent(header: header, payloadBytes: payload, offset: offset)
    }

    /// The index after `characters` code points starting at `from`, or nil if the buffer ends first
    /// (including in the middle of a sequence that may still become valid).
    static func advance(_ b: [UInt8], from: Int, characters: Int) -> Int? {
        var i = from
        var remaining = characters
        while remaining > 0 {
            guard i < b.count else { return nil }
            switch utf8SequenceLength(b, at: i) {
            case .valid(let n): i += n
            case .invalid: i += 1
            case .incomplete: return nil
            }
            remaining -= 1
        }
        return i
    }

    enum UTF8Run { case valid(Int), invalid, incomplete }

    /// Classifies the UTF-8 sequence at `i` by the rules of Unicode's well-formed table.
    static func utf8SequenceLength(_ b: [UInt8], at i: Int) -> UTF8Run {
        let c0 = b[i]
        if c0 < 0x80 { return .valid(1) }
        let n: Int
        var lo: UInt8 = 0x80, hi: UInt8 = 0xBF   // range of the second byte
        switch c0 {
        case 0xC2...0xDF: n = 2
        case 0xE0: n = 3; lo = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: n = 3
        case 0xED: n = 3; hi = 0x9F
        case 0xF0: n = 4; lo = 0x90
        case 0xF1...0xF3: n = 4
        case 0xF4: n = 4; hi = 0x8F
        default: return .invalid
        }
        for k in 1..<n {
            guard i + k < b.count else { return .incomplete }
            let c = b[i + k]
            let okLo: UInt8 = k == 1 ? lo : 0x80, okHi: UInt8 = k == 1 ? hi : 0xBF
            if c < okLo || c > okHi { return .invalid }
        }
        return .valid(n)
    }
}
