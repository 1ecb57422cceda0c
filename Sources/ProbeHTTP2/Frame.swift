// HTTP/2 framing (RFC 9113 section 4 and 6): the frame header, the frame types and flags, the
// error codes, and the bytes of the frames a server sends.

/// The frame types of RFC 9113 section 6.
enum HTTP2FrameType: UInt8, Sendable {
    case data = 0x0, headers = 0x1, priority = 0x2, rstStream = 0x3, settings = 0x4, pushPromise = 0x5
    case ping = 0x6, goAway = 0x7, windowUpdate = 0x8, continuation = 0x9
}

/// Frame flags (RFC 9113 section 6).
enum HTTP2Flags {
    static let endStream: UInt8 = 0x1
    static let ack: UInt8 = 0x1
    static let endHeaders: UInt8 = 0x4
    static let padded: UInt8 = 0x8
    static let priority: UInt8 = 0x20
}

/// RFC 9113 section 7.
enum HTTP2ErrorCode: UInt32, Sendable {
    case noError = 0x0, protocolError = 0x1, internalError = 0x2, flowControlError = 0x3, settingsTimeout = 0x4
    case streamClosed = 0x5, frameSizeError = 0x6, refusedStream = 0x7, cancel = 0x8, compressionError = 0x9
    case connectError = 0xa, enhanceYourCalm = 0xb, inadequateSecurity = 0xc, http11Required = 0xd

    var name: String {
        switch self {
        case .noError: "NO_ERROR"
        case .protocolError: "PROTOCOL_ERROR"
        case .internalError: "INTERNAL_ERROR"
        case .flowControlError: "FLOW_CONTROL_ERROR"
        case .settingsTimeout: "SETTINGS_TIMEOUT"
        case .streamClosed: "STREAM_CLOSED"
        case .frameSizeError: "FRAME_SIZE_ERROR"
        case .refusedStream: "REFUSED_STREAM"
        case .cancel: "CANCEL"
        case .compressionError: "COMPRESSION_ERROR"
        case .connectError: "CONNECT_ERROR"
        case .enhanceYourCalm: "ENHANCE_YOUR_CALM"
        case .inadequateSecurity: "INADEQUATE_SECURITY"
        case .http11Required: "HTTP_1_1_REQUIRED"
        }
    }
}

/// SETTINGS identifiers (RFC 9113 6.5.2).
enum HTTP2Setting {
    static let headerTableSize: UInt16 = 0x1
    static let enablePush: UInt16 = 0x2
    static let maxConcurrentStreams: UInt16 = 0x3
    static let initialWindowSize: UInt16 = 0x4
    static let maxFrameSize: UInt16 = 0x5
    static let maxHeaderListSize: UInt16 = 0x6
}

/// The 9-byte frame header.
struct HTTP2FrameHeader: Equatable, Sendable {
    var length: Int
    var type: UInt8
    var flags: UInt8
    var streamID: UInt32

    init(length: Int, type: UInt8, flags: UInt8, streamID: UInt32) {
        self.length = length
        self.type = type
        self.flags = flags
        self.streamID = streamID
    }

    static let size = 9
    static let preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    /// Reads a header at `at` (the reserved bit is ignored, as the RFC says). nil when fewer than 9 bytes.
    static func parse(_ bytes: UnsafeRawBufferPointer, at: Int) -> HTTP2FrameHeader? {
        guard bytes.count - at >= size else { return nil }
        let length = Int(bytes[at]) << 16 | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2])
        let id = UInt32(bytes[at + 5]) << 24 | UInt32(bytes[at + 6]) << 16 | UInt32(bytes[at + 7]) << 8 | UInt32(bytes[at + 8])
        return HTTP2FrameHeader(length: length, type: bytes[at + 3], flags: bytes[at + 4], streamID: id & 0x7fff_ffff)
    }

    func append(to out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: length >> 16))
        out.append(UInt8(truncatingIfNeeded: length >> 8))
        out.append(UInt8(truncatingIfNeeded: length))
        out.append(type)
        out.append(flags)
        HTTP2Frame.appendUInt32(streamID & 0x7fff_ffff, to: &out)
    }
}

