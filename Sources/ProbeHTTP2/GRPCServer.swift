@preconcurrency import Glibc
import CShim
import ProbeHTTP
import ProbeSupport
import Synchronization

/// gRPC status codes (grpc/doc/statuscodes.md).
public enum GRPCStatusCode: Int, Sendable {
    case ok = 0, cancelled = 1, unknown = 2, invalidArgument = 3, deadlineExceeded = 4, notFound = 5
    case alreadyExists = 6, permissionDenied = 7, resourceExhausted = 8, failedPrecondition = 9, aborted = 10
    case outOfRange = 11, unimplemented = 12, `internal` = 13, unavailable = 14, dataLoss = 15, unauthenticated = 16

    public var name: String {
        switch self {
        case .ok: "OK"
        case .cancelled: "CANCELLED"
        case .unknown: "UNKNOWN"
        case .invalidArgument: "INVALID_ARGUMENT"
        case .deadlineExceeded: "DEADLINE_EXCEEDED"
        case .notFound: "NOT_FOUND"
        case .alreadyExists: "ALREADY_EXISTS"
        case .permissionDenied: "PERMISSION_DENIED"
        case .resourceExhausted: "RESOURCE_EXHAUSTED"
        case .failedPrecondition: "FAILED_PRECONDITION"
        case .aborted: "ABORTED"
        case .outOfRange: "OUT_OF_RANGE"
        case .unimplemented: "UNIMPLEMENTED"
        case .internal: "INTERNAL"
        case .unavailable: "UNAVAILABLE"
        case .dataLoss: "DATA_LOSS"
        case .unauthenticated: "UNAUTHENTICATED"
        }
    }
}

/// What a service answers to one call.
public struct GRPCReply: Sendable {
    /// A reply: one message (unary), or a stream whose next message the service gives on each tick.
    public enum Body: Sendable {
        /// One response message, then status OK.
        case message([UInt8])
        /// No message: a trailers-only answer with this status and message.
        case failure(GRPCStatusCode, String)
        /// A server stream: `GRPCService.streamMessage(key:)` now, then whenever it changes; it ends
        /// with UNAVAILABLE when the server stops.
        case stream(key: String)
    }

    public var body: Body
    /// Extra trailing metadata (ASCII names and printable ASCII values; others are dropped).
    public var trailers: [(String, String)]
    /// For the access log (formatted only when there is one): what the call asked about (e.g. the
    /// service name, printed quoted) and what it answered (e.g. `SERVING`).
    public var subject: String?
    public var note: String

    public init(_ body: Body, trailers: [(String, String)] = [], subject: String? = nil, note: String = "") {
        self.body = body
        self.trailers = trailers
        self.subject = subject
        self.note = note
    }
}

/// A gRPC service: answers calls by method path, on the loop thread (must be fast).
public protocol GRPCService: Sendable {
    /// One call: `path` is `/package.Service/Method`, `request` the request message's bytes.
    func call(path: String, request: ArraySlice<UInt8>) -> GRPCReply
    /// The current message of a stream opened by `.stream(key:)`.
    func streamMessage(key: String) -> [UInt8]
}

/// The server's bounds: HTTP/2 limits per connection, pending output, the stream tick.
public struct GRPCServerLimits: Sendable {
    var http2 = HTTP2Limits()
    /// Connections at once. At the limit a new connection evicts the longest-idle one without
    /// streams (so idle connections cannot lock clients out); with none to evict, it is closed.
    public var maxConnections = 1024
    /// A connection with no stream and no byte received for this long gets GOAWAY and is closed.
    public var idleTimeout: Duration = .seconds(300)
    /// Output waiting with no write progress for this long: the connection is closed.
    public var writeTimeout: Duration = .seconds(10)
    /// Past this many unwritten bytes, the connection's input is not read (the peer must read first).
    public var maxPendingOutput = 256 * 1024
    /// How often server streams compare their message with the last one sent.
    public var streamInterval: Duration = .milliseconds(100)
    /// How long `stop()` lets calls in flight finish before closing everything.
    public var stopGrace: Duration = .seconds(1)
    public var backlog: Int32 = 512

