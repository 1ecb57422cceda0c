@preconcurrency import Glibc
import CShim
import ProbeSupport
import Synchronization

/// What the handler returns. The server adds `Content-Length` and `Connection`; HEAD gets the
/// same headers without the body.
public struct HTTPServerResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A text response (`text/plain; charset=utf-8` unless another content type is given).
    public static func text(_ status: Int, _ text: String, contentType: String = "text/plain; charset=utf-8",
                            headers: [(String, String)] = []) -> HTTPServerResponse {
        HTTPServerResponse(status: status, headers: [("Content-Type", contentType)] + headers, body: Array(text.utf8))
    }
}

/// Server limits. The defaults suit a health endpoint polled by kubelet or a load balancer.
public struct HTTPServerLimits: Sendable {
    /// Request line plus headers (431 beyond this). Default 8 KiB.
    public var maxHeaderBytes: Int = HTTPRequestParser.defaultMaxHeaderBytes
    /// Time allowed for a whole request head to arrive, counted from the connection (or from the
    /// first byte of a later request on a kept-alive connection). A client that trickles bytes is
    /// dropped when it passes. Default 5 s.
    public var headerTimeout: Duration = .seconds(5)
    /// How long a kept-alive connection may sit idle between requests. Default 30 s.
    public var idleTimeout: Duration = .seconds(30)
    /// Time allowed to write one response. Default 5 s.
    public var writeTimeout: Duration = .seconds(5)
    /// Connections open at once. At the limit a new connection is still accepted, and the oldest
    /// connection of the peer holding the most is closed to make room (an idle keep-alive, a
    /// client that has not sent its request yet, a slowloris; a connection is stamped at accept
    /// and when it turns idle, not on each byte). So held connections never lock a fresh probe
    /// out, and a peer that hoards connections loses its own first. Default 1024; lowered to fit
    /// the open-file limit (see `reservedDescriptors`).
    public var maxConnections: Int = 1024
    /// Descriptors of RLIMIT_NOFILE kept for the rest of the process (hooks' pipes, files,
    /// supervisord's socket, the runtime's own): connections get at most the open-file limit minus
    /// the descriptors open at start minus this. `HTTPServer.init` fails when that leaves fewer
    /// than 8 (or `maxConnections`, if smaller). Default 64.
    public var reservedDescriptors: Int = 64
    /// How long `stop()` lets in-flight responses finish before closing everything. Default 1 s.
    public var stopGrace: Duration = .seconds(1)
    /// listen(2) backlog (the kernel caps it at net.core.somaxconn). Default 1024.
    public var backlog: Int32 = 1024

    public init() {}
}

/// One access-log record: written once per request (or rejected request).
public struct HTTPAccessLogEntry: Sendable {
    /// The method, or `-` when the request line could not be parsed.
    public var method: String
    /// The request target as sent (validated printable ASCII; cut at 200 bytes), or `-`.
    public var target: String
    public var status: Int
    /// Body bytes sent.
    public var bytes: Int
    /// From the request's first byte to the last byte of the response written.
    public var duration: Duration

    public init(method: String, target: String, status: Int, bytes: Int, duration: Duration) {
        self.method = method
        self.target = target
        self.status = status
        self.bytes = bytes
        self.duration = duration
    }

    public var line: String {
        let ms = duration.millisecondsDouble
        let msText = ms < 10 ? Decimal1.format(ms, digits: 2) : String(Int(ms.rounded()))
        return "http: \(method) \(target) \(status) \(bytes)B \(msText)ms"
    }
}

/// Why the server could not start: a bad `--listen` address, or bind/listen failed.
public enum HTTPServerError: Error, CustomStringConvertible, Sendable, Equatable {
    case badListenAddress(String, reason: String)
    case bindFailed(address: String, errno: Int32)
    case setupFailed(String)

