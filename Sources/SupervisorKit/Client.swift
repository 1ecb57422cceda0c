// An XML-RPC client for supervisord: one HTTP round trip per call, over a unix socket or TCP.
import ProbeHTTP
import ProbeSupport

/// Where supervisord listens, as supervisorctl's `serverurl` says it.
public enum SupervisorServerURL: Sendable, Equatable, CustomStringConvertible {
    case unix(path: String)
    case http(host: String, port: Int)

    /// Accepts `unix:///path`, `http://host:port` and `http://host` (port 80). A path after the
    /// host (`http://host:9001/RPC2`) is ignored, as supervisorctl ignores it; everything else is refused.
    public init(parsing text: String) throws(SupervisorError) {
        let s = text.trimmingASCIIWhitespace()
        func bad(_ reason: String) -> SupervisorError { .invalidServerURL(url: text, reason: reason) }
        if s.hasPrefix("unix://") {
            let path = String(s.dropFirst(7))
            guard !path.isEmpty else { throw bad("no socket path after unix://") }
            guard path.utf8.count <= 107 else { throw bad("the socket path is longer than the 107 bytes a unix socket allows") }
            guard !path.unicodeScalars.contains(where: { $0.value < 0x20 }) else { throw bad("control character in the path") }
            self = .unix(path: path)
            return
        }
        guard s.hasPrefix("http://") else {
            if s.hasPrefix("https://") { throw bad("https is not supported (supervisord serves plain HTTP)") }
            throw bad("expected unix:///path/to/socket or http://host:port")
        }
        var rest = Substring(s.dropFirst(7))
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        guard !rest.contains("@") else { throw bad("credentials in the URL are not supported; set username and password") }
        var host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw bad("unterminated [IPv6 address]") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw bad("unexpected text after ]") }
                portText = after.dropFirst()
            }
        } else if let colon = rest.firstIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
        }
        guard !host.isEmpty else { throw bad("no host") }
        guard host.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else { throw bad("invalid character in the host") }
        var port = 80
        if let portText {
            guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let p = Int(portText), (1...65535).contains(p) else {
                throw bad("port \"\(portText)\" is not a number from 1 to 65535")
            }
            port = p
        }
        self = .http(host: String(host), port: port)
    }

    public var description: String {
        switch self {
        case .unix(let path): "unix://" + path
        case .http(let host, let port): host.contains(":") ? "http://[\(host)]:\(port)" : "http://\(host):\(port)"
        }
    }

    public var endpoint: HTTPEndpoint {
        switch self {
        case .unix(let path): .unix(path: path)
        case .http(let host, let port): .tcp(host: host, port: UInt16(port))
        }
    }
}

/// A supervisord XML-RPC client. Each call opens a connection, sends one request and reads one reply
/// (as supervisorctl does); nothing is kept between calls, so the value is freely shareable.
public struct SupervisorClient: Sendable {
    public var url: SupervisorServerURL
    public var username: String?
    public var password: String?
    /// The largest reply accepted (getAllProcessInfo is about 1.3 KiB per process).
    public var maxReplyBytes: Int

    public init(url: SupervisorServerURL, username: String? = nil, password: String? = nil, maxReplyBytes: Int = 8 << 20) {
        self.url = url
        self.username = username
        self.password = password
        self.maxReplyBytes = maxReplyBytes
    }

    public init(location: SupervisorLocation, maxReplyBytes: Int = 8 << 20) {
        self.init(url: location.url, username: location.username, password: location.password, maxReplyBytes: maxReplyBytes)
    }

    /// The request sent for a call (for tests and debugging).
    public func request(method: String, params: [XMLRPCValue]) -> HTTPClientRequest {
        var headers: [(String, String)] = [("Content-Type", "text/xml")]
        if let username, !username.isEmpty {
            headers.append(("Authorization", HTTPCodec.basicAuthorization(user: username, password: password ?? "")))
        }
        return HTTPClientRequest(method: "POST", target: "/RPC2", headers: headers,
                                 body: XMLRPC.encodeCall(method: method, params: params))
    }

    /// Calls `method` and returns its value; a fault is thrown (SHUTDOWN_STATE as `.shuttingDown`).
    public func call(method: String, params: [XMLRPCValue] = [], deadline: Deadline) throws(SupervisorError) -> XMLRPCValue {
        let response: HTTPResponse
        do {
            response = try HTTPClient.send(request(method: method, params: params), to: url.endpoint,
                                           deadline: deadline, maxResponseBytes: maxReplyBytes)
        } catch {
            throw map(error)
        }
        return try SupervisorClient.interpret(response, url: url, username: username)
    }

    /// Turns an HTTP reply into the call's value or a `SupervisorError`.
    public static func interpret(_ response: HTTPResponse, url: SupervisorServerURL, username: String?) throws(SupervisorError) -> XMLRPCValue {
        switch response.status {
        case 200:
            break
        case 401:
            if let username, !username.isEmpty {
                throw .authenticationFailed(endpoint: url.description, username: username)
            }
            throw .authenticationRequired(endpoint: url.description)
        default:
            throw .httpStatus(code: response.status, reason: response.reason)
        }
        let parsed: XMLRPCResponse
        do {
            parsed = try XMLRPC.parseResponse(response.body)
        } catch {
            let type = response.header("Content-Type").map { " (Content-Type \($0))" } ?? ""
            throw .malformedReply(error.description + type)
        }
        switch parsed {
        case .value(let v): return v
        case .fault(let code, let string): throw SupervisorError.fromFault(code: code, string: string)
        }
    }

