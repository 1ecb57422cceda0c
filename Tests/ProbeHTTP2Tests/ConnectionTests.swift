// HTTP2ServerConnection without sockets: bytes in, frames out. The end-to-end behaviour against real
// clients (grpcio, raw-frame attacks) is in ReadinessProbeEndToEndTests/GRPCHealthTests.
import Testing
@testable import ProbeHTTP2

/// A client: feeds bytes, collects what the server wrote.
final class Peer {
    let c: HTTP2ServerConnection
    var written: [UInt8] = []

    init(limits: HTTP2Limits = HTTP2Limits()) {
        c = HTTP2ServerConnection(limits: limits)
        drain()
    }

    @discardableResult
    func send(_ bytes: [UInt8]) -> [HTTP2ServerConnection.Event] {
        let events = bytes.withUnsafeBytes { c.receive($0) }
        drain()
        return events
    }

    func drain() {
        written += c.output[c.outputStart...]
        c.consumed(c.pendingOutput)
    }

    func take() -> [Frame] {
        defer { written = [] }
        return frames(written)
    }
}

let start = HTTP2FrameHeader.preface + frame(.settings, 0, 0)

@Suite struct ConnectionTests {
    @Test func prefaceSettingsAndARequest() {
        let p = Peer()
        let server = p.take()
        #expect(server.first?.type == HTTP2FrameType.settings.rawValue)
        let events = p.send(start + frame(.headers, HTTP2Flags.endHeaders, 1, checkHeaders) + frame(.data, HTTP2Flags.endStream, 1, [0, 0, 0, 0, 0]))
        #expect(p.take().map(\.type) == [HTTP2FrameType.settings.rawValue])   // the ACK
        guard case .request(let id, let headers, let body)? = events.first else { Issue.record("no request"); return }
        #expect(id == 1)
        #expect(headers.contains(HPACKField(":path", "/grpc.health.v1.Health/Check")))
        #expect(body == [0, 0, 0, 0, 0])
        p.c.sendHeaders(1, [(":status", "200")], endStream: false)
        p.c.sendData(1, [0, 0, 0, 0, 2, 8, 1], endStream: false)
        p.c.sendHeaders(1, [("grpc-status", "0")], endStream: true)
        p.drain()
        let answer = p.take()
        #expect(answer.map(\.type) == [1, 0, 1])
        #expect(answer.last?.flags == HTTP2Flags.endStream | HTTP2Flags.endHeaders)
        #expect(p.c.streamCount == 0)
    }

    @Test func wrongPrefaceIsAProtocolError() {
        let p = Peer()
        _ = p.take()
        p.send(Array("GET / HTTP/1.1\r\n\r\n".utf8))
        let f = p.take()
        #expect(f.last?.type == HTTP2FrameType.goAway.rawValue)
        #expect(f.last?.payload[7] == UInt8(HTTP2ErrorCode.protocolError.rawValue))
        #expect(p.c.wantsClose)
    }

    @Test func dataWaitsForTheWindow() {
        let p = Peer()
        p.send(HTTP2FrameHeader.preface + frame(.settings, 0, 0, [0, 4, 0, 0, 0, 0]) // INITIAL_WINDOW_SIZE 0
               + frame(.headers, HTTP2Flags.endHeaders | HTTP2Flags.endStream, 1, checkHeaders))
        _ = p.take()
        p.c.sendHeaders(1, [(":status", "200")], endStream: false)
        p.c.sendData(1, [1, 2, 3, 4, 5, 6, 7], endStream: false)
        p.c.sendHeaders(1, [("grpc-status", "0")], endStream: true)
        p.drain()
        #expect(p.take().map(\.type) == [1])   // the HEADERS only: DATA and trailers wait
        #expect(p.c.queuedCount(1) == 2)
        p.send(frame(.windowUpdate, 0, 1, [0, 0, 0, 3]))
        let partial = p.take()
        #expect(partial.map(\.type) == [0])
        #expect(partial.first?.payload == [1, 2, 3])
        p.send(frame(.windowUpdate, 0, 1, [0, 0, 0, 100]))
        #expect(p.take().map(\.type) == [0, 1])
        #expect(p.c.streamCount == 0)
    }

    @Test func answersWaitingForWindowTooLongAreReset() {
        let p = Peer()
        p.send(HTTP2FrameHeader.preface + frame(.settings, 0, 0, [0, 4, 0, 0, 0, 0])
               + frame(.headers, HTTP2Flags.endHeaders | HTTP2Flags.endStream, 1, checkHeaders))
        _ = p.take()
        p.c.sendHeaders(1, [(":status", "200")], endStream: false)
        p.c.sendData(1, [1, 2, 3], endStream: true)
        let now = ContinuousClock.now
        p.c.tick(now: now)
        p.c.tick(now: now + .seconds(20))
        #expect(p.c.isOpen(1))
        p.c.tick(now: now + .seconds(31))
        #expect(!p.c.isOpen(1))
        p.drain()
        #expect(p.take().last.map { [$0.type, $0.payload[3]] } == [HTTP2FrameType.rstStream.rawValue, UInt8(HTTP2ErrorCode.cancel.rawValue)])
    }

