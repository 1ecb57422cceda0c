@preconcurrency import Glibc
import CShim
@testable import ProbeHTTP
import ProbeSupport
import ProbeTestSupport
import Testing

@Suite struct ClientTests {
    let request = HTTPClientRequest(method: "POST", target: "/RPC2",
                                    headers: [("Content-Type", "text/xml")], body: Array("<x/>".utf8))

    @Test func normalReplyAndRequestShape() throws {
        let dir = TempDir("cl")
        let captured = CapturedBytes()
        let server = ScriptedUnixServer(path: dir.file("s.sock")) { fd in
            captured.set(Raw.readRequest(fd))
            Raw.write(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 5\r\n\r\nhello")
            // Like supervisord: no Connection: close, but the connection stays open a while
            // (until the client closes it, 30 s at most).
            Raw.waitForClose(fd, timeoutMs: 30_000)
        }
        defer { server.finish() }
        let start = ContinuousClock.now
        let r = try HTTPClient.send(request, to: .unix(path: server.path), deadline: .after(.seconds(20)))
        #expect(ContinuousClock.now - start < .seconds(10), "waited for the server to close")
        #expect(r.status == 200)
        #expect(r.bodyText == "hello")
        #expect(r.header("content-type") == "text/xml")
        server.finish()
        guard case .complete(let req, _) = HTTPRequestParser.parse(captured.get()) else {
            Issue.record("request not parseable: \(String(decoding: captured.get(), as: UTF8.self))")
            return
        }
        #expect(req.method == "POST")
        #expect(req.target == "/RPC2")
        #expect(req.header("Host") == "localhost")
        #expect(req.header("Content-Length") == "4")
        #expect(req.header("Connection") == "close")
        #expect(req.header("Content-Type") == "text/xml")
        #expect(String(decoding: captured.get().suffix(4), as: UTF8.self) == "<x/>")
    }

    @Test func replyWithoutContentLengthEndsAtEOF() throws {
        let dir = TempDir("cl")
        let server = ScriptedUnixServer(path: dir.file("s.sock")) { fd in
            _ = Raw.readRequest(fd)
            Raw.write(fd, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nline one\n")
            Raw.write(fd, "line two\n")
        }
        defer { server.finish() }
        let r = try HTTPClient.send(request, to: .unix(path: server.path), deadline: .after(.seconds(5)))
        #expect(r.bodyText == "line one\nline two\n")
    }

    @Test func acceptedButNeverRepliedTimesOutOnTime() {
        let dir = TempDir("cl")
        let server = ScriptedUnixServer(path: dir.file("s.sock")) { fd in
            Raw.waitForClose(fd, timeoutMs: 30_000)
        }
        defer { server.finish() }
        let start = ContinuousClock.now
        #expect(throws: HTTPClientError.timedOut(phase: "waiting for the reply")) {
            _ = try HTTPClient.send(request, to: .unix(path: server.path), deadline: .after(.milliseconds(300)))
        }
        // Not before the deadline; and at it, not when the server gives up (30 s). How close to
        // it is a figure for `make bench`, not for a test on a loaded machine.
        let elapsed = ContinuousClock.now - start
        #expect(elapsed >= .milliseconds(300) && elapsed < .seconds(10), "\(elapsed)")
    }

    @Test func headersThenStall() {
        let dir = TempDir("cl")
        let server = ScriptedUnixServer(path: dir.file("s.sock")) { fd in
            _ = Raw.readRequest(fd)
            Raw.write(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
            Raw.waitForClose(fd, timeoutMs: 30_000)
        }
        defer { server.finish() }
        let start = ContinuousClock.now
        #expect(throws: HTTPClientError.timedOut(phase: "reading the reply")) {
            _ = try HTTPClient.send(request, to: .unix(path: server.path), deadline: .after(.milliseconds(300)))
        }
        #expect(ContinuousClock.now - start < .seconds(10), "waited for the server (30 s), not the 300 ms deadline")
    }

    @Test func endlessBodyIsTooLarge() {
        let dir = TempDir("cl")
        let server = ScriptedUnixServer(path: dir.file("s.sock")) { fd in
            _ = Raw.readRequest(fd)
            Raw.write(fd, "HTTP/1.1 200 OK\r\n\r\n")
            let chunk = [UInt8](repeating: 0x61, count: 65536)
            while Raw.write(fd, chunk) {}
        }
        defer { server.finish() }
        #expect(throws: HTTPClientError.tooLarge(limit: 1 << 20)) {
            _ = try HTTPClient.send(request, to: .unix(path: server.path), deadline: .after(.seconds(5)), maxResponseBytes: 1 << 20)
        }
    }