    public init() {}
}

/// One access-log entry per finished call.
public struct GRPCAccessLogEntry: Sendable {
    public var path: String
    public var status: GRPCStatusCode
    public var subject: String?
    public var note: String
    public var duration: Duration

    /// `grpc: Check "readyz" SERVING OK 0.05ms`: the method (the path's last part), the subject quoted
    /// (printable ASCII, cut at 100 bytes), the note, the status.
    public var line: String {
        let ms = duration.millisecondsDouble
        let msText = ms < 10 ? Decimal1.format(ms, digits: 2) : String(Int(ms.rounded()))
        var what = GRPCServer.printable(String(path.split(separator: "/").last ?? "-"), limit: 200)
        if let subject { what += " \"" + GRPCServer.printable(subject, limit: 100) + "\"" }
        if !note.isEmpty { what += " " + note }
        return "grpc: \(what) \(status.name) \(msText)ms"
    }
}

/// A small gRPC server over plaintext HTTP/2 with prior knowledge (h2c), as the kubelet's grpc probe
/// and grpc-health-probe speak it: one thread, one poll(2) loop, non-blocking sockets, bounded
/// everything (see HTTP2ServerConnection). Unary calls and server streams whose messages come from
/// the service on each tick; the service runs on the loop thread and must be fast (cached data only).
public final class GRPCServer: @unchecked Sendable {
    /// Gets one entry per finished call (access log).
    public typealias Logger = @Sendable (GRPCAccessLogEntry) -> Void
    public static let stderrLogger: Logger = { Platform.writeStderr($0.line + "\n") }

    public let boundPort: UInt16
    public let boundAddress: String
    public let limits: GRPCServerLimits

    private let service: any GRPCService
    private let logger: Logger?
    private let listenFD: Int32
    private let wakeReadFD: Int32
    private let wakeWriteFD: Int32
    private let doneReadFD: Int32
    private let doneWriteFD: Int32
    private let started = Atomic<Bool>(false)
    private let current = Atomic<Int>(0)
    private let peak = Atomic<Int>(0)

    public var connectionCount: Int { current.load(ordering: .relaxed) }
    public var peakConnectionCount: Int { peak.load(ordering: .relaxed) }

    public init(listen: String, limits: GRPCServerLimits = GRPCServerLimits(), logger: Logger? = GRPCServer.stderrLogger,
                service: any GRPCService) throws(HTTPServerError) {
        self.limits = limits
        self.logger = logger
        self.service = service
        let bound = try TCPListener.bind(listen, backlog: limits.backlog)
        listenFD = bound.fd
        boundPort = bound.port
        boundAddress = bound.address
        var wake: [Int32] = [0, 0], done: [Int32] = [0, 0]
        if cshim_pipe_cloexec(&wake, 1) != 0 || cshim_pipe_cloexec(&done, 1) != 0 {
            _ = Glibc.close(bound.fd)
            throw .setupFailed("pipe: \(Platform.describe(errno: cshim_errno()))")
        }
        wakeReadFD = wake[0]
        wakeWriteFD = wake[1]
        doneReadFD = done[0]
        doneWriteFD = done[1]
        Self.raiseDescriptorLimit(to: limits.maxConnections + 256)
    }

    deinit {
        if !started.load(ordering: .relaxed) { _ = Glibc.close(listenFD) }
        for fd in [wakeReadFD, wakeWriteFD, doneReadFD, doneWriteFD] { _ = Glibc.close(fd) }
    }