    public var description: String {
        switch self {
        case .badListenAddress(let a, let reason):
            return "invalid listen address \"\(a)\": \(reason) (use HOST:PORT, e.g. 127.0.0.1:8080, 0.0.0.0:8080, [::]:8080)"
        case .bindFailed(let a, let e):
            let hint = e == EADDRINUSE ? " (another process is listening there)"
                : e == EACCES ? " (ports below 1024 need privileges)"
                : e == EADDRNOTAVAIL ? " (no such local address)" : ""
            return "cannot listen on \(a): \(Platform.describe(errno: e))\(hint)"
        case .setupFailed(let what):
            return "cannot start the HTTP server: \(what)"
        }
    }
}

/// A small HTTP/1.1 server for health endpoints: one thread, one poll(2) loop, non-blocking
/// sockets, bounded everything. The handler runs on the loop thread and must be fast (it
/// should only read cached data).
public final class HTTPServer: @unchecked Sendable {
    /// Answers one request, on the loop thread; must be fast (cached data only).
    public typealias Handler = @Sendable (HTTPRequest) -> HTTPServerResponse
    /// Gets one entry per answered request (access log).
    public typealias Logger = @Sendable (HTTPAccessLogEntry) -> Void

    /// Writes `entry.line` to stderr.
    public static let stderrLogger: Logger = { Platform.writeStderr($0.line + "\n") }

    /// The port actually bound (useful with port 0).
    public let boundPort: UInt16
    /// The address bound, as `127.0.0.1:8080` or `[::]:8080`.
    public let boundAddress: String
    public let limits: HTTPServerLimits
    /// The connection limit in force: `limits.maxConnections`, lowered to what the open-file limit
    /// (RLIMIT_NOFILE) leaves after the descriptors open at start and `limits.reservedDescriptors`.
    public let effectiveMaxConnections: Int

    /// Writing any byte to this descriptor asks the server to stop: safe from a signal handler
    /// (write(2) is async-signal-safe). `requestStop()` does exactly that.
    public let stopDescriptor: Int32

    private let handler: Handler
    private let logger: Logger?
    private let listenFD: Int32
    private let wakeReadFD: Int32
    private let doneReadFD: Int32
    private let doneWriteFD: Int32
    private let current = Atomic<Int>(0)
    private let peak = Atomic<Int>(0)
    private let evicted = Atomic<Int>(0)
    private let started = Atomic<Bool>(false)

    /// Connections open right now.
    public var connectionCount: Int { current.load(ordering: .relaxed) }
    /// The most connections open at once since the server started.
    public var peakConnectionCount: Int { peak.load(ordering: .relaxed) }
    /// Connections closed to make room for new ones at the limit (oldest idle or slow first).
    public var evictedConnectionCount: Int { evicted.load(ordering: .relaxed) }

    /// Binds and listens at once (so errors surface here); `run()` serves.
    /// `listen`: `127.0.0.1:8080`, `0.0.0.0:8080`, `[::]:8080`, `[::1]:0`, `localhost:0`, `:8080` (all interfaces).
    public init(listen: String, limits: HTTPServerLimits = HTTPServerLimits(), logger: Logger? = HTTPServer.stderrLogger,
                handler: @escaping Handler) throws(HTTPServerError) {
        self.limits = limits
        self.handler = handler
        self.logger = logger
        let (fd, port, address) = try TCPListener.bind(listen, backlog: limits.backlog)
        listenFD = fd
        boundPort = port
        boundAddress = address

        var wake: [Int32] = [0, 0], done: [Int32] = [0, 0]
        if cshim_pipe_cloexec(&wake, 1) != 0 {
            Sock.close(fd)
            throw .setupFailed("pipe: \(Platform.describe(errno: cshim_errno()))")
        }
        if cshim_pipe_cloexec(&done, 1) != 0 {
            Sock.close(fd); Sock.close(wake[0]); Sock.close(wake[1])
            throw .setupFailed("pipe: \(Platform.describe(errno: cshim_errno()))")
        }
        wakeReadFD = wake[0]
        stopDescriptor = wake[1]
        doneReadFD = done[0]
        doneWriteFD = done[1]

        // Connections may use what the open-file limit leaves after the descriptors open now and
        // the reserve; running out of descriptors would break the rest of the process (Swift's
        // task pool cannot recover from it), so a limit too low for a few connections is refused.
        let files = Self.openFileLimit()
        let inUse = Self.openDescriptorCount()
        let room = files == Int.max ? Int.max : files - inUse - limits.reservedDescriptors
        let floor = min(8, limits.maxConnections)
        if room < floor {
            for f in [fd, wake[0], wake[1], done[0], done[1]] { Sock.close(f) }
            throw .setupFailed("the open-file limit (ulimit -n) is \(files): \(inUse) descriptors are in use and \(limits.reservedDescriptors) are kept for the checks, which leaves fewer than \(floor) for connections (raise it to at least \(inUse + limits.reservedDescriptors + floor))")
        }
        effectiveMaxConnections = max(1, min(limits.maxConnections, room))
    }

