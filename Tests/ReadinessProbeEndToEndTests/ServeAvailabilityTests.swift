// serve stays available while other connections are held open (issue #11 item 11): idle ones,
// slowloris ones and kept-alive ones from one peer used to take all 256 slots and lock out the
// kubelet's probe. Real serve processes, real loopback sockets, bounded counts.
import Testing
@testable import ReadinessProbe
import ProbeTestSupport
import ProbeSupport
import ProbeHTTP
import Glibc

/// Loopback connections a test opens and holds (non-blocking), closed on deinit.
final class HeldConnections {
    private(set) var fds: [Int32] = []

    /// Opens `count` connections to 127.0.0.1:port without waiting for each handshake.
    init(port: UInt16, count: Int) {
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard fd >= 0 else { break }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = port.bigEndian
            addr.sin_addr.s_addr = UInt32(0x7f000001).bigEndian
            _ = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            fds.append(fd)
        }
    }

    /// Waits (with a deadline) until every connect has finished, one way or the other; returns how many connected.
    func settle(timeout: Duration = .seconds(20)) -> Int {
        var pending = fds
        var connected = 0
        let deadline = Deadline.after(timeout)
        while !pending.isEmpty && !deadline.hasPassed {
            var p = pending.map { pollfd(fd: $0, events: Int16(POLLOUT), revents: 0) }
            if poll(&p, nfds_t(p.count), min(deadline.pollTimeout, 200)) < 0 { break }
            var still: [Int32] = []
            for entry in p {
                if entry.revents == 0 { still.append(entry.fd); continue }
                var err: Int32 = 0
                var len = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(entry.fd, SOL_SOCKET, SO_ERROR, &err, &len)
                if err == 0 { connected += 1 }
            }
            pending = still
        }
        return connected
    }

    /// Sends `text` on every `step`-th connection starting at `offset` (errors ignored).
    func send(_ text: String, every step: Int, from offset: Int) {
        let bytes = Array(text.utf8)
        for i in stride(from: offset, to: fds.count, by: step) {
            _ = bytes.withUnsafeBytes { Glibc.send(fds[i], $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }
    }

    deinit { for fd in fds { close(fd) } }
}

/// Raises this process's soft RLIMIT_NOFILE to the hard limit; returns the soft limit.
func raiseTestFileLimit() -> Int { ProcessResources.raiseOpenFileLimit() }

/// serve's CPU time (user + system) in clock ticks, from /proc/PID/stat.
func cpuTicks(_ pid: pid_t) -> Int? {
    guard let stat = try? Platform.readTextFile("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let u = Int(fields[11]), let s = Int(fields[12]) else { return nil }
    return u + s
}

func statusField(_ pid: pid_t, _ name: String) -> Int? {
    guard let text = try? Platform.readTextFile("/proc/\(pid)/status") else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
        return Int(line.dropFirst(name.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
    }
    return nil
}

@Suite(.serialized) struct ServeAvailabilityTests {
    /// Fresh probes while 2,000 connections are held: a third idle (connected, nothing sent), a
    /// third slowloris (half a request head), a third kept alive after one request.
    @Test func freshProbesAreAnsweredWhile2000ConnectionsAreHeld() async throws {
        let files = raiseTestFileLimit()
        let count = min(2000, files - 200)
        #expect(count == 2000, "the test's open-file limit is \(files)")
        let b = HookBench()
        let conf = try b.config([("one", try b.flip("one"), "")])
        let s = try await ServeProcess.start(config: conf, extra: ["--period", "500ms", "--quiet"])
        #expect(await s.waitFor("/readyz", status: 200) != nil)

        let held = HeldConnections(port: s.port, count: count)
        let connected = held.settle()
        #expect(connected > 1500, "only \(connected) of \(count) connected")
        held.send("GET /readyz HTTP/1.1\r\nHost: x\r\nX-Slow: ", every: 3, from: 1)
        held.send("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n", every: 3, from: 2)

        // Each with a 2 s deadline (kubelet's default timeout is 1 s; the answers take milliseconds).
        var answered = 0
        for _ in 0..<10 {
            let r = try? HTTPClient.send(HTTPClientRequest(target: "/readyz"), to: .tcp(host: "127.0.0.1", port: s.port),
                                         deadline: .after(.seconds(2)))
            if r?.status == 200 { answered += 1 }
        }
        #expect(answered == 10, "\(answered) of 10 fresh probes answered; serve: \(s.process.stderr.suffix(500))")
        #expect(s.process.stderr.contains("http: at the connection limit (1024): closed the"))
        // Bounded: at most the connection limit open, and memory that does not grow with what is held.
        let openFiles = (try? Platform.listDirectory("/proc/\(s.process.pid)/fd"))?.count ?? 0
        #expect(openFiles <= 1024 + 64, "serve has \(openFiles) descriptors open")
        let rss = statusField(s.process.pid, "VmRSS") ?? 0
        #expect(rss > 0 && rss < 64 * 1024, "serve's RSS: \(rss) kB")
        s.process.signal(SIGTERM)
        #expect(await s.process.waitExit(timeout: .seconds(5)) == 0)
    }

    /// A low open-file limit that serve cannot raise (soft = hard = 96): the connection limit
    /// shrinks to what is left after the descriptors in use and the checks' reserve (a few dozen),
    /// 200 held connections cost nothing but evictions, probes are answered, the background runs
    /// go on (hooks still get their pipes), serve does not spin, and SIGTERM stops it.
    @Test(.enabled(if: Platform.isExecutable("/usr/bin/prlimit"))) func descriptorLimitDoesNotSpinOrWedge() async throws {
        let b = HookBench()
        let conf = try b.config([("one", try b.flip("one"), "")])
        let proc = try BackgroundProcess(["/usr/bin/prlimit", "--nofile=96:96", "--", TestPaths.binary, "serve", "--config", conf,
                                          "--listen", "127.0.0.1:0", "--period", "200ms", "--quiet"])
        var port: UInt16?
        _ = await Wait.untilAsync {
            port = ServeLimitsTests.port(proc.stderr)
            return port != nil
        }
        let p = try #require(port, "serve did not start: \(proc.stderr)")
        let held = HeldConnections(port: p, count: 200)
        _ = held.settle(timeout: .seconds(5))
        let before = cpuTicks(proc.pid) ?? 0
        let t0 = ContinuousClock.now
        var answered = 0
        for _ in 0..<10 {
            let r = try? HTTPClient.send(HTTPClientRequest(target: "/livez"), to: .tcp(host: "127.0.0.1", port: p),
                                         deadline: .after(.seconds(3)))
            if r?.status == 200 { answered += 1 }
            try? await Task.sleep(for: .milliseconds(100))
        }
        let wall = ContinuousClock.now - t0
        let used = (cpuTicks(proc.pid) ?? 0) - before
        #expect(answered >= 9, "\(answered) of 10 probes answered at the descriptor limit: \(proc.stderr.suffix(800))")
        // A busy loop would use about one tick (10 ms) of CPU per 10 ms of wall time.
        let wallTicks = Int(wall.components.seconds) * 100 + Int(wall.components.attoseconds / 10_000_000_000_000_000)
        #expect(used * 2 < wallTicks, "serve used \(used) ticks of CPU in \(wallTicks) ticks")
        let runs = b.runs("one")
        #expect(await Wait.untilAsync { b.runs("one") > runs }, "the background runs stopped")
        proc.signal(SIGTERM)
        #expect(await proc.waitExit(timeout: .seconds(5)) == 0, "serve ignored SIGTERM at the descriptor limit")
        #expect(proc.stderr.contains("http: at the connection limit ("))
    }

    /// An open-file limit too low for the checks' reserve and a few connections: refused at start,
    /// code 1, with the numbers and the fix; never a process that runs out of descriptors later.
    @Test(.enabled(if: Platform.isExecutable("/usr/bin/prlimit"))) func tooLowDescriptorLimitIsRefusedAtStart() async throws {
        let b = HookBench()
        let conf = try b.config([("one", try b.flip("one"), "")])
        let r = await runCommand(["/usr/bin/prlimit", "--nofile=24:24", "--", TestPaths.binary, "serve", "--config", conf,
                                  "--listen", "127.0.0.1:0"])
        #expect(r.status == 14)
        #expect(r.stderr.contains("the open-file limit (ulimit -n) is 24:"), "\(r.stderr)")
        #expect(r.stderr.contains("raise it to at least"))
        #expect(!r.stderr.contains("listening"))
    }
}
