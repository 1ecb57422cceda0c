/// The bounds of one HTTP/2 connection (see `HTTP2ServerConnection`).
struct HTTP2Limits: Sendable {
    /// SETTINGS_MAX_CONCURRENT_STREAMS we advertise; more open streams are refused (REFUSED_STREAM).
    var maxConcurrentStreams = 128
    /// Our SETTINGS_MAX_FRAME_SIZE (the default; a larger frame is a connection error).
    var maxFrameSize = 16384
    /// Our SETTINGS_HEADER_TABLE_SIZE (the HPACK default).
    var headerTableSize = 4096
    /// Our SETTINGS_MAX_HEADER_LIST_SIZE (name + value + 32 per field).
    var maxHeaderListSize = 16384
    /// HEADERS plus CONTINUATION bytes of one header block.
    var maxHeaderBlockSize = 65536
    /// Request body bytes kept per stream; beyond this the stream gets `.bodyTooLarge`.
    var maxRequestBody = 16384
    /// Time from a stream's HEADERS to its END_STREAM; then the stream is reset (CANCEL).
    var requestTimeout: Duration = .seconds(10)
    /// Time an answer may wait for flow-control window (the client grants none); then the stream is
    /// reset (CANCEL), so a client cannot park answers on the server forever.
    var blockedTimeout: Duration = .seconds(30)
    /// Token buckets: burst and refill per second.
    var resetBurst = 200.0
    var resetRate = 100.0
    var controlBurst = 1000.0
    var controlRate = 500.0

    init() {}
}

/// A token bucket on the monotonic clock.
struct TokenBucket {
    let burst: Double
    let rate: Double
    var tokens: Double
    var last: ContinuousClock.Instant

    init(burst: Double, rate: Double, now: ContinuousClock.Instant) {
        self.burst = burst
        self.rate = rate
        tokens = burst
        last = now
    }

    /// Takes one token; false when none is left.
    mutating func take(_ now: ContinuousClock.Instant) -> Bool {
        let elapsed = now - last
        if elapsed > .zero {
            let s = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            tokens = min(burst, tokens + s * rate)
            last = now
        }
        if tokens < 1 { return false }
        tokens -= 1
        return true
    }
}

/// The server side of one HTTP/2 connection (RFC 9113), without I/O: bytes in (`receive`), frames
/// out (`output`), requests as events. Everything is bounded: frame size, header block and list
/// size, request body, concurrent streams, flow-control windows, and the work a peer can ask for
/// with cheap frames (a token bucket for RST_STREAM, one for PING/SETTINGS/PRIORITY/empty frames;
/// "rapid reset" and control-frame floods end in GOAWAY ENHANCE_YOUR_CALM).
final class HTTP2ServerConnection {
    /// What `receive` found: a complete request, a stream reset, or the end of the connection.
    enum Event: Sendable, Equatable {
        /// A complete request: headers and the whole body (END_STREAM seen).
        case request(streamID: UInt32, headers: [HPACKField], body: [UInt8])
        /// The request body passed `maxRequestBody`; the stream still exists, so the upper layer can answer.
        case bodyTooLarge(streamID: UInt32, headers: [HPACKField])
    }

    struct ConnectionError: Error {
        var code: HTTP2ErrorCode
        var debug: String
    }

    enum Outgoing {
        case headers([UInt8], endStream: Bool)
        case data([UInt8], offset: Int, endStream: Bool)
    }

    final class Stream {
        let id: UInt32
        var headers: [HPACKField] = []
        var body: [UInt8] = []
        var remoteEnded = false
        var localEnded = false
        var discarding = false
        var sendWindow: Int
        var recvWindow: Int
        var queue: [Outgoing] = []
        let deadline: ContinuousClock.Instant
        /// Since when the queue has waited for window (nil while it is empty or moving).
        var blockedSince: ContinuousClock.Instant?

        init(id: UInt32, sendWindow: Int, recvWindow: Int, deadline: ContinuousClock.Instant) {
            self.id = id
            self.sendWindow = sendWindow
            self.recvWindow = recvWindow
            self.deadline = deadline
        }
    }

