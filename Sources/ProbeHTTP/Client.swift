@preconcurrency import Glibc
import CShim
import ProbeSupport

/// Where to connect.
public enum HTTPEndpoint: Sendable, Equatable, CustomStringConvertible {
    case unix(path: String)
    case tcp(host: String, port: UInt16)

    /// `unix:///run/supervisor.sock` or `http://127.0.0.1:9001` (as supervisorctl's serverurl).
    public var description: String {
        switch self {
        case .unix(let path): return "unix://" + path
        case .tcp(let host, let port): return "http://\(Self.hostPort(host, port))"
        }
    }

    /// The Host header value: `localhost` for unix sockets, `host:port` (IPv6 in brackets) for TCP.
    public var hostHeader: String {
        switch self {
        case .unix: return "localhost"
        case .tcp(let host, let port): return Self.hostPort(host, port)
        }
    }

    static func hostPort(_ host: String, _ port: UInt16) -> String {
        host.contains(":") && !host.hasPrefix("[") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// One request: method, path, headers and body; `Host` comes from the endpoint.
public struct HTTPClientRequest: Sendable {
    public var method: String
    public var target: String
    /// Extra headers. `Host`, `Content-Length` and `Connection` are added unless given here
    /// (Content-Length and Connection given here are replaced by the client's own).
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(method: String = "GET", target: String = "/", headers: [(String, String)] = [], body: [UInt8] = []) {
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
    }

    /// The exact bytes sent for this request to `endpoint`.
    public func serialized(for endpoint: HTTPEndpoint) throws(HTTPClientError) -> [UInt8] {
        guard !method.isEmpty, method.utf8.allSatisfy(HTTPHeaders.isTokenByte) else {
            throw .io("refusing to send a request with an invalid method \(HeadParser.excerpt(Array(method.utf8)))")
        }
        guard !target.isEmpty, target.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw .io("refusing to send a request with an invalid target \(HeadParser.excerpt(Array(target.utf8)))")
        }
        var lines = ""
        var hasHost = false
        for (name, value) in headers {
            guard HTTPHeaders.isValidName(name), HTTPHeaders.isValidValue(value) else {
                throw .io("refusing to send header \(HeadParser.excerpt(Array(name.utf8))): invalid name or a control character (CR/LF) in its value")
            }
            if HTTPHeaders.isFraming(name) { continue }
            if HTTPHeaders.equalsIgnoringASCIICase(name, "Host") { hasHost = true }
            lines += "\(name): \(value)\r\n"
        }
        var head = "\(method) \(target) HTTP/1.1\r\n"
        if !hasHost { head += "Host: \(endpoint.hostHeader)\r\n" }
        head += lines
        head += "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        return Array(head.utf8) + body
    }
}

/// Why a request got no HTTP response (connect, send, receive, limits, deadline).
public enum HTTPClientError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Nothing at the socket path (ENOENT).
    case noSuchSocket(path: String)
    /// ECONNREFUSED: a stale unix socket file, or nothing listening on the port.
    case connectionRefused(endpoint: String)
    /// EACCES/EPERM on connect.
    case permissionDenied(path: String)
    case connectFailed(endpoint: String, errno: Int32)
    /// The deadline passed; phase is "connect", "send", "waiting for the reply" or "reading the reply".
    case timedOut(phase: String)
    /// The peer closed the connection before a complete response.
    case closedEarly(receivedBytes: Int)
    /// The reply is not valid HTTP (or uses something unsupported, like chunked encoding).
    case malformed(String)
    /// The reply is larger than the limit (bytes).
    case tooLarge(limit: Int)
    case io(String)

    public var description: String {
        switch self {
        case .noSuchSocket(let path):
            return "no socket at \(path) (is supervisord running?)"
        case .connectionRefused(let endpoint):
            if endpoint.hasPrefix("unix://") {
                return "connection refused at \(endpoint) (stale socket: supervisord is not running)"
            }
            return "connection refused at \(endpoint) (nothing is listening there)"
        case .permissionDenied(let path):
            return "permission denied connecting to \(path) (check the socket's owner and mode, or run as that user)"
        case .connectFailed(let endpoint, let errno):
            if errno == ENAMETOOLONG {
                return "cannot connect to \(endpoint): the socket path is longer than the 107 bytes a unix socket allows"
            }
            return "cannot connect to \(endpoint): \(Platform.describe(errno: errno))"
        case .timedOut(let phase):
            return "timed out (\(phase))"
        case .closedEarly(let n):
            return n == 0 ? "the server closed the connection without replying"
                          : "the server closed the connection after \(n) bytes, before the reply was complete"
        case .malformed(let what):
            return "malformed reply: \(what)"
        case .tooLarge(let limit):
            return "the reply is larger than the \(limit)-byte limit"
        case .io(let what):
            return what
        }
    }
}

