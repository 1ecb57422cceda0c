// HTTPPendingReply: one request whose reply a caller's own poll loop reads (the executor's
// supervisord call). It must give what HTTPClient.send gives, byte for byte and error for error.
@preconcurrency import Glibc
import CShim
@testable import ProbeHTTP
import ProbeSupport
import ProbeTestSupport
import Testing

@Suite struct PendingReplyTests {
    let request = HTTPClientRequest(method: "POST", target: "/RPC2",
                                    headers: [("Content-Type", "text/xml")], body: Array("<x/>".utf8))

    /// Polls and reads until a response or an error, as the executor does (deadline 5 s).
    func drive(_ p: HTTPPendingReply) throws(HTTPClientError) -> HTTPResponse {
        let deadline = Deadline.after(.seconds(5))
        while true {
            if let r = try p.receive() { return r }
            var pfd = pollfd(fd: p.fd, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, deadline.pollTimeout) == 0 { throw p.timedOut }
        }
    }

    @Test func replyInPiecesIsTheBlockingClientsReply() throws {
        let dir = TempDir("pr")
        let captured = CapturedBytes()
        let body = String(repeating: "<member>x</member>\n", count: 1500)  // ~28 KiB: more than one recv
        let server = ScriptedUnixServer(path: dir.file("s.sock")) { fd in
            captured.set(Raw.readRequest(fd))
            Raw.write(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Le")
            usleep(50_000)
            Raw.write(fd, "ngth: \(body.utf8.count)\r\n\r\n" + body.prefix(1000))
            usleep(50_000)
            Raw.write(fd, String(body.dropFirst(1000)))
            Raw.waitForClose(fd, timeoutMs: 2000)
        }
        defer { server.finish() }
        let p = try HTTPPendingReply.begin(request, to: .unix(path: server.path), deadline: .after(.seconds(5)))
        #expect(p.fd >= 0)
        let r = try drive(p)
        #expect(r.status == 200)
        #expect(r.bodyText == body)
        #expect(p.fd == -1, "closed once the reply is read")
        server.finish()
        guard case .complete(let req, _) = HTTPRequestParser.parse(captured.get()) else {
            Issue.record("request not parseable")
            return
        }
        #expect(req.header("Connection") == "close")
        #expect(req.header("Content-Length") == "4")
        #expect(String(decoding: captured.get().suffix(4), as: UTF8.self) == "<x/>")
    }

    @Test func nothingYetIsNilAndTheDeadlineSaysWhere() throws {
        let dir = TempDir("pr")
        let go = CapturedBytes()
        let server = ScriptedUnixServer(path: dir.file("s.sock")) { fd in
            _ = Raw.readRequest(fd)
            // Wait for the client's first look, then send half a head.
            for _ in 0..<500 where go.get().isEmpty { usleep(10_000) }
            Raw.write(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart")
            Raw.waitForClose(fd, timeoutMs: 5000)
        }
        defer { server.finish() }
        let p = try HTTPPendingReply.begin(request, to: .unix(path: server.path), deadline: .after(.seconds(5)))
        #expect(try p.receive() == nil)
        #expect(p.timedOut == .timedOut(phase: "waiting for the reply"))
        go.set([1])
        var pfd = pollfd(fd: p.fd, events: Int16(POLLIN), revents: 0)
        #expect(poll(&pfd, 1, 5000) == 1)
        #expect(try p.receive() == nil)
        #expect(p.timedOut == .timedOut(phase: "reading the reply"))
        p.close()
        #expect(p.fd == -1)
    }

    @Test func errorsAreTheBlockingClientsErrors() throws {
        let dir = TempDir("pr")
        let server = ScriptedUnixServer(path: dir.file("s.sock")) { fd in
            _ = Raw.readRequest(fd)
            Raw.write(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
        }
        defer { server.finish() }
        let p = try HTTPPendingReply.begin(request, to: .unix(path: server.path), deadline: .after(.seconds(5)))
        #expect(throws: HTTPClientError.closedEarly(receivedBytes: 45)) { _ = try drive(p) }
        #expect(p.fd == -1, "closed after an error")
        #expect(throws: HTTPClientError.noSuchSocket(path: dir.file("none.sock"))) {
            _ = try HTTPPendingReply.begin(request, to: .unix(path: dir.file("none.sock")), deadline: .after(.seconds(5)))
        }
    }
}
