// HTTP/2 frame helpers shared by the unit and end-to-end targets (ProbeHTTP2EndToEndTests/FrameFixtures.swift is a
// symlink to this file).
@testable import ProbeHTTP2

struct Frame: Equatable {
    var type: UInt8, flags: UInt8, stream: UInt32, payload: [UInt8]
}

func frames(_ bytes: [UInt8]) -> [Frame] {
    var out: [Frame] = []
    var i = 0
    while bytes.count - i >= 9 {
        let n = Int(bytes[i]) << 16 | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2])
        guard bytes.count - i - 9 >= n else { break }
        let id = UInt32(bytes[i + 5]) << 24 | UInt32(bytes[i + 6]) << 16 | UInt32(bytes[i + 7]) << 8 | UInt32(bytes[i + 8])
        out.append(Frame(type: bytes[i + 3], flags: bytes[i + 4], stream: id, payload: Array(bytes[(i + 9)..<(i + 9 + n)])))
        i += 9 + n
    }
    return out
}

func frame(_ type: HTTP2FrameType, _ flags: UInt8, _ stream: UInt32, _ payload: [UInt8] = []) -> [UInt8] {
    var out: [UInt8] = []
    HTTP2FrameHeader(length: payload.count, type: type.rawValue, flags: flags, streamID: stream).append(to: &out)
    return out + payload
}
let checkHeaders: [UInt8] = {
    var e = HPACKEncoder()
    e.pendingSizeUpdate = false
    return e.encode([(":method", "POST"), (":scheme", "http"), (":path", "/grpc.health.v1.Health/Check"),
                     (":authority", "x"), ("content-type", "application/grpc"), ("te", "trailers")])
}()