    let limits: HTTP2Limits
    /// Frames waiting to be written, from `outputStart`.
    private(set) var output: [UInt8] = []
    private(set) var outputStart = 0
    /// Why the connection ended, for a log line (nil while it is fine).
    private(set) var failure: String?

    private var decoder: HPACKDecoder
    private var encoder = HPACKEncoder()
    private var input: [UInt8] = []
    private var prefaceMatched = 0
    private var sawSettings = false
    private var continuation: (id: UInt32, block: [UInt8], endStream: Bool)?
    private var streams: [UInt32: Stream] = [:]
    private var highestStreamID: UInt32 = 0
    private var connSendWindow = 65535
    private var connRecvWindow = 65535
    private var peerInitialWindow = 65535
    private var peerMaxFrameSize = 16384
    private var resets: TokenBucket
    private var control: TokenBucket
    /// GOAWAY sent after an error: input is ignored, the connection closes once output is written.
    private var closing = false
    /// Graceful GOAWAY sent (shutdown): no new streams; closes when the open ones finish.
    private var draining = false
    private var peerGoingAway = false
    private let created: ContinuousClock.Instant
    private var events: [Event] = []

    init(limits: HTTP2Limits = HTTP2Limits(), now: ContinuousClock.Instant = .now) {
        self.limits = limits
        decoder = HPACKDecoder(maxTableSize: limits.headerTableSize, maxHeaderListSize: limits.maxHeaderListSize)
        resets = TokenBucket(burst: limits.resetBurst, rate: limits.resetRate, now: now)
        control = TokenBucket(burst: limits.controlBurst, rate: limits.controlRate, now: now)
        created = now
        // The server preface: our SETTINGS, sent at once.
        HTTP2Frame.settings([(HTTP2Setting.maxConcurrentStreams, UInt32(limits.maxConcurrentStreams)),
                             (HTTP2Setting.maxHeaderListSize, UInt32(limits.maxHeaderListSize))], to: &output)
    }

    // MARK: - State for the server loop

    /// Open streams (not yet closed on both sides).
    var streamCount: Int { streams.count }
    /// Bytes waiting to be written.
    var pendingOutput: Int { output.count - outputStart }
    /// True once the connection should be closed after `output` is written.
    var wantsClose: Bool { closing || ((draining || peerGoingAway) && streams.isEmpty) }
    /// True while the peer's frames are still read.
    var acceptsInput: Bool { !closing }
    /// Whether the client preface (and its SETTINGS) arrived.
    var established: Bool { sawSettings }
    var isDraining: Bool { draining }

    func isOpen(_ id: UInt32) -> Bool { streams[id] != nil }
    /// Frames of the stream still waiting for flow-control window.
    func queuedCount(_ id: UInt32) -> Int { streams[id]?.queue.count ?? 0 }

    /// `n` bytes of `output` were written.
    func consumed(_ n: Int) {
        outputStart += n
        if outputStart >= output.count {
            output = []   // frees the buffer: an idle connection keeps none
            outputStart = 0
        } else if outputStart > 65536 && outputStart * 2 > output.count {
            output.removeFirst(outputStart)
            outputStart = 0
        }
    }

    // MARK: - Input