/// A blocking HTTP/1.1 client for one request per connection, over a unix socket or TCP.
/// One deadline covers connect, send and receive.
public enum HTTPClient {
    /// Sends one request (with `Connection: close`) and reads one response, all before `deadline`.
    /// The body is bounded by `maxResponseBytes`; the head by 64 KiB (or maxResponseBytes if smaller).
    /// Note: name resolution (getaddrinfo) for TCP host names cannot be interrupted; literal
    /// addresses and `localhost` (from /etc/hosts) resolve at once.
    public static func send(_ request: HTTPClientRequest, to endpoint: HTTPEndpoint, deadline: Deadline,
                            maxResponseBytes: Int = 4 << 20) throws(HTTPClientError) -> HTTPResponse {
        let bytes = try request.serialized(for: endpoint)
        let fd = try connect(endpoint, deadline: deadline)
        defer { Sock.close(fd) }
        let sendError = try sendAll(fd, bytes, deadline: deadline)
        return try receive(fd, method: request.method, deadline: deadline, maxBodyBytes: maxResponseBytes,
                           sendError: sendError)
    }

    // MARK: connect

    static func connect(_ endpoint: HTTPEndpoint, deadline: Deadline) throws(HTTPClientError) -> Int32 {
        switch endpoint {
        case .unix(let path):
            if path.utf8.count > 107 { throw .connectFailed(endpoint: endpoint.description, errno: ENAMETOOLONG) }
            if path.isEmpty { throw .noSuchSocket(path: "\"\"") }
            let fd = cshim_socket_cloexec(AF_UNIX, Sock.streamType)
            if fd < 0 { throw .io("socket: \(Platform.describe(errno: cshim_errno()))") }
            guard Sock.setNonBlocking(fd) else {
                Sock.close(fd)
                throw .io("fcntl O_NONBLOCK: \(Platform.describe(errno: cshim_errno()))")
            }
            while true {
                if cshim_connect_unix(fd, path) == 0 { return fd }
                let e = cshim_errno()
                switch e {
                case EINTR: continue
                case EINPROGRESS:
                    return try finishConnect(fd, endpoint: endpoint, path: path, deadline: deadline)
                case EAGAIN:
                    // The listener's backlog is full: retry until the deadline.
                    if deadline.hasPassed { Sock.close(fd); throw .timedOut(phase: "connect") }
                    Platform.sleep(milliseconds: min(10, Int(deadline.pollTimeout)))
                    continue
                default:
                    Sock.close(fd)
                    throw connectError(e, endpoint: endpoint, path: path)
                }
            }
        case .tcp(let host, let port):
            let h = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
            let addresses: [Sock.Address]
            switch Sock.resolve(host: h, port: port, passive: false) {
            case .failure(let why): throw .connectFailed(endpoint: endpoint.description + " (\(why.message))", errno: EHOSTUNREACH)
            case .success(let a): addresses = a
            }
            var lastError: HTTPClientError = .connectFailed(endpoint: endpoint.description, errno: EHOSTUNREACH)
            for address in addresses {
                if deadline.hasPassed { throw .timedOut(phase: "connect") }
                let fd = cshim_socket_cloexec(address.family, Sock.streamType)
                if fd < 0 { throw .io("socket: \(Platform.describe(errno: cshim_errno()))") }
                guard Sock.setNonBlocking(fd) else {
                    Sock.close(fd)
                    throw .io("fcntl O_NONBLOCK: \(Platform.describe(errno: cshim_errno()))")
                }
                Sock.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
                var rc = Sock.connect(fd, address)
                while rc != 0 && cshim_errno() == EINTR { rc = Sock.connect(fd, address) }
                if rc == 0 { return fd }
                let e = cshim_errno()
                do throws(HTTPClientError) {
                    if e == EINPROGRESS {
                        return try finishConnect(fd, endpoint: endpoint, path: nil, deadline: deadline)
                    }
                    Sock.close(fd)
                    throw connectError(e, endpoint: endpoint, path: nil)
                } catch {
                    if case .timedOut = error { throw error }
                    lastError = error
                }
            }
            throw lastError
        }
    }