    func map(_ error: HTTPClientError) -> SupervisorError {
        switch error {
        case .noSuchSocket(let path): .noSocket(path: path)
        case .connectionRefused: .connectionRefused(endpoint: url.description)
        case .permissionDenied: .permissionDenied(endpoint: url.description)
        case .connectFailed(let endpoint, let errno):
            .connectFailed(endpoint: endpoint, reason: Platform.describe(errno: errno))
        case .timedOut(let phase): .timedOut(phase: phase)
        case .closedEarly: .malformedReply(error.description)
        case .malformed(let what): .malformedReply(what)
        case .tooLarge(let limit): .malformedReply("reply larger than \(limit) bytes")
        case .io(let what): .connectFailed(endpoint: url.description, reason: what)
        }
    }

    // MARK: supervisord methods

    public func getAllProcessInfo(deadline: Deadline) throws(SupervisorError) -> [SupervisorProcess] {
        try SupervisorProcess.list(fromProcessInfo: call(method: "supervisor.getAllProcessInfo", deadline: deadline))
    }

    /// One process by `name` or `group:name`; an unknown name is `.fault(code: 10, ...)` (BAD_NAME).
    public func getProcessInfo(_ namespec: String, deadline: Deadline) throws(SupervisorError) -> SupervisorProcess {
        try SupervisorProcess(processInfo: call(method: "supervisor.getProcessInfo", params: [.string(namespec)], deadline: deadline))
    }

    public func getState(deadline: Deadline) throws(SupervisorError) -> SupervisorState {
        try SupervisorState(xmlrpc: call(method: "supervisor.getState", deadline: deadline))
    }

    public func getPID(deadline: Deadline) throws(SupervisorError) -> Int {
        let v = try call(method: "supervisor.getPID", deadline: deadline)
        guard let pid = v.intValue else { throw .malformedReply("getPID returned \(v.typeName), expected an int") }
        return pid
    }

    /// `system.multicall`: one round trip for several calls. Each result is the call's value, or the
    /// call's own fault as a `SupervisorError` (supervisord returns successes as bare values).
    public func multicall(_ calls: [(method: String, params: [XMLRPCValue])], deadline: Deadline)
        throws(SupervisorError) -> [Result<XMLRPCValue, SupervisorError>]
    {
        let v = try call(method: "system.multicall", params: [SupervisorClient.multicallParam(calls)], deadline: deadline)
        return try SupervisorClient.multicallResults(v, count: calls.count)
    }

    /// `system.multicall`'s one parameter for `calls`.
    public static func multicallParam(_ calls: [(method: String, params: [XMLRPCValue])]) -> XMLRPCValue {
        .array(calls.map { .struct(["methodName": .string($0.method), "params": .array($0.params)]) })
    }

    /// `system.multicall`'s value `v` as one result per call (`count` of them).
    public static func multicallResults(_ v: XMLRPCValue, count: Int) throws(SupervisorError) -> [Result<XMLRPCValue, SupervisorError>] {
        guard let items = v.arrayValue else { throw .malformedReply("system.multicall returned \(v.typeName), expected an array") }
        guard items.count == count else {
            throw .malformedReply("system.multicall returned \(items.count) results for \(count) calls")
        }
        return items.map { item in
            if let s = item.structValue, s.count == 2, let code = s["faultCode"]?.intValue, let str = s["faultString"]?.stringValue {
                return .failure(SupervisorError.fromFault(code: code, string: str))
            }
            return .success(item)
        }
    }

    /// Sends a call and returns without waiting for its reply, for a caller that waits in its own
    /// poll loop (`SupervisorPendingCall`). Connect and send errors are thrown here, as `call` throws them.
    public func begin(method: String, params: [XMLRPCValue] = [], deadline: Deadline) throws(SupervisorError) -> SupervisorPendingCall {
        do {
            let reply = try HTTPPendingReply.begin(request(method: method, params: params), to: url.endpoint,
                                                   deadline: deadline, maxResponseBytes: maxReplyBytes)
            return SupervisorPendingCall(reply: reply, client: self)
        } catch {
            throw map(error)
        }
    }
}

/// A call sent by `SupervisorClient.begin` whose reply has not been read yet: poll `fd` for
/// POLLIN, then `value()`; at the deadline, `timedOut` is the error `call` would have thrown.
/// The values and errors are `call`'s.
public final class SupervisorPendingCall {
    private let reply: HTTPPendingReply
    private let client: SupervisorClient

    init(reply: HTTPPendingReply, client: SupervisorClient) {
        self.reply = reply
        self.client = client
    }

    /// The socket to poll for POLLIN (-1 once the reply was read or the call failed).
    public var fd: Int32 { reply.fd }

    /// The call's value once its reply is complete, nil while more is needed; never blocks.
    public func value() throws(SupervisorError) -> XMLRPCValue? {
        let response: HTTPResponse
        do {
            guard let r = try reply.receive() else { return nil }
            response = r
        } catch {
            throw client.map(error)
        }
        return try SupervisorClient.interpret(response, url: client.url, username: client.username)
    }

    public var timedOut: SupervisorError { client.map(reply.timedOut) }

    public func close() { reply.close() }
}