    /// Feeds bytes read from the socket; returns the requests they completed.
    func receive(_ bytes: UnsafeRawBufferPointer, now: ContinuousClock.Instant = .now) -> [Event] {
        guard !closing else { return [] }
        events.removeAll(keepingCapacity: true)
        do {
            if input.isEmpty {
                let used = try process(bytes, now: now)
                if used < bytes.count { input.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[used...])) }
            } else {
                input.append(contentsOf: bytes)
                let used = try input.withUnsafeBytes { try process($0, now: now) }
                if used == input.count { input = [] } else { input.removeFirst(used) }
            }
        } catch let e as ConnectionError {
            fail(e.code, e.debug)
        } catch {
            fail(.internalError, "\(error)")
        }
        let out = events
        events.removeAll(keepingCapacity: false)
        return out
    }

    /// Ends the connection with GOAWAY(code); pending input is dropped.
    func fail(_ code: HTTP2ErrorCode, _ debug: String) {
        guard !closing else { return }
        closing = true
        failure = "\(code.name): \(debug)"
        input = []
        continuation = nil
        for s in streams.values { s.queue.removeAll() }
        streams.removeAll()
        HTTP2Frame.goAway(lastStreamID: highestStreamID, code: code, debug: debug, to: &output)
    }

    /// Graceful shutdown: GOAWAY(NO_ERROR) naming the last stream taken; open streams may finish.
    func goAway(debug: String = "server shutting down") {
        guard !closing, !draining else { return }
        draining = true
        HTTP2Frame.goAway(lastStreamID: highestStreamID, code: .noError, debug: debug, to: &output)
    }

    /// Resets streams whose request did not complete in time; ends a connection whose preface never came.
    func tick(now: ContinuousClock.Instant) {
        guard !closing else { return }
        if !sawSettings && now - created > limits.requestTimeout {
            fail(.settingsTimeout, "no client preface and SETTINGS in time")
            return
        }
        // In stream order (not the dictionary's), so that the same input gives the same bytes.
        for id in streams.values.filter({ !$0.remoteEnded && $0.deadline < now }).map(\.id).sorted() {
            reset(id, .cancel)
        }
        for s in streams.values where !s.queue.isEmpty && s.blockedSince == nil { s.blockedSince = now }
        for id in streams.values.filter({ $0.blockedSince.map { now - $0 > limits.blockedTimeout } ?? false }).map(\.id).sorted() {
            reset(id, .cancel)
        }
    }

    private func process(_ buf: UnsafeRawBufferPointer, now: ContinuousClock.Instant) throws -> Int {
        var at = 0
        if prefaceMatched < HTTP2FrameHeader.preface.count {
            while prefaceMatched < HTTP2FrameHeader.preface.count && at < buf.count {
                if buf[at] != HTTP2FrameHeader.preface[prefaceMatched] {
                    throw ConnectionError(code: .protocolError, debug: "not an HTTP/2 client preface (this port speaks gRPC over h2c)")
                }
                prefaceMatched += 1
                at += 1
            }
            if prefaceMatched < HTTP2FrameHeader.preface.count { return at }
        }
        while !closing, let h = HTTP2FrameHeader.parse(buf, at: at) {
            if h.length > limits.maxFrameSize {
                throw ConnectionError(code: .frameSizeError, debug: "frame of \(h.length) bytes (max \(limits.maxFrameSize))")
            }
            guard buf.count - at - HTTP2FrameHeader.size >= h.length else { break }
            let start = at + HTTP2FrameHeader.size
            let payload = UnsafeRawBufferPointer(rebasing: buf[start..<(start + h.length)])
            at = start + h.length
            try frame(h, payload, now: now)
        }
        return closing ? buf.count : at
    }

    private func frame(_ h: HTTP2FrameHeader, _ p: UnsafeRawBufferPointer, now: ContinuousClock.Instant) throws {
        if !sawSettings {
            guard h.type == HTTP2FrameType.settings.rawValue && h.flags & HTTP2Flags.ack == 0 else {
                throw ConnectionError(code: .protocolError, debug: "the first frame must be SETTINGS")
            }
            sawSettings = true
        }
        if let c = continuation, h.type != HTTP2FrameType.continuation.rawValue || h.streamID != c.id {
            throw ConnectionError(code: .protocolError, debug: "expected CONTINUATION of stream \(c.id)")
        }
        guard let type = HTTP2FrameType(rawValue: h.type) else {
            try spendControl(now)   // unknown frame types are ignored (RFC 9113 5.5), but not for free
            return
        }
        switch type {
        case .data: try data(h, p, now: now)
        case .headers: try headers(h, p, now: now)
        case .priority:
            guard h.streamID != 0 else { throw ConnectionError(code: .protocolError, debug: "PRIORITY on stream 0") }
            guard p.count == 5 else { throw ConnectionError(code: .frameSizeError, debug: "PRIORITY of \(p.count) bytes") }
            try spendControl(now)
        case .rstStream: try rstStream(h, p, now: now)
        case .settings: try settings(h, p, now: now)
        case .pushPromise: throw ConnectionError(code: .protocolError, debug: "PUSH_PROMISE from a client")
        case .ping:
            guard h.streamID == 0 else { throw ConnectionError(code: .protocolError, debug: "PING on a stream") }
            guard p.count == 8 else { throw ConnectionError(code: .frameSizeError, debug: "PING of \(p.count) bytes") }
            if h.flags & HTTP2Flags.ack == 0 {
                try spendControl(now)
                HTTP2Frame.pingAck(p, to: &output)
            }
        case .goAway:
            guard h.streamID == 0 else { throw ConnectionError(code: .protocolError, debug: "GOAWAY on a stream") }
            guard p.count >= 8 else { throw ConnectionError(code: .frameSizeError, debug: "GOAWAY of \(p.count) bytes") }
            peerGoingAway = true
        case .windowUpdate: try windowUpdate(h, p)
        case .continuation:
            guard var c = continuation, c.id == h.streamID else {
                throw ConnectionError(code: .protocolError, debug: "CONTINUATION without HEADERS")
            }
            continuation = nil
            if c.block.count + p.count > limits.maxHeaderBlockSize {
                throw ConnectionError(code: .enhanceYourCalm, debug: "header block over \(limits.maxHeaderBlockSize) bytes")
            }
            c.block.append(contentsOf: p)
            if h.flags & HTTP2Flags.endHeaders != 0 {
                try headerBlock(c.id, c.block[...], endStream: c.endStream, now: now)
            } else {
                continuation = c
            }
        }
    }

    private func spendControl(_ now: ContinuousClock.Instant) throws {
        if !control.take(now) {
            throw ConnectionError(code: .enhanceYourCalm, debug: "too many control frames")
        }
    }

    /// Strips padding: returns the payload without the pad length byte and the padding.
    private func unpad(_ h: HTTP2FrameHeader, _ p: UnsafeRawBufferPointer) throws -> UnsafeRawBufferPointer {
        guard h.flags & HTTP2Flags.padded != 0 else { return p }
        guard p.count >= 1 else { throw ConnectionError(code: .frameSizeError, debug: "padded frame without pad length") }
        let pad = Int(p[0])
        guard pad <= p.count - 1 else { throw ConnectionError(code: .protocolError, debug: "padding longer than the frame") }
        return UnsafeRawBufferPointer(rebasing: p[1..<(p.count - pad)])
    }

    private func headers(_ h: HTTP2FrameHeader, _ p: UnsafeRawBufferPointer, now: ContinuousClock.Instant) throws {
        guard h.streamID != 0 else { throw ConnectionError(code: .protocolError, debug: "HEADERS on stream 0") }
        var fragment = try unpad(h, p)
        if h.flags & HTTP2Flags.priority != 0 {
            guard fragment.count >= 5 else { throw ConnectionError(code: .frameSizeError, debug: "HEADERS priority truncated") }
            fragment = UnsafeRawBufferPointer(rebasing: fragment[5...])
        }
        if fragment.count > limits.maxHeaderBlockSize {
            throw ConnectionError(code: .enhanceYourCalm, debug: "header block over \(limits.maxHeaderBlockSize) bytes")
        }
        let endStream = h.flags & HTTP2Flags.endStream != 0
        if h.flags & HTTP2Flags.endHeaders != 0 {
            try headerBlock(h.streamID, Array(fragment)[...], endStream: endStream, now: now)
        } else {
            continuation = (h.streamID, Array(fragment), endStream)
        }
    }

    private func headerBlock(_ id: UInt32, _ block: ArraySlice<UInt8>, endStream: Bool, now: ContinuousClock.Instant) throws {
        // Always decode: the HPACK table must follow the peer's even for a block we then ignore.
        let fields: [HPACKField]
        do {
            fields = try decoder.decode(block)
        } catch .headerListTooLarge {
            throw ConnectionError(code: .enhanceYourCalm, debug: "header list over \(limits.maxHeaderListSize) bytes")
        } catch {
            throw ConnectionError(code: .compressionError, debug: error.description)
        }
        if let s = streams[id] {
            // Trailers: they must end the stream.
            guard !s.remoteEnded else { reset(id, .streamClosed); return }
            guard endStream else { reset(id, .protocolError); return }
            s.remoteEnded = true
            deliver(s)
            return
        }
        if id <= highestStreamID { return }   // a stream already closed (or reset by us): ignore
        guard id & 1 == 1 else { throw ConnectionError(code: .protocolError, debug: "even stream id \(id) from a client") }
        highestStreamID = id
        if draining || peerGoingAway { return }
        if streams.count >= limits.maxConcurrentStreams {
            try spendControl(now)
            HTTP2Frame.rstStream(id, code: .refusedStream, to: &output)
            return
        }
        if !Self.wellFormed(fields) {
            HTTP2Frame.rstStream(id, code: .protocolError, to: &output)
            return
        }
        let s = Stream(id: id, sendWindow: peerInitialWindow, recvWindow: 65535, deadline: now + limits.requestTimeout)
        s.headers = fields
        streams[id] = s
        if endStream {
            s.remoteEnded = true
            deliver(s)
        }
    }

    /// RFC 9113 8.2/8.3: lowercase names, pseudo-headers first and only the request ones, no
    /// connection-specific fields, `te` only as `trailers`.
    static func wellFormed(_ fields: [HPACKField]) -> Bool {
        var regular = false
        for f in fields {
            guard let first = f.name.first else { return false }
            if f.name.contains(where: { $0 >= 0x41 && $0 <= 0x5a }) { return false }
            if first == 0x3a {
                if regular || !requestPseudo.contains(f.name) { return false }
            } else {
                regular = true
                if connectionSpecific.contains(f.name) { return false }
                if f.name == te && f.value != trailers { return false }
            }
        }
        return true
    }

    static let requestPseudo: [[UInt8]] = [":method", ":scheme", ":path", ":authority"].map { Array($0.utf8) }
    static let connectionSpecific: [[UInt8]] = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]
        .map { Array($0.utf8) }
    static let te = Array("te".utf8)
    static let trailers = Array("trailers".utf8)

    private func deliver(_ s: Stream) {
        if s.discarding { return }
        events.append(.request(streamID: s.id, headers: s.headers, body: s.body))
        s.headers = []
        s.body = []
    }

    private func data(_ h: HTTP2FrameHeader, _ p: UnsafeRawBufferPointer, now: ContinuousClock.Instant) throws {
        guard h.streamID != 0 else { throw ConnectionError(code: .protocolError, debug: "DATA on stream 0") }
        // The whole frame (padding included) counts against the windows.
        if h.length > connRecvWindow {
            throw ConnectionError(code: .flowControlError, debug: "DATA beyond the connection window")
        }
        connRecvWindow -= h.length
        if connRecvWindow < 32768 {
            HTTP2Frame.windowUpdate(0, increment: UInt32(65535 - connRecvWindow), to: &output)
            connRecvWindow = 65535
        }
        let body = try unpad(h, p)
        let endStream = h.flags & HTTP2Flags.endStream != 0
        guard let s = streams[h.streamID] else {
            if h.streamID > highestStreamID { throw ConnectionError(code: .protocolError, debug: "DATA on idle stream \(h.streamID)") }
            return   // closed or reset: dropped (the connection window was credited above)
        }
        if s.remoteEnded { reset(s.id, .streamClosed); return }
        if h.length > s.recvWindow { reset(s.id, .flowControlError); return }
        s.recvWindow -= h.length
        if body.isEmpty && !endStream { try spendControl(now) }
        if !s.discarding {
            if s.body.count + body.count > limits.maxRequestBody {
                s.discarding = true
                events.append(.bodyTooLarge(streamID: s.id, headers: s.headers))
                s.body = []
                s.headers = []
            } else {
                s.body.append(contentsOf: body)
            }
        }
        if endStream {
            s.remoteEnded = true
            deliver(s)
        } else if s.recvWindow < 32768 && streams[s.id] != nil {
            HTTP2Frame.windowUpdate(s.id, increment: UInt32(65535 - s.recvWindow), to: &output)
            s.recvWindow = 65535
        }
        closeIfDone(s)
    }

    private func rstStream(_ h: HTTP2FrameHeader, _ p: UnsafeRawBufferPointer, now: ContinuousClock.Instant) throws {
        guard h.streamID != 0 else { throw ConnectionError(code: .protocolError, debug: "RST_STREAM on stream 0") }
        guard p.count == 4 else { throw ConnectionError(code: .frameSizeError, debug: "RST_STREAM of \(p.count) bytes") }
        guard h.streamID <= highestStreamID else {
            throw ConnectionError(code: .protocolError, debug: "RST_STREAM on idle stream \(h.streamID)")
        }
        if !resets.take(now) {
            throw ConnectionError(code: .enhanceYourCalm, debug: "too many stream resets")
        }
        if let s = streams.removeValue(forKey: h.streamID) { s.queue.removeAll() }
    }

    private func settings(_ h: HTTP2FrameHeader, _ p: UnsafeRawBufferPointer, now: ContinuousClock.Instant) throws {
        guard h.streamID == 0 else { throw ConnectionError(code: .protocolError, debug: "SETTINGS on a stream") }
        if h.flags & HTTP2Flags.ack != 0 {
            guard p.isEmpty else { throw ConnectionError(code: .frameSizeError, debug: "SETTINGS ACK with a payload") }
            return
        }
        guard p.count % 6 == 0 else { throw ConnectionError(code: .frameSizeError, debug: "SETTINGS of \(p.count) bytes") }
        try spendControl(now)
        var i = 0
        while i < p.count {
            let id = UInt16(p[i]) << 8 | UInt16(p[i + 1])
            let v = UInt32(p[i + 2]) << 24 | UInt32(p[i + 3]) << 16 | UInt32(p[i + 4]) << 8 | UInt32(p[i + 5])
            i += 6
            switch id {
            case HTTP2Setting.headerTableSize:
                encoder.pendingSizeUpdate = true
            case HTTP2Setting.enablePush:
                guard v <= 1 else { throw ConnectionError(code: .protocolError, debug: "ENABLE_PUSH \(v)") }
            case HTTP2Setting.initialWindowSize:
                guard v <= 0x7fff_ffff else { throw ConnectionError(code: .flowControlError, debug: "INITIAL_WINDOW_SIZE \(v)") }
                let delta = Int(v) - peerInitialWindow
                peerInitialWindow = Int(v)
                for s in streams.values {
                    s.sendWindow += delta
                    if s.sendWindow > 0x7fff_ffff { throw ConnectionError(code: .flowControlError, debug: "stream window overflow") }
                }
            case HTTP2Setting.maxFrameSize:
                guard v >= 16384 && v <= 16_777_215 else { throw ConnectionError(code: .protocolError, debug: "MAX_FRAME_SIZE \(v)") }
                peerMaxFrameSize = min(Int(v), limits.maxFrameSize)
            default:
                break   // unknown settings are ignored
            }
        }
        HTTP2Frame.settingsAck(to: &output)
        flush()
    }

    private func windowUpdate(_ h: HTTP2FrameHeader, _ p: UnsafeRawBufferPointer) throws {
        guard p.count == 4 else { throw ConnectionError(code: .frameSizeError, debug: "WINDOW_UPDATE of \(p.count) bytes") }
        let inc = Int((UInt32(p[0]) << 24 | UInt32(p[1]) << 16 | UInt32(p[2]) << 8 | UInt32(p[3])) & 0x7fff_ffff)
        if h.streamID == 0 {
            guard inc > 0 else { throw ConnectionError(code: .protocolError, debug: "WINDOW_UPDATE of 0") }
            connSendWindow += inc
            guard connSendWindow <= 0x7fff_ffff else { throw ConnectionError(code: .flowControlError, debug: "connection window overflow") }
        } else if let s = streams[h.streamID] {
            guard inc > 0 else { reset(s.id, .protocolError); return }
            s.sendWindow += inc
            guard s.sendWindow <= 0x7fff_ffff else { reset(s.id, .flowControlError); return }
        } else if h.streamID > highestStreamID {
            throw ConnectionError(code: .protocolError, debug: "WINDOW_UPDATE on idle stream \(h.streamID)")
        }
        flush()
    }

    // MARK: - Output

    /// Queues a header block (HEADERS + CONTINUATION) on a stream.
    func sendHeaders(_ id: UInt32, _ fields: [(String, String)], endStream: Bool) {
        guard !closing, let s = streams[id], !s.localEnded else { return }
        s.queue.append(.headers(encoder.encode(fields), endStream: endStream))
        if endStream { s.localEnded = true }
        flush(s)
    }

    /// Queues a header block already encoded by `HPACKEncoder.encodeStatic` (no dynamic table use),
    /// so that a constant block is encoded once for every answer.
    func sendHeaders(_ id: UInt32, encoded block: [UInt8], endStream: Bool) {
        guard !closing, let s = streams[id], !s.localEnded else { return }
        if encoder.pendingSizeUpdate {
            encoder.pendingSizeUpdate = false
            s.queue.append(.headers([0x20] + block, endStream: endStream))
        } else {
            s.queue.append(.headers(block, endStream: endStream))
        }
        if endStream { s.localEnded = true }
        flush(s)
    }

    /// Queues DATA on a stream (sent as flow control allows).
    func sendData(_ id: UInt32, _ bytes: [UInt8], endStream: Bool) {
        guard !closing, let s = streams[id], !s.localEnded else { return }
        s.queue.append(.data(bytes, offset: 0, endStream: endStream))
        if endStream { s.localEnded = true }
        flush(s)
    }

    /// RST_STREAM from our side.
    func reset(_ id: UInt32, _ code: HTTP2ErrorCode) {
        guard !closing, let s = streams.removeValue(forKey: id) else { return }
        s.queue.removeAll()
        HTTP2Frame.rstStream(id, code: code, to: &output)
    }

    private func flush() {
        guard !streams.isEmpty else { return }
        let waiting = streams.values.filter { !$0.queue.isEmpty }
        if waiting.isEmpty { return }
        for s in waiting.sorted(by: { $0.id < $1.id }) { flush(s) }   // stream order: fair, and deterministic
    }

    private func flush(_ s: Stream) {
        while let first = s.queue.first {
            switch first {
            case .headers(let block, let end):
                HTTP2Frame.headers(s.id, block: block, endStream: end, maxFrameSize: peerMaxFrameSize, to: &output)
                s.queue.removeFirst()
            case .data(let bytes, let offset, let end):
                let left = bytes.count - offset
                let n = min(left, s.sendWindow, connSendWindow, peerMaxFrameSize)
                if n <= 0 && left > 0 { return }
                let last = n == left
                HTTP2Frame.data(s.id, bytes[offset..<(offset + n)], endStream: last && end, to: &output)
                s.sendWindow -= n
                connSendWindow -= n
                if last { s.queue.removeFirst() } else { s.queue[0] = .data(bytes, offset: offset + n, endStream: end) }
                s.blockedSince = nil   // it moved
            }
        }
        closeIfDone(s)
    }

    /// A stream whose response is written is forgotten; if the client is still sending, it is told to stop.
    private func closeIfDone(_ s: Stream) {
        guard s.localEnded && s.queue.isEmpty else { return }
        streams[s.id] = nil
        if !s.remoteEnded { HTTP2Frame.rstStream(s.id, code: .noError, to: &output) }
    }
}