    /// Waits for a non-blocking connect; closes fd on failure.
    static func finishConnect(_ fd: Int32, endpoint: HTTPEndpoint, path: String?, deadline: Deadline) throws(HTTPClientError) -> Int32 {
        let revents = Sock.wait(fd, events: Int16(POLLOUT), deadline: deadline)
        if revents == 0 {
            Sock.close(fd)
            throw .timedOut(phase: "connect")
        }
        let err = Sock.socketError(fd)
        if err != 0 {
            Sock.close(fd)
            throw connectError(err, endpoint: endpoint, path: path)
        }
        return fd
    }

    static func connectError(_ e: Int32, endpoint: HTTPEndpoint, path: String?) -> HTTPClientError {
        switch e {
        case ENOENT where path != nil: return .noSuchSocket(path: path!)
        case ECONNREFUSED: return .connectionRefused(endpoint: endpoint.description)
        case EACCES, EPERM: return .permissionDenied(path: path ?? endpoint.description)
        case ETIMEDOUT: return .timedOut(phase: "connect")
        default: return .connectFailed(endpoint: endpoint.description, errno: e)
        }
    }

    // MARK: send / receive

    /// Sends everything. Returns an error text if the peer stopped reading (EPIPE/ECONNRESET):
    /// the reply may still be waiting to be read (a server may answer 401 without reading the body).
    static func sendAll(_ fd: Int32, _ bytes: [UInt8], deadline: Deadline) throws(HTTPClientError) -> String? {
        var offset = 0
        var failure: String?
        var timedOut = false
        bytes.withUnsafeBytes { raw in
            while offset < raw.count {
                let n = Sock.send(fd, UnsafeRawBufferPointer(rebasing: raw[offset...]))
                if n >= 0 { offset += n; continue }
                let e = cshim_errno()
                if e == EINTR { continue }
                if e == EAGAIN || e == EWOULDBLOCK {
                    let r = Sock.wait(fd, events: Int16(POLLOUT), deadline: deadline)
                    if r == 0 { timedOut = true; return }
                    continue
                }
                failure = "send: \(Platform.describe(errno: e))"
                return
            }
        }
        if timedOut { throw .timedOut(phase: "send") }
        return failure
    }

    static func receive(_ fd: Int32, method: String, deadline: Deadline, maxBodyBytes: Int,
                        sendError: String?) throws(HTTPClientError) -> HTTPResponse {
        var reader = ReplyReader(method: method, maxBodyBytes: maxBodyBytes, sendError: sendError)
        while true {
            if let response = try reader.parse() { return response }
            let revents = Sock.wait(fd, events: Int16(POLLIN), deadline: deadline)
            if revents == 0 { throw reader.timedOut }
            _ = try reader.read(fd)
        }
    }
}

/// The reading half of one exchange: what has arrived, and the reply once it is complete. Shared
/// by the blocking `HTTPClient.send` and `HTTPPendingReply` (a caller's own poll loop).
struct ReplyReader {
    let method: String
    let maxHead: Int
    let maxBodyBytes: Int
    let sendError: String?
    var buffer: [UInt8] = []
    var atEOF = false
    private var chunk: [UInt8] = []

    init(method: String, maxBodyBytes: Int, sendError: String?) {
        self.method = method
        self.maxHead = min(64 << 10, max(maxBodyBytes, 1024))
        self.maxBodyBytes = maxBodyBytes
        self.sendError = sendError
    }

    /// What the deadline means at this point of the exchange.
    var timedOut: HTTPClientError {
        .timedOut(phase: buffer.isEmpty ? "waiting for the reply" : "reading the reply")
    }