    deinit {
        if !started.load(ordering: .relaxed) { Sock.close(listenFD) }
        for fd in [wakeReadFD, stopDescriptor, doneReadFD, doneWriteFD] { Sock.close(fd) }
    }

    /// Splits `host:port`, `[v6]:port` or `:port`. A nil host means every interface.
    public static func parseListenAddress(_ text: String) throws(HTTPServerError) -> (host: String?, port: UInt16) {
        let host: Substring, portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw .badListenAddress(text, reason: "missing ]") }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw .badListenAddress(text, reason: "a port is required after ]") }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw .badListenAddress(text, reason: "a port is required") }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { throw .badListenAddress(text, reason: "put an IPv6 address in brackets") }
        }
        guard !portText.isEmpty, portText.count <= 5, portText.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              let port = Int(portText), port <= 65535 else {
            throw .badListenAddress(text, reason: "the port must be a number from 0 to 65535")
        }
        if host.utf8.contains(where: { $0 <= 0x20 || $0 >= 0x7f }) { throw .badListenAddress(text, reason: "bad host") }
        return (host.isEmpty ? nil : String(host), UInt16(port))
    }

    /// Asks `run()` to stop. Only writes one byte to a pipe: async-signal-safe and non-blocking.
    public func requestStop() {
        var b: UInt8 = 1
        _ = Glibc.write(stopDescriptor, &b, 1)
    }

    /// Asks the server to stop and waits (at most stopGrace + 1 s) until `run()` has returned.
    /// Returns at once if called from the handler or before `run()` started.
    public func stop() {
        requestStop()
        guard started.load(ordering: .acquiring), !Self.onLoopThread else { return }
        _ = Sock.wait(doneReadFD, events: Int16(POLLIN), deadline: .after(limits.stopGrace + .seconds(1)))
    }

    @TaskLocal private static var loopMarker = false
    private static var onLoopThread: Bool { loopMarker }

    // MARK: - The loop

    private enum Phase { case reading, writing, draining }

    private final class Connection {
        let fd: Int32
        let peer: PeerKey
        var phase: Phase = .reading
        var input: [UInt8] = []
        var output: [UInt8] = []
        var written = 0
        var closeAfterWrite = false
        var deadline: Deadline
        /// When the current request's first byte arrived (for the access log).
        var requestStarted: ContinuousClock.Instant?
        var log: HTTPAccessLogEntry?
        var drained = 0
        /// Between requests on a kept-alive connection (the idle timeout applies, not the header timeout).
        var idle = false
        /// Age rank for eviction: set at accept and whenever the connection turns idle again.
        var stamp: UInt64 = 0

        init(fd: Int32, peer: PeerKey, deadline: Deadline) {
            self.fd = fd
            self.peer = peer
            self.deadline = deadline
        }
    }

    /// A peer as the connection limit sees it: an IPv4 address, or an IPv6 /64 (one host's usual share).
    struct PeerKey: Hashable, CustomStringConvertible {
        var high: UInt64 = 0
        var low: UInt64 = 0
        var length: Int32 = 0

        var description: String {
            switch length {
            case 4:
                let a = UInt32(truncatingIfNeeded: high)
                return "\(a >> 24).\((a >> 16) & 255).\((a >> 8) & 255).\(a & 255)"
            case 8:
                let groups = (0..<4).map { String((high >> (48 - 16 * UInt64($0))) & 0xffff, radix: 16) }
                return groups.joined(separator: ":") + "::/64"
            default: return "?"
            }
        }
    }

    /// One peer's open connections, oldest first (lazily: entries whose connection is gone or was
    /// stamped again since are skipped when met).
    private final class PeerConnections {
        var count = 0
        var queue: [(fd: Int32, stamp: UInt64)] = []
        var head = 0
    }

    static func openFileLimit() -> Int {
        var r = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &r) == 0 else { return 1024 }
        return r.rlim_cur == rlim_t.max ? Int.max : Int(clamping: r.rlim_cur)
    }

    /// Descriptors open in this process now (from /proc/self/fd; 16 if it cannot be read).
    static func openDescriptorCount() -> Int {
        guard let names = try? Platform.listDirectory("/proc/self/fd") else { return 16 }
        return max(0, names.count - 1) // the listing's own descriptor
    }

    /// Serves until `requestStop()`/`stop()`. Call once, from a thread of its own.
    public func run() {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        Self.$loopMarker.withValue(true) { loop() }
        var b: UInt8 = 1
        _ = Glibc.write(doneWriteFD, &b, 1)
    }

    private func loop() {
        var conns: [Int32: Connection] = [:]
        var peers: [PeerKey: PeerConnections] = [:]
        var nextStamp: UInt64 = 1
        var listening = true
        var stopDeadline: Deadline?
        var acceptPausedUntil: Deadline?
        var chunk = [UInt8](repeating: 0, count: 8192)
        var fds: [pollfd] = []
        let cap = effectiveMaxConnections
        // Evictions since the last report line, and when the next one may be written.
        var evictedSinceReport = 0
        var evictedPeers: [PeerKey: Int] = [:]
        var nextReport = ContinuousClock.now

        func setCount() {
            current.store(conns.count, ordering: .relaxed)
            if conns.count > peak.load(ordering: .relaxed) { peak.store(conns.count, ordering: .relaxed) }
        }
        func close(_ c: Connection) {
            Sock.close(c.fd)
            conns[c.fd] = nil
            if let p = peers[c.peer] {
                p.count -= 1
                if p.count <= 0 { peers[c.peer] = nil }
            }
            setCount()
        }
        func stampNow(_ c: Connection) {
            c.stamp = nextStamp
            nextStamp += 1
            guard let p = peers[c.peer] else { return }
            p.queue.append((c.fd, c.stamp))
            // Bound the queue: drop what was consumed, and stale entries when they dominate.
            if p.head > 64 && p.head * 2 > p.queue.count {
                p.queue.removeFirst(p.head)
                p.head = 0
            }
            if p.queue.count > 4 * p.count + 64 {
                p.queue = p.queue[p.head...].filter { conns[$0.fd]?.stamp == $0.stamp }
                p.head = 0
            }
        }
        /// Closes the oldest connection of the peer holding the most (ties: `preferring`'s). At the
        /// cap, a new connection costs the heaviest peer its oldest one: a peer that hoards
        /// connections loses its own first, and a fresh probe always gets a slot.
        func evictOne(preferring: PeerKey?) -> Bool {
            var victim: PeerConnections?
            var victimKey: PeerKey?
            if let preferring, let p = peers[preferring] { victim = p; victimKey = preferring }
            for (key, p) in peers where p.count > (victim?.count ?? 0) {
                victim = p
                victimKey = key
            }
            guard let p = victim, let key = victimKey else { return false }
            while p.head < p.queue.count {
                let (fd, stamp) = p.queue[p.head]
                p.head += 1
                if let c = conns[fd], c.stamp == stamp, c.peer == key {
                    close(c)
                    evicted.add(1, ordering: .relaxed)
                    evictedSinceReport += 1
                    evictedPeers[key, default: 0] += 1
                    return true
                }
            }
            return false
        }
        func report() {
            guard evictedSinceReport > 0, ContinuousClock.now >= nextReport else { return }
            let top = evictedPeers.max { $0.value < $1.value }
            let from = top.map { " (\($0.value) from \($0.key))" } ?? ""
            Platform.writeStderr("http: at the connection limit (\(cap)): closed the \(evictedSinceReport) oldest idle or slow connection\(evictedSinceReport == 1 ? "" : "s")\(from) to serve new ones\n")
            evictedSinceReport = 0
            evictedPeers.removeAll()
            nextReport = .now + .seconds(10)
        }
        func readable(_ c: Connection) {
            switch c.phase {
            case .reading, .draining:
                // At most one request head's worth is buffered per connection: memory stays bounded.
                let room = c.phase == .draining ? chunk.count : max(1, min(chunk.count, limits.maxHeaderBytes + 1 - c.input.count))
                let n = chunk.withUnsafeMutableBytes { Sock.recv(c.fd, UnsafeMutableRawBufferPointer(rebasing: $0[..<room])) }
                if n < 0 {
                    let e = cshim_errno()
                    if e == EINTR || e == EAGAIN || e == EWOULDBLOCK { return }
                    close(c)
                    return
                }
                if n == 0 { close(c); return }
                if c.phase == .draining {
                    c.drained += n
                    if c.drained > 65536 { close(c) }
                    return
                }
                if c.requestStarted == nil { c.requestStarted = .now }
                if c.idle {
                    // A new connection's header clock started at accept; a kept-alive one's starts now.
                    c.idle = false
                    c.deadline = .after(limits.headerTimeout)
                }
                c.input.append(contentsOf: chunk[0..<n])
                advance(c, stopping: stopDeadline != nil, close: close, turnedIdle: stampNow)
            case .writing:
                advance(c, stopping: stopDeadline != nil, close: close, turnedIdle: stampNow)
            }
        }
        func acceptAll() {
            // A bounded batch per turn, so that the connections already open are served too.
            var batch = 0
            var evictedForFiles = false
            while batch < 64 {
                var key = [UInt8](repeating: 0, count: 16)
                var keyLength: Int32 = 0
                let fd = cshim_accept_peer(listenFD, &key, &keyLength)
                if fd < 0 {
                    let e = cshim_errno()
                    if e == EINTR || e == ECONNABORTED { continue }
                    if e == EMFILE || e == ENFILE {
                        // Out of descriptors: free one by closing the oldest connection and try once more;
                        // with nothing to close, stop polling the listener for a while (no busy loop).
                        if !evictedForFiles && evictOne(preferring: nil) { evictedForFiles = true; continue }
                        acceptPausedUntil = .after(.milliseconds(100))
                    } else if e == ENOBUFS || e == ENOMEM {
                        acceptPausedUntil = .after(.milliseconds(100))
                    }
                    return
                }
                batch += 1
                var peer = PeerKey()
                peer.length = keyLength
                for i in 0..<8 { peer.high = peer.high << 8 | UInt64(key[i]) }
                if keyLength == 4 { peer.high >>= 32 }
                if conns.count >= cap && !evictOne(preferring: peer) {
                    Sock.close(fd) // every slot is busy and nothing can be closed (cannot happen with cap >= 1)
                    continue
                }
                Sock.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
                let c = Connection(fd: fd, peer: peer, deadline: .after(limits.headerTimeout))
                conns[fd] = c
                let p = peers[peer] ?? { let n = PeerConnections(); peers[peer] = n; return n }()
                p.count += 1
                stampNow(c)
                setCount()
                // The request usually arrives with the connection: answer it now, before anything
                // accepted later can push this connection out.
                readable(c)
            }
        }

        while true {
            if let stopDeadline, conns.isEmpty || stopDeadline.hasPassed { break }
            fds.removeAll(keepingCapacity: true)
            fds.append(pollfd(fd: wakeReadFD, events: Int16(POLLIN), revents: 0))
            let canAccept = listening && (acceptPausedUntil?.hasPassed ?? true)
            if canAccept { fds.append(pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)) }
            var earliest = stopDeadline ?? Deadline.after(.seconds(3600))
            if let p = acceptPausedUntil, !p.hasPassed { earliest = min(earliest, p) }
            for c in conns.values {
                fds.append(pollfd(fd: c.fd, events: Int16(c.phase == .writing ? POLLOUT : POLLIN), revents: 0))
                earliest = min(earliest, c.deadline)
            }
            let rc = poll(&fds, nfds_t(fds.count), earliest.pollTimeout)
            if rc < 0 && cshim_errno() != EINTR {
                Platform.writeStderr("http: poll: \(Platform.describe(errno: cshim_errno()))\n")
                break
            }

            for p in fds where p.revents != 0 {
                if p.fd == wakeReadFD {
                    while chunk.withUnsafeMutableBytes({ Glibc.read(wakeReadFD, $0.baseAddress, $0.count) }) > 0 {}
                    if stopDeadline == nil {
                        stopDeadline = .after(limits.stopGrace)
                        listening = false
                        Sock.close(listenFD)
                        for c in conns.values where c.phase == .reading { close(c) }
                    }
                } else if p.fd == listenFD {
                    if listening { acceptAll() }
                } else if let c = conns[p.fd] {
                    readable(c)
                }
            }
            // Deadlines: slow headers, idle keep-alive, slow readers, draining.
            for c in conns.values where c.deadline.hasPassed { close(c) }
            report()
        }
        for c in conns.values { Sock.close(c.fd) }
        conns.removeAll()
        peers.removeAll()
        setCount()
        if listening { Sock.close(listenFD) }
    }

    /// Moves a connection forward: parse a buffered request, write, then read the next.
    private func advance(_ c: Connection, stopping: Bool, close: (Connection) -> Void, turnedIdle: (Connection) -> Void) {
        while true {
            switch c.phase {
            case .draining:
                return
            case .reading:
                if c.input.isEmpty { return }
                switch HTTPRequestParser.parse(c.input, maxHeaderBytes: limits.maxHeaderBytes) {
                case .needMore:
                    return
                case .error(let e):
                    let firstLine = c.input.prefix { $0 != 0x0A && $0 != 0x0D }.split(separator: 0x20, maxSplits: 2)
                    let method = firstLine.first.map { String(decoding: $0.prefix(16), as: UTF8.self) } ?? "-"
                    c.input.removeAll()
                    let response = HTTPServerResponse.text(e.status, "\(e.status) \(Self.reasonPhrase(e.status)): \(e.message)\n")
                    let safeMethod = method.utf8.allSatisfy(HTTPHeaders.isTokenByte) ? method : "-"
                    start(c, response, head: false, keepAlive: false, method: safeMethod, target: "-")
                case .complete(let request, let consumed):
                    c.input.removeFirst(consumed)
                    let response: HTTPServerResponse
                    if request.method == "GET" || request.method == "HEAD" {
                        response = handler(request)
                    } else {
                        response = HTTPServerResponse.text(405, "405 Method Not Allowed: only GET and HEAD\n",
                                                           headers: [("Allow", "GET, HEAD")])
                    }
                    let target = request.target.utf8.count > 200 ? String(request.target.prefix(200)) + "…" : request.target
                    start(c, response, head: request.method == "HEAD", keepAlive: request.keepAlive && !stopping,
                          method: request.method, target: target)
                }
            case .writing:
                let done = flush(c)
                if done == nil { close(c); return }
                if done == false { return }
                if var entry = c.log {
                    entry.duration = .now - (c.requestStarted ?? .now)
                    logger?(entry)
                }
                c.log = nil
                c.requestStarted = nil
                c.output = []
                c.written = 0
                if c.closeAfterWrite || stopping {
                    // Half-close, then read and discard what the client still sends (briefly), so the
                    // response is not destroyed by a reset.
                    _ = shutdown(c.fd, Int32(SHUT_WR))
                    c.phase = .draining
                    c.deadline = .after(.milliseconds(500))
                    return
                }
                c.phase = .reading
                if c.input.isEmpty {
                    c.idle = true
                    c.deadline = .after(limits.idleTimeout)
                    turnedIdle(c)
                } else {
                    c.requestStarted = .now
                    c.deadline = .after(limits.headerTimeout)
                }
            }
        }
    }

    private func start(_ c: Connection, _ response: HTTPServerResponse, head: Bool, keepAlive: Bool,
                       method: String, target: String) {
        c.output = Self.serialize(response, head: head, keepAlive: keepAlive)
        c.written = 0
        c.closeAfterWrite = !keepAlive
        c.phase = .writing
        c.deadline = .after(limits.writeTimeout)
        c.log = HTTPAccessLogEntry(method: method, target: target, status: response.status,
                                   bytes: head ? 0 : response.body.count, duration: .zero)
    }

    /// Writes what the socket takes. true: all written; false: more later; nil: failed.
    private func flush(_ c: Connection) -> Bool? {
        while c.written < c.output.count {
            let n = c.output.withUnsafeBytes { Sock.send(c.fd, UnsafeRawBufferPointer(rebasing: $0[c.written...])) }
            if n < 0 {
                let e = cshim_errno()
                if e == EINTR { continue }
                if e == EAGAIN || e == EWOULDBLOCK { return false }
                return nil
            }
            c.written += n
        }
        return true
    }

    /// The bytes of a response. Handler headers with invalid names or values are dropped, as are
    /// Content-Length, Connection and Transfer-Encoding (the server sets those).
    static func serialize(_ r: HTTPServerResponse, head: Bool, keepAlive: Bool) -> [UInt8] {
        // Built as bytes, not by string interpolation: this runs once per request.
        let status = (100...999).contains(r.status) ? r.status : 500
        var out: [UInt8] = []
        out.reserveCapacity(128 + (head ? 0 : r.body.count))
        func append(_ s: String) { out.append(contentsOf: s.utf8) }
        func append(number n: Int) {
            if n >= 10 { append(number: n / 10) }
            out.append(UInt8(48 + n % 10))
        }
        append("HTTP/1.1 ")
        append(number: status)
        out.append(0x20)
        append(reasonPhrase(status))
        append("\r\n")
        for (name, value) in r.headers {
            guard HTTPHeaders.isValidName(name), HTTPHeaders.isValidValue(value) else { continue }
            if HTTPHeaders.isFraming(name) { continue }
            append(name)
            append(": ")
            append(value)
            append("\r\n")
        }
        append("Content-Length: ")
        append(number: r.body.count)
        append(keepAlive ? "\r\nConnection: keep-alive\r\n\r\n" : "\r\nConnection: close\r\n\r\n")
        if !head { out.append(contentsOf: r.body) }
        return out
    }

    public static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 204: return "No Content"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 304: return "Not Modified"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 413: return "Content Too Large"
        case 414: return "URI Too Long"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 503: return "Service Unavailable"
        case 505: return "HTTP Version Not Supported"
        default: return status < 400 ? "OK" : status < 500 ? "Client Error" : "Server Error"
        }
    }
}