/// The bytes of frames, appended to an output buffer.
enum HTTP2Frame {
    static func appendUInt32(_ v: UInt32, to out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: v >> 24))
        out.append(UInt8(truncatingIfNeeded: v >> 16))
        out.append(UInt8(truncatingIfNeeded: v >> 8))
        out.append(UInt8(truncatingIfNeeded: v))
    }

    static func settings(_ values: [(UInt16, UInt32)], to out: inout [UInt8]) {
        HTTP2FrameHeader(length: values.count * 6, type: HTTP2FrameType.settings.rawValue, flags: 0, streamID: 0).append(to: &out)
        for (id, v) in values {
            out.append(UInt8(id >> 8))
            out.append(UInt8(id & 0xff))
            appendUInt32(v, to: &out)
        }
    }

    static func settingsAck(to out: inout [UInt8]) {
        HTTP2FrameHeader(length: 0, type: HTTP2FrameType.settings.rawValue, flags: HTTP2Flags.ack, streamID: 0).append(to: &out)
    }

    static func pingAck<C: Collection>(_ payload: C, to out: inout [UInt8]) where C.Element == UInt8 {
        HTTP2FrameHeader(length: 8, type: HTTP2FrameType.ping.rawValue, flags: HTTP2Flags.ack, streamID: 0).append(to: &out)
        out.append(contentsOf: payload)
    }

    static func goAway(lastStreamID: UInt32, code: HTTP2ErrorCode, debug: String, to out: inout [UInt8]) {
        let text = Array(debug.utf8.prefix(256))
        HTTP2FrameHeader(length: 8 + text.count, type: HTTP2FrameType.goAway.rawValue, flags: 0, streamID: 0).append(to: &out)
        appendUInt32(lastStreamID & 0x7fff_ffff, to: &out)
        appendUInt32(code.rawValue, to: &out)
        out.append(contentsOf: text)
    }

    static func rstStream(_ id: UInt32, code: HTTP2ErrorCode, to out: inout [UInt8]) {
        HTTP2FrameHeader(length: 4, type: HTTP2FrameType.rstStream.rawValue, flags: 0, streamID: id).append(to: &out)
        appendUInt32(code.rawValue, to: &out)
    }

    static func windowUpdate(_ id: UInt32, increment: UInt32, to out: inout [UInt8]) {
        HTTP2FrameHeader(length: 4, type: HTTP2FrameType.windowUpdate.rawValue, flags: 0, streamID: id).append(to: &out)
        appendUInt32(increment & 0x7fff_ffff, to: &out)
    }

    /// A header block as HEADERS plus CONTINUATION frames of at most `maxFrameSize` bytes each.
    static func headers(_ id: UInt32, block: [UInt8], endStream: Bool, maxFrameSize: Int, to out: inout [UInt8]) {
        var at = 0
        var first = true
        repeat {
            let n = min(maxFrameSize, block.count - at)
            let last = at + n == block.count
            var flags: UInt8 = last ? HTTP2Flags.endHeaders : 0
            if first && endStream { flags |= HTTP2Flags.endStream }
            let type = first ? HTTP2FrameType.headers : HTTP2FrameType.continuation
            HTTP2FrameHeader(length: n, type: type.rawValue, flags: flags, streamID: id).append(to: &out)
            out.append(contentsOf: block[at..<(at + n)])
            at += n
            first = false
        } while at < block.count
    }

    static func data(_ id: UInt32, _ bytes: ArraySlice<UInt8>, endStream: Bool, to out: inout [UInt8]) {
        HTTP2FrameHeader(length: bytes.count, type: HTTP2FrameType.data.rawValue, flags: endStream ? HTTP2Flags.endStream : 0,
                         streamID: id).append(to: &out)
        out.append(contentsOf: bytes)
    }
}