    /// The response if what has arrived holds one (interim 1xx responses are skipped), nil while
    /// more is needed; an error for a reply that cannot become valid.
    mutating func parse() throws(HTTPClientError) -> HTTPResponse? {
        while !buffer.isEmpty || atEOF {
            switch HTTPResponseParser.parse(buffer, maxHeaderBytes: maxHead, maxBodyBytes: maxBodyBytes,
                                            atEOF: atEOF, requestMethod: method) {
            case .complete(let response, let consumed):
                if response.status >= 100 && response.status < 200 {
                    // An interim response (100 Continue): the real one follows.
                    buffer.removeFirst(consumed)
                    continue
                }
                return response
            case .error(let e):
                if atEOF && buffer.isEmpty {
                    if let sendError { throw .io("\(sendError) (the server closed the connection)") }
                    throw .closedEarly(receivedBytes: 0)
                }
                switch e.kind {
                case .tooLarge(let limit): throw .tooLarge(limit: limit)
                case .malformed where atEOF: throw .closedEarly(receivedBytes: buffer.count)
                default: throw .malformed(e.message)
                }
            case .needMore:
                if atEOF { throw .closedEarly(receivedBytes: buffer.count) }
                return nil
            }
        }
        return nil
    }

    /// One `recv`; false when nothing was there (EAGAIN, EINTR). 16 KiB at a time: a multicall's
    /// reply fits, and a larger one takes a few more calls instead of a 64 KiB buffer's page faults.
    mutating func read(_ fd: Int32) throws(HTTPClientError) -> Bool {
        if chunk.isEmpty { chunk = [UInt8](repeating: 0, count: 16 << 10) }
        let n = chunk.withUnsafeMutableBytes { Sock.recv(fd, $0) }
        if n > 0 {
            buffer.append(contentsOf: chunk[0..<n])
            return true
        }
        if n == 0 { atEOF = true; return true }
        let e = cshim_errno()
        if e == EINTR || e == EAGAIN || e == EWOULDBLOCK { return false }
        if e == ECONNRESET {
            if buffer.isEmpty, let sendError { throw .io("\(sendError); then the connection was reset") }
            throw .io("connection reset by the server after \(buffer.count) bytes of the reply")
        }
        throw .io("recv: \(Platform.describe(errno: e))")
    }
}

/// One request whose reply is read without blocking, for a caller that waits in its own poll loop
/// (the executor's, so that a run's supervisord call needs no thread): `begin` connects and sends
/// (a request of a few KiB goes at once on a unix socket; a full socket buffer is waited for,
/// under the deadline); the caller polls `fd` for POLLIN and calls `receive()` until it returns
/// the response, and gives up with `timedOut` at its deadline. The same bounds, errors and texts
/// as `HTTPClient.send`. Closes its socket when done, on an error, or when released.
public final class HTTPPendingReply {
    /// The socket to poll for POLLIN; -1 once closed.
    public private(set) var fd: Int32
    private var reader: ReplyReader

    private init(fd: Int32, reader: ReplyReader) {
        self.fd = fd
        self.reader = reader
    }

    deinit { close() }

    public static func begin(_ request: HTTPClientRequest, to endpoint: HTTPEndpoint, deadline: Deadline,
                             maxResponseBytes: Int = 4 << 20) throws(HTTPClientError) -> HTTPPendingReply {
        let bytes = try request.serialized(for: endpoint)
        let fd = try HTTPClient.connect(endpoint, deadline: deadline)
        let sendError: String?
        do {
            sendError = try HTTPClient.sendAll(fd, bytes, deadline: deadline)
        } catch {
            Sock.close(fd)
            throw error
        }
        return HTTPPendingReply(fd: fd, reader: ReplyReader(method: request.method, maxBodyBytes: maxResponseBytes, sendError: sendError))
    }

    /// Reads what has arrived, never blocking: the response once it is complete, nil while more
    /// is needed. After a response or an error the socket is closed.
    public func receive() throws(HTTPClientError) -> HTTPResponse? {
        guard fd >= 0 else { throw .io("the reply was already read") }
        do {
            while true {
                if let response = try reader.parse() {
                    close()
                    return response
                }
                guard try reader.read(fd) else { return nil }
            }
        } catch {
            close()
            throw error
        }
    }

    /// The error for a reply that did not come by the deadline (as `send` says it).
    public var timedOut: HTTPClientError { reader.timedOut }

    public func close() {
        if fd >= 0 { Sock.close(fd) }
        fd = -1
    }
}