    @Test func closedBeforeCompleteReply() {
        let dir = TempDir("cl")
        let server = ScriptedUnixServer(path: dir.file("s.sock")) { fd in
            _ = Raw.readRequest(fd)
            Raw.write(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
        }
        defer { server.finish() }
        #expect(throws: HTTPClientError.closedEarly(receivedBytes: 45)) {
            _ = try HTTPClient.send(request, to: .unix(path: server.path), deadline: .after(.seconds(5)))
        }
    }

    @Test func malformedReply() {
        let dir = TempDir("cl")
        let server = ScriptedUnixServer(path: dir.file("s.sock")) { fd in
            _ = Raw.readRequest(fd)
            Raw.write(fd, "SSH-2.0-OpenSSH_9.2\r\n\r\n")
        }
        defer { server.finish() }
        do {
            _ = try HTTPClient.send(request, to: .unix(path: server.path), deadline: .after(.seconds(5)))
            Issue.record("expected an error")
        } catch {
            guard case .malformed(let what) = error else { Issue.record("got \(error)"); return }
            #expect(what.contains("bad status line"))
            #expect(error.description.hasPrefix("malformed reply: "))
        }
    }

    @Test func noSocketFile() {
        let dir = TempDir("cl")
        let path = dir.file("missing.sock")
        do {
            _ = try HTTPClient.send(request, to: .unix(path: path), deadline: .after(.seconds(1)))
            Issue.record("expected an error")
        } catch {
            #expect(error == .noSuchSocket(path: path))
            #expect(error.description == "no socket at \(path) (is supervisord running?)")
        }
    }

    @Test func staleSocketFile() {
        let dir = TempDir("cl")
        let path = dir.file("stale.sock")
        let fd = cshim_socket_cloexec(AF_UNIX, Int32(SOCK_STREAM.rawValue))
        #expect(cshim_bind_unix(fd, path) == 0)
        close(fd)
        #expect(Platform.exists(path))
        do {
            _ = try HTTPClient.send(request, to: .unix(path: path), deadline: .after(.seconds(1)))
            Issue.record("expected an error")
        } catch {
            #expect(error == .connectionRefused(endpoint: "unix://" + path))
            #expect(error.description == "connection refused at unix://\(path) (stale socket: supervisord is not running)")
        }
    }

    @Test func pathTooLong() {
        let path = "/tmp/" + String(repeating: "x", count: 110) + ".sock"
        do {
            _ = try HTTPClient.send(request, to: .unix(path: path), deadline: .after(.seconds(1)))
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("longer than the 107 bytes"))
        }
    }

    @Test func permissionDenied() throws {
        guard Platform.effectiveUserID != 0 else { return } // root bypasses socket permissions
        let dir = TempDir("cl")
        let server = ScriptedUnixServer(path: dir.file("s.sock")) { _ in }
        defer { server.finish() }
        chmod(server.path, 0)
        defer { chmod(server.path, 0o700) }
        #expect(throws: HTTPClientError.permissionDenied(path: server.path)) {
            _ = try HTTPClient.send(request, to: .unix(path: server.path), deadline: .after(.seconds(1)))
        }
        // Unblock the accepting thread.
        chmod(server.path, 0o700)
        _ = try? HTTPClient.send(request, to: .unix(path: server.path), deadline: .after(.milliseconds(100)))
    }

    @Test func tcpRefused() throws {
        // Find a free port by binding and closing it.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = UInt32(0x7f000001).bigEndian
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        let port = UInt16(bigEndian: addr.sin_port)
        close(fd)
        #expect(throws: HTTPClientError.connectionRefused(endpoint: "http://127.0.0.1:\(port)")) {
            _ = try HTTPClient.send(HTTPClientRequest(), to: .tcp(host: "127.0.0.1", port: port), deadline: .after(.seconds(1)))
        }
    }

    @Test func headerInjectionIsRefused() {
        let bad = HTTPClientRequest(headers: [("X-A", "1\r\nInjected: yes")])
        #expect(throws: HTTPClientError.self) { _ = try bad.serialized(for: .unix(path: "/x")) }
        let ok = try? HTTPClientRequest(headers: [("Host", "example")]).serialized(for: .tcp(host: "::1", port: 80))
        #expect(ok.map { String(decoding: $0, as: UTF8.self) } == "GET / HTTP/1.1\r\nHost: example\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        #expect(HTTPEndpoint.tcp(host: "::1", port: 80).hostHeader == "[::1]:80")
    }
}

final class CapturedBytes: @unchecked Sendable {
    private var bytes: [UInt8] = []
    private var lock = pthread_mutex_t()
    init() { pthread_mutex_init(&lock, nil) }
    func set(_ b: [UInt8]) { pthread_mutex_lock(&lock); bytes = b; pthread_mutex_unlock(&lock) }
    func get() -> [UInt8] { pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }; return bytes }
}
