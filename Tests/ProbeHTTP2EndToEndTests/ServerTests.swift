// GRPCServer on a real socket: connection limits (eviction) and stop. Calls against real clients
// (grpcio) are in ReadinessProbeEndToEndTests/GRPCHealthTests.
import Testing
@preconcurrency import Glibc
import ProbeSupport
import ProbeTestSupport
@testable import ProbeHTTP2

struct EchoStatusService: GRPCService {
    func call(path: String, request: ArraySlice<UInt8>) -> GRPCReply {
        path == "/t.T/Unary" ? GRPCReply(.message(Array(request))) : GRPCReply(.failure(.unimplemented, "no"))
    }
    func streamMessage(key: String) -> [UInt8] { Array(key.utf8) }
}

/// A raw TCP client: connect, send, read with a deadline.
final class RawClient {
    let fd: Int32

    init(port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        if rc != 0 { throw SystemError("connect", errno: errno) }
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }

    /// Reads until EOF or the deadline; returns the bytes and whether the server closed.
    func readAll(for d: Duration) -> (bytes: [UInt8], closed: Bool) {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        let deadline = Deadline.after(d)
        while !deadline.hasPassed {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, deadline.pollTimeout) <= 0 { continue }
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return (out, true) }
            out += buf[0..<n]
        }
        return (out, false)
    }
}

@Suite struct GRPCServerTests {
    @Test func newConnectionsEvictTheLongestIdleAtTheLimit() throws {
        var limits = GRPCServerLimits()
        limits.maxConnections = 2
        let server = try GRPCServer(listen: "127.0.0.1:0", limits: limits, logger: nil, service: EchoStatusService())
        PlainThread.detach { server.run() }
        defer { server.stop() }
        let hello = HTTP2FrameHeader.preface + frame(.settings, 0, 0)
        let first = try RawClient(port: server.boundPort)
        first.send(hello)
        #expect(Wait.until(timeout: .seconds(5)) { server.connectionCount == 1 })
        let second = try RawClient(port: server.boundPort)
        second.send(hello)
        #expect(Wait.until(timeout: .seconds(5)) { server.connectionCount == 2 })
        let third = try RawClient(port: server.boundPort)
        third.send(hello)
        // The first (longest idle) is closed; the third is served.
        #expect(first.readAll(for: .seconds(5)).closed)
        third.send(frame(.headers, HTTP2Flags.endHeaders, 1, checkHeaders) + frame(.data, HTTP2Flags.endStream, 1, [0, 0, 0, 0, 0]))
        var got: [UInt8] = []
        _ = Wait.until(timeout: .seconds(5)) {
            got += third.readAll(for: .milliseconds(100)).bytes
            return frames(got).contains { $0.type == 1 && $0.flags & HTTP2Flags.endStream != 0 }
        }
        #expect(frames(got).contains { $0.type == 1 && $0.flags & HTTP2Flags.endStream != 0 })
        #expect(server.connectionCount == 2)
        #expect(!second.readAll(for: .milliseconds(50)).closed)
    }

    @Test func stopSendsGoAwayAndReturns() throws {
        let server = try GRPCServer(listen: "127.0.0.1:0", logger: nil, service: EchoStatusService())
        PlainThread.detach { server.run() }
        let c = try RawClient(port: server.boundPort)
        c.send(HTTP2FrameHeader.preface + frame(.settings, 0, 0))
        // Established: the server has read our preface and SETTINGS (it acknowledged them). A
        // connection accepted but not read yet is closed at a stop without GOAWAY (there is no
        // HTTP/2 connection to go away from): on a loaded machine the stop could come first.
        var got: [UInt8] = []
        #expect(Wait.until(timeout: .seconds(20)) {
            got += c.readAll(for: .milliseconds(50)).bytes
            return frames(got).contains { $0.type == HTTP2FrameType.settings.rawValue && $0.flags & HTTP2Flags.ack != 0 }
        })
        // stop() returns (it does not wait for the client), and the client gets GOAWAY and the close.
        // The bounds leave room for a loaded machine.
        let started = ContinuousClock.now
        server.stop()
        #expect(ContinuousClock.now - started < .seconds(10))
        let (bytes, closed) = c.readAll(for: .seconds(10))
        #expect(closed)
        #expect(frames(got + bytes).contains { $0.type == HTTP2FrameType.goAway.rawValue })
    }
}
