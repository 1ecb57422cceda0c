// The connection limit: at the cap a new connection is taken and the oldest connection of the
// peer holding the most is closed. Peers are told apart by address; 127.0.0.2 and 127.0.0.3 are
// loopback addresses a client can bind to.
@preconcurrency import Glibc
@testable import ProbeHTTP
import ProbeSupport
import ProbeTestSupport
import Testing

/// A raw TCP connection from a chosen loopback source address.
func connect(from source: String, port: UInt16) -> RawClient {
    let c = RawClient(bindingTo: source, port: port)
    return c
}

extension RawClient {
    convenience init(bindingTo source: String, port: UInt16) {
        self.init(unconnected: ())
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, source, &local.sin_addr)
        _ = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = UInt32(0x7f000001).bigEndian
        _ = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
}

@Suite(.serialized) struct EvictionTests {
    @Test func atTheCapTheOldestConnectionMakesRoom() throws {
        var limits = HTTPServerLimits()
        limits.maxConnections = 8
        // A long header timeout, so that only an eviction can free a slot or close a connection here.
        limits.headerTimeout = .seconds(60)
        let s = try RunningServer(limits: limits)
        var idle: [RawClient] = []
        for _ in 0..<8 {
            idle.append(RawClient(port: s.server.boundPort))
            // One at a time, so that their order is the accept order.
            #expect(Wait.until(timeout: .seconds(20)) { s.server.connectionCount == idle.count })
        }
        // A fresh request is answered at once (it used to wait for a slot: a header timeout, 60 s here).
        let t0 = ContinuousClock.now
        #expect(try HTTPClient.send(HTTPClientRequest(target: "/hello"), to: s.endpoint, deadline: .after(.seconds(20))).status == 200)
        #expect(ContinuousClock.now - t0 < .seconds(10))
        #expect(idle[0].closedByServer(timeoutMs: 10_000))
        #expect(!idle[7].closedByServer(timeoutMs: 100))
        #expect(s.server.evictedConnectionCount >= 1)
        #expect(s.server.peakConnectionCount <= 8)
    }

    @Test func theHeaviestPeerLosesItsOwnOldestConnection() throws {
        var limits = HTTPServerLimits()
        limits.maxConnections = 8
        // A long header timeout, so that only an eviction can close a connection here.
        limits.headerTimeout = .seconds(60)
        let s = try RunningServer(limits: limits)
        // 127.0.0.3 comes first and keeps one connection; 127.0.0.2 fills the rest.
        let light = connect(from: "127.0.0.3", port: s.server.boundPort)
        #expect(Wait.until(timeout: .seconds(20)) { s.server.connectionCount == 1 })
        var heavy: [RawClient] = []
        for _ in 0..<7 {
            heavy.append(connect(from: "127.0.0.2", port: s.server.boundPort))
            #expect(Wait.until(timeout: .seconds(20)) { s.server.connectionCount == heavy.count + 1 })
        }
        // The light peer's new connection costs the heavy peer its oldest, not the light one's.
        let probe = connect(from: "127.0.0.3", port: s.server.boundPort)
        probe.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(probe.readResponse()?.status == 200)
        #expect(heavy[0].closedByServer(timeoutMs: 10_000))
        #expect(!light.closedByServer(timeoutMs: 100))
        // The heavy peer's own new connections push out its own old ones, never the light peer's.
        var more: [RawClient] = []
        for _ in 0..<10 { more.append(connect(from: "127.0.0.2", port: s.server.boundPort)) }
        #expect(Wait.until(timeout: .seconds(20)) { s.server.evictedConnectionCount >= 11 })
        #expect(!light.closedByServer(timeoutMs: 100))
    }
}