    @Test func rapidResetEndsInEnhanceYourCalm() {
        var limits = HTTP2Limits()
        limits.resetBurst = 10
        limits.resetRate = 1
        let p = Peer(limits: limits)
        _ = p.take()
        var bytes = start
        for i in 0..<20 {
            let id = UInt32(2 * i + 1)
            bytes += frame(.headers, HTTP2Flags.endHeaders, id, checkHeaders) + frame(.rstStream, 0, id, [0, 0, 0, 8])
        }
        p.send(bytes)
        let f = p.take()
        #expect(f.last?.type == HTTP2FrameType.goAway.rawValue)
        #expect(f.last?.payload[7] == UInt8(HTTP2ErrorCode.enhanceYourCalm.rawValue))
    }

    @Test func streamsBeyondTheLimitAreRefused() {
        var limits = HTTP2Limits()
        limits.maxConcurrentStreams = 2
        let p = Peer(limits: limits)
        _ = p.take()
        p.send(start + (0..<3).flatMap { frame(.headers, HTTP2Flags.endHeaders, UInt32(2 * $0 + 1), checkHeaders) })
        let f = p.take().filter { $0.type == HTTP2FrameType.rstStream.rawValue }
        #expect(f.map(\.stream) == [5])
        #expect(f.first?.payload == [0, 0, 0, UInt8(HTTP2ErrorCode.refusedStream.rawValue)])
        #expect(p.c.streamCount == 2)
    }

    @Test func oversizedFrameAndEndlessContinuation() {
        let p = Peer()
        _ = p.take()
        p.send(start + [0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01])   // a 64 KiB DATA header
        #expect(p.take().last?.payload[7] == UInt8(HTTP2ErrorCode.frameSizeError.rawValue))

        let q = Peer()
        _ = q.take()
        var bytes = start + frame(.headers, 0, 1, checkHeaders)
        for _ in 0..<10 { bytes += frame(.continuation, 0, 1, [UInt8](repeating: 0x82, count: 16000)) }
        q.send(bytes)
        #expect(q.take().last?.payload[7] == UInt8(HTTP2ErrorCode.enhanceYourCalm.rawValue))
    }

    @Test func gracefulGoAwayLetsOpenStreamsFinish() {
        let p = Peer()
        _ = p.take()
        p.send(start + frame(.headers, HTTP2Flags.endHeaders, 1, checkHeaders))
        p.c.goAway()
        p.drain()
        #expect(p.take().last?.type == HTTP2FrameType.goAway.rawValue)
        #expect(!p.c.wantsClose)
        // A new stream after GOAWAY is ignored; the open one finishes.
        let events = p.send(frame(.headers, HTTP2Flags.endHeaders | HTTP2Flags.endStream, 3, checkHeaders)
                            + frame(.data, HTTP2Flags.endStream, 1, [0, 0, 0, 0, 0]))
        #expect(events.count == 1)
        p.c.sendHeaders(1, [(":status", "200"), ("grpc-status", "0")], endStream: true)
        #expect(p.c.wantsClose)
    }
}

@Suite struct ProtobufTests {
    @Test func healthMessagesRoundTrip() throws {
        #expect(try GRPCHealth.decodeCheckRequest(GRPCHealth.encodeCheckRequest("readyz")[...]) == "readyz")
        #expect(GRPCHealth.encodeCheckRequest("") == [])
        #expect(GRPCHealth.encodeCheckResponse(.serving) == [0x08, 0x01])
        #expect(GRPCHealth.encodeCheckResponse(.unknown) == [])
        let list = GRPCHealth.encodeListResponse([("", .serving), ("db", .notServing)])
        let back = try GRPCHealth.decodeListResponse(list[...])
        #expect(back.map(\.0) == ["", "db"])
        #expect(back.map(\.1) == [1, 2])
    }

    @Test func unknownFieldsAreSkippedAndBadInputRejected() throws {
        // service = "a", then a varint, a fixed64, a fixed32 and bytes of unknown fields.
        let bytes: [UInt8] = [0x0a, 0x01, 0x61, 0x10, 0x96, 0x01, 0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x25, 1, 2, 3, 4, 0x2a, 0x00]
        #expect(try GRPCHealth.decodeCheckRequest(bytes[...]) == "a")
        #expect(throws: ProtobufError.truncated) { try GRPCHealth.decodeCheckRequest([0x0a, 0x05, 0x61][...]) }
        #expect(throws: ProtobufError.badWireType(3)) { try GRPCHealth.decodeCheckRequest([0x0b][...]) }
        #expect(throws: ProtobufError.fieldNumberZero) { try GRPCHealth.decodeCheckRequest([0x00, 0x00][...]) }
        #expect(throws: ProtobufError.invalidUTF8(field: 1)) { try GRPCHealth.decodeCheckRequest([0x0a, 0x01, 0xff][...]) }
        #expect(throws: ProtobufError.varintTooLong) {
            try GRPCHealth.decodeCheckRequest([0x10] + [UInt8](repeating: 0xff, count: 10) + [0x01])
        }
    }
}