    /// Raises the soft RLIMIT_NOFILE (up to the hard limit) so that `maxConnections` fit.
    static func raiseDescriptorLimit(to wanted: Int) {
        var rl = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &rl) == 0, rl.rlim_cur < rlim_t(wanted) else { return }
        rl.rlim_cur = min(rl.rlim_max, rlim_t(wanted))
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &rl)
    }

    /// Asks `run()` to stop (GOAWAY, calls in flight finish, streams end with UNAVAILABLE). Async-signal-safe.
    public func requestStop() {
        var b: UInt8 = 1
        _ = Glibc.write(wakeWriteFD, &b, 1)
    }

    /// Asks the server to stop and waits until `run()` has returned (at most stopGrace + 1 s).
    public func stop() {
        requestStop()
        guard started.load(ordering: .acquiring) else { return }
        var p = pollfd(fd: doneReadFD, events: Int16(POLLIN), revents: 0)
        let deadline = Deadline.after(limits.stopGrace + .seconds(1))
        while !deadline.hasPassed {
            let rc = poll(&p, 1, deadline.pollTimeout)
            if rc > 0 || (rc < 0 && cshim_errno() != EINTR) { break }
        }
    }

    /// Serves until `requestStop()`/`stop()`. Call once, from a thread of its own.
    public func run() {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        loop()
        var b: UInt8 = 1
        _ = Glibc.write(doneWriteFD, &b, 1)
    }

    // MARK: - The loop

    final class Connection {
        let fd: Int32
        let h2: HTTP2ServerConnection
        /// Open server streams: their key and the last message queued.
        var streams: [UInt32: (key: String, last: [UInt8])] = [:]
        var lastActivity: ContinuousClock.Instant
        var lastWrite: ContinuousClock.Instant

        init(fd: Int32, limits: HTTP2Limits, now: ContinuousClock.Instant) {
            self.fd = fd
            h2 = HTTP2ServerConnection(limits: limits, now: now)
            lastActivity = now
            lastWrite = now
        }
    }

    static let responseHeaders = [(":status", "200"), ("content-type", "application/grpc")]
    static let responseHeadersBlock = HPACKEncoder.encodeStatic(responseHeaders)
    static let okTrailersBlock = HPACKEncoder.encodeStatic([("grpc-status", "0")])
    static let methodName = Array(":method".utf8), pathName = Array(":path".utf8), contentTypeName = Array("content-type".utf8)
    static let post = Array("POST".utf8), grpcContentType = Array("application/grpc".utf8)

    private func loop() {
        var conns: [Int32: Connection] = [:]
        var listening = true
        var stopDeadline: ContinuousClock.Instant?
        var acceptPausedUntil: ContinuousClock.Instant?
        var chunk = [UInt8](repeating: 0, count: 16384)
        var fds: [pollfd] = []
        // The connection each pollfd was built for: a descriptor closed and reused by accept in the
        // same round must not get the old connection's events.
        var polled: [Connection?] = []
        var nextTick = ContinuousClock.now + limits.streamInterval

        func setCount() {
            current.store(conns.count, ordering: .relaxed)
            if conns.count > peak.load(ordering: .relaxed) { peak.store(conns.count, ordering: .relaxed) }
        }
        func close(_ c: Connection) {
            _ = Glibc.close(c.fd)
            conns[c.fd] = nil
            setCount()
        }
        /// Writes what the socket takes; closes the connection when it is done or broken.
        func flush(_ c: Connection, _ now: ContinuousClock.Instant) {
            while c.h2.pendingOutput > 0 {
                let n = c.h2.output.withUnsafeBytes { b in
                    Glibc.send(c.fd, b.baseAddress! + c.h2.outputStart, c.h2.pendingOutput, Int32(MSG_NOSIGNAL))
                }
                if n < 0 {
                    let e = cshim_errno()
                    if e == EINTR { continue }
                    if e == EAGAIN || e == EWOULDBLOCK { return }
                    close(c)
                    return
                }
                c.h2.consumed(n)
                c.lastWrite = now
            }
            if c.h2.wantsClose { close(c) }
        }
        func beginStop(_ now: ContinuousClock.Instant) {
            guard stopDeadline == nil else { return }
            stopDeadline = now + limits.stopGrace
            if listening {
                listening = false
                _ = Glibc.close(listenFD)
            }
            for c in Array(conns.values) {
                if !c.h2.established { close(c); continue }
                for id in c.streams.keys.sorted() {
                    endStream(c, id, .unavailable, "the server is shutting down")
                }
                c.streams.removeAll()
                c.h2.goAway()
                flush(c, now)
            }
        }

        /// Takes every pending connection. At the limit, a new one evicts the longest-idle connection
        /// without streams; with none to evict, the new one is closed.
        func acceptAll(_ now: ContinuousClock.Instant) {
            while true {
                let fd = cshim_accept_cloexec(listenFD)
                if fd < 0 {
                    let e = cshim_errno()
                    if e == EINTR || e == ECONNABORTED { continue }
                    if e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM { acceptPausedUntil = now + .milliseconds(100) }
                    return
                }
                if conns.count >= limits.maxConnections {
                    let victim = conns.values.filter { $0.h2.streamCount == 0 && $0.streams.isEmpty }
                        .min { $0.lastActivity < $1.lastActivity }
                    guard let victim else {
                        _ = Glibc.close(fd)
                        continue
                    }
                    close(victim)
                }
                TCPListener.setNoDelay(fd)
                let c = Connection(fd: fd, limits: limits.http2, now: now)
                conns[fd] = c
                flush(c, now)   // the server preface (SETTINGS) goes out at once
            }
        }

        /// One connection's poll events: write, then read one chunk (one per round: fair to the others).
        func serve(_ c: Connection, _ revents: Int16) {
            let now = ContinuousClock.now
            if revents & Int16(POLLOUT) != 0 { flush(c, now) }
            guard conns[c.fd] === c, revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 else { return }
            guard c.h2.acceptsInput else {
                if revents & Int16(POLLIN) == 0 { close(c) }
                return
            }
            let n = chunk.withUnsafeMutableBytes { Glibc.recv(c.fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                let e = cshim_errno()
                if e != EINTR && e != EAGAIN && e != EWOULDBLOCK { close(c) }
                return
            }
            if n == 0 { close(c); return }
            c.lastActivity = now
            let events = chunk.withUnsafeBytes { c.h2.receive(UnsafeRawBufferPointer(rebasing: $0[0..<n]), now: now) }
            for e in events { handle(c, e, stopping: stopDeadline != nil) }
            flush(c, now)
        }

        while true {
            var now = ContinuousClock.now
            if let stopDeadline, conns.isEmpty || now >= stopDeadline { break }
            fds.removeAll(keepingCapacity: true)
            polled.removeAll(keepingCapacity: true)
            fds.append(pollfd(fd: wakeReadFD, events: Int16(POLLIN), revents: 0))
            polled.append(nil)
            if listening && (acceptPausedUntil.map { now >= $0 } ?? true) {
                fds.append(pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0))
                polled.append(nil)
            }
            for c in conns.values {
                var events: Int16 = 0
                if c.h2.acceptsInput && c.h2.pendingOutput < limits.maxPendingOutput { events |= Int16(POLLIN) }
                if c.h2.pendingOutput > 0 { events |= Int16(POLLOUT) }
                fds.append(pollfd(fd: c.fd, events: events, revents: 0))
                polled.append(c)
            }
            var wakeAt = nextTick
            if let stopDeadline { wakeAt = min(wakeAt, stopDeadline) }
            if let p = acceptPausedUntil, p > now { wakeAt = min(wakeAt, p) }
            let rc = poll(&fds, nfds_t(fds.count), Deadline(wakeAt).pollTimeout)
            if rc < 0 && cshim_errno() != EINTR {
                Platform.writeStderr("grpc: poll: \(Platform.describe(errno: cshim_errno()))\n")
                break
            }
            now = ContinuousClock.now
            for (i, p) in fds.enumerated() where p.revents != 0 {
                if let c = polled[i] {
                    guard conns[p.fd] === c else { continue }   // closed (and maybe its descriptor reused) this round
                    serve(c, p.revents)
                } else if p.fd == wakeReadFD {
                    while chunk.withUnsafeMutableBytes({ Glibc.read(wakeReadFD, $0.baseAddress, $0.count) }) > 0 {}
                    beginStop(now)
                } else if p.fd == listenFD {
                    guard listening else { continue }
                    acceptAll(now)
                    setCount()
                }
            }
            if now >= nextTick {
                nextTick = now + limits.streamInterval
                tick(conns, now: now, stopping: stopDeadline != nil, flush: flush, close: close)
            }
        }
        for c in conns.values { _ = Glibc.close(c.fd) }
        conns.removeAll()
        setCount()
        if listening { _ = Glibc.close(listenFD) }
    }

    /// Server streams, request deadlines, idle and stalled connections.
    private func tick(_ conns: [Int32: Connection], now: ContinuousClock.Instant, stopping: Bool,
                      flush: (Connection, ContinuousClock.Instant) -> Void, close: (Connection) -> Void) {
        var messages: [String: [UInt8]] = [:]
        for c in conns.values {
            c.h2.tick(now: now)
            for (id, s) in c.streams {
                guard c.h2.isOpen(id) else { c.streams[id] = nil; continue }
                // A message still waiting for window is not stacked on: the newest goes once it left.
                guard c.h2.queuedCount(id) == 0 else { continue }
                let m: [UInt8]
                if let known = messages[s.key] { m = known } else {
                    m = service.streamMessage(key: s.key)
                    messages[s.key] = m
                }
                if m != s.last {
                    c.h2.sendData(id, Self.frame(m), endStream: false)
                    c.streams[id] = (s.key, m)
                }
            }
            if c.h2.pendingOutput > 0 && now - c.lastWrite > limits.writeTimeout {
                close(c)
                continue
            }
            if !stopping && c.streams.isEmpty && c.h2.streamCount == 0 && now - c.lastActivity > limits.idleTimeout {
                c.h2.goAway(debug: "idle")
            }
            flush(c, now)
        }
    }

    // MARK: - Calls

    private func handle(_ c: Connection, _ event: HTTP2ServerConnection.Event, stopping: Bool) {
        let started = ContinuousClock.now
        switch event {
        case .bodyTooLarge(let id, let headers):
            let path = headers.first { $0.name == Array(":path".utf8) }?.valueText ?? "-"
            let message = "request message larger than \(limits.http2.maxRequestBody - 5) bytes"
            finish(c, id, .resourceExhausted, message, trailers: [])
            log(path, .resourceExhausted, nil, "", started)
        case .request(let id, let headers, let body):
            var method: [UInt8] = [], pathBytes: [UInt8] = [], contentType: [UInt8] = []
            for f in headers {
                if f.name == Self.pathName { pathBytes = f.value }
                else if f.name == Self.methodName { method = f.value }
                else if f.name == Self.contentTypeName { contentType = f.value }
            }
            guard method == Self.post else {
                c.h2.sendHeaders(id, [(":status", "405"), ("allow", "POST")], endStream: true)
                return
            }
            // application/grpc, or application/grpc+proto, application/grpc;...
            guard contentType.starts(with: Self.grpcContentType),
                  contentType.count == Self.grpcContentType.count || contentType[Self.grpcContentType.count] == 0x2b
                    || contentType[Self.grpcContentType.count] == 0x3b else {
                c.h2.sendHeaders(id, [(":status", "415")], endStream: true)
                return
            }
            let path = String(decoding: pathBytes, as: UTF8.self)
            // Exactly one length-prefixed message (unary and server-streaming requests).
            guard body.count >= 5 else {
                finish(c, id, .internal, "expected one request message", trailers: [])
                log(path, .internal, nil, "", started)
                return
            }
            let length = Int(body[1]) << 24 | Int(body[2]) << 16 | Int(body[3]) << 8 | Int(body[4])
            guard body.count - 5 == length else {
                finish(c, id, .internal, "expected one request message of \(length) bytes, got \(body.count - 5)", trailers: [])
                log(path, .internal, nil, "", started)
                return
            }
            guard body[0] == 0 else {
                finish(c, id, .unimplemented, "compressed messages are not supported", trailers: [])
                log(path, .unimplemented, nil, "", started)
                return
            }
            let reply = service.call(path: path, request: body[5...])
            let trailers = reply.trailers.filter { Self.validMetadata($0.0, $0.1) }
            switch reply.body {
            case .message(let m):
                c.h2.sendHeaders(id, encoded: Self.responseHeadersBlock, endStream: false)
                c.h2.sendData(id, Self.frame(m), endStream: false)
                let block = trailers.isEmpty ? Self.okTrailersBlock : Self.okTrailersBlock + HPACKEncoder.encodeStatic(trailers)
                c.h2.sendHeaders(id, encoded: block, endStream: true)
                log(path, .ok, reply.subject, reply.note, started)
            case .failure(let code, let message):
                finish(c, id, code, message, trailers: trailers)
                log(path, code, reply.subject, reply.note, started)
            case .stream(let key):
                if stopping {
                    finish(c, id, .unavailable, "the server is shutting down", trailers: [])
                    log(path, .unavailable, reply.subject, reply.note, started)
                    return
                }
                let m = service.streamMessage(key: key)
                c.h2.sendHeaders(id, encoded: Self.responseHeadersBlock, endStream: false)
                c.h2.sendData(id, Self.frame(m), endStream: false)
                if c.h2.isOpen(id) { c.streams[id] = (key, m) }
                log(path, .ok, reply.subject, reply.note.isEmpty ? "(stream)" : reply.note + " (stream)", started)
            }
        }
    }

    /// A trailers-only answer.
    private func finish(_ c: Connection, _ id: UInt32, _ code: GRPCStatusCode, _ message: String, trailers: [(String, String)]) {
        var fields = Self.responseHeaders
        fields.append(("grpc-status", String(code.rawValue)))
        if !message.isEmpty { fields.append(("grpc-message", Self.percentEncode(message))) }
        c.h2.sendHeaders(id, fields + trailers, endStream: true)
    }

    /// Ends an open server stream with trailers.
    private func endStream(_ c: Connection, _ id: UInt32, _ code: GRPCStatusCode, _ message: String) {
        guard c.h2.isOpen(id) else { return }
        c.h2.sendHeaders(id, [("grpc-status", String(code.rawValue)), ("grpc-message", Self.percentEncode(message))], endStream: true)
    }

    private func log(_ path: String, _ status: GRPCStatusCode, _ subject: String?, _ note: String, _ started: ContinuousClock.Instant) {
        guard let logger else { return }
        logger(GRPCAccessLogEntry(path: path, status: status, subject: subject, note: note, duration: .now - started))
    }

    /// Printable ASCII (log lines, metadata values): other bytes become `?`, cut at `limit` bytes.
    public static func printable(_ s: String, limit: Int) -> String {
        var out = ""
        for b in s.utf8.prefix(limit) {
            out.unicodeScalars.append(Unicode.Scalar(b >= 0x20 && b <= 0x7e ? b : UInt8(ascii: "?")))
        }
        return s.utf8.count > limit ? out + "..." : out
    }

    /// The 5-byte prefix (uncompressed, big-endian length) and the message.
    static func frame(_ m: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0, UInt8(truncatingIfNeeded: m.count >> 24), UInt8(truncatingIfNeeded: m.count >> 16),
                            UInt8(truncatingIfNeeded: m.count >> 8), UInt8(truncatingIfNeeded: m.count)]
        out.append(contentsOf: m)
        return out
    }

    /// grpc-message: percent-encodes bytes outside printable ASCII, and `%`.
    public static func percentEncode(_ s: String) -> String {
        var out = ""
        let hex = Array("0123456789ABCDEF".utf8)
        for b in s.utf8 {
            if b >= 0x20 && b <= 0x7e && b != 0x25 {
                out.unicodeScalars.append(Unicode.Scalar(b))
            } else {
                out.unicodeScalars.append(Unicode.Scalar(UInt8(ascii: "%")))
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(b >> 4)]))
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(b & 15)]))
            }
        }
        return out
    }

    /// Custom metadata: lowercase token names (not `grpc-`, not pseudo), printable ASCII values.
    static func validMetadata(_ name: String, _ value: String) -> Bool {
        !name.isEmpty && !name.hasPrefix("grpc-") && !name.hasSuffix("-bin")
            && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d || $0 == 0x5f || $0 == 0x2e }
            && value.utf8.allSatisfy { $0 >= 0x20 && $0 <= 0x7e }
    }
}
