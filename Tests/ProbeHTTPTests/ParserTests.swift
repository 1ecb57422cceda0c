@testable import ProbeHTTP
import ProbeTestSupport
import Testing

private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

private func expectComplete<M>(_ state: HTTPParseState<M>, sourceLocation: SourceLocation = #_sourceLocation) -> (M, Int)? {
    if case .complete(let m, let consumed) = state { return (m, consumed) }
    Issue.record("expected a complete message, got \(state)", sourceLocation: sourceLocation)
    return nil
}

private func expectError<M>(_ state: HTTPParseState<M>, sourceLocation: SourceLocation = #_sourceLocation) -> HTTPParseError? {
    if case .error(let e) = state { return e }
    Issue.record("expected an error, got \(state)", sourceLocation: sourceLocation)
    return nil
}

private func isNeedMore<M>(_ state: HTTPParseState<M>) -> Bool {
    if case .needMore = state { return true }
    return false
}

@Suite struct ResponseParserTests {
    @Test(arguments: ["4.3.0", "4.2.5"], ["getState", "getAllProcessInfo", "multicall", "shutdown", "getProcessInfo-badname"])
    func supervisordCaptures(version: String, name: String) throws {
        let data = try TestPaths.fixture("supervisor/\(version)-xmlrpc-\(name).http")
        guard let (r, consumed) = expectComplete(HTTPResponseParser.parse(data, maxHeaderBytes: 8192, maxBodyBytes: 1 << 20)) else { return }
        #expect(r.status == 200)
        #expect(r.reason == "OK")
        #expect(r.version == "HTTP/1.1")
        #expect(consumed == data.count)
        #expect(r.header("content-type") == "text/xml")
        #expect(r.header("CONTENT-LENGTH") == String(r.body.count))
        #expect(r.header("Connection") == nil)
        #expect(r.bodyText.hasSuffix("</methodResponse>\n"))
        // Every strict prefix is a valid beginning: needMore, never an error or a short body.
        for cut in stride(from: 0, to: data.count, by: max(1, data.count / 97)) {
            #expect(isNeedMore(HTTPResponseParser.parse(Array(data[..<cut]), maxHeaderBytes: 8192, maxBodyBytes: 1 << 20)))
        }
    }

    @Test func unauthorizedCapture() throws {
        let data = try TestPaths.fixture("supervisor/4.3.0-xmlrpc-401.http")
        guard let (r, _) = expectComplete(HTTPResponseParser.parse(data, maxHeaderBytes: 8192, maxBodyBytes: 4096)) else { return }
        #expect(r.status == 401)
        #expect(r.reason == "Unauthorized")
        #expect(r.header("www-authenticate") == "Basic realm=\"default\"")
        #expect(r.header("Connection") == "close")
        #expect(r.body.count == 137)
        #expect(r.bodyText.contains("Error code 401"))
    }

    @Test func bodyUntilEOF() {
        let raw = bytes("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello world")
        #expect(isNeedMore(HTTPResponseParser.parse(raw, maxHeaderBytes: 1024, maxBodyBytes: 1024)))
        guard let (r, consumed) = expectComplete(HTTPResponseParser.parse(raw, maxHeaderBytes: 1024, maxBodyBytes: 1024, atEOF: true)) else { return }
        #expect(r.bodyText == "hello world")
        #expect(r.version == "HTTP/1.0")
        #expect(consumed == raw.count)
        let e = expectError(HTTPResponseParser.parse(raw, maxHeaderBytes: 1024, maxBodyBytes: 5))
        #expect(e?.kind == .tooLarge(limit: 5))
        #expect(e?.message.contains("5-byte limit") == true)
    }

    @Test func extraBytesAfterContentLengthAreNotConsumed() {
        let raw = bytes("HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA")
        guard let (first, c1) = expectComplete(HTTPResponseParser.parse(raw)) else { return }
        #expect(first.status == 204 && first.body.isEmpty)
        guard let (second, c2) = expectComplete(HTTPResponseParser.parse(Array(raw[c1...]))) else { return }
        #expect(second.bodyText == "ok")
        #expect(c1 + c2 == raw.count - 5)
    }

    @Test func statusLineWithoutReasonAndBareLF() {
        guard let (r, _) = expectComplete(HTTPResponseParser.parse(bytes("HTTP/1.1 503\nContent-Length: 0\n\n"))) else { return }
        #expect(r.status == 503)
        #expect(r.reason == "")
    }

    @Test func chunkedIsRefused() {
        let raw = bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        let e = expectError(HTTPResponseParser.parse(raw))
        #expect(e?.message == "chunked replies are not supported")
        #expect(e?.kind == .unsupported)
    }

    @Test func oversizedHeadNamesTheLimit() {
        let raw = bytes("HTTP/1.1 200 OK\r\nX-Big: " + String(repeating: "a", count: 300))
        let e = expectError(HTTPResponseParser.parse(raw, maxHeaderBytes: 256, maxBodyBytes: 10))
        #expect(e?.kind == .tooLarge(limit: 256))
        #expect(e?.message.contains("256-byte limit") == true)
        let declared = bytes("HTTP/1.1 200 OK\r\nContent-Length: 5000000\r\n\r\n")
        #expect(expectError(HTTPResponseParser.parse(declared, maxHeaderBytes: 256, maxBodyBytes: 4096))?.kind == .tooLarge(limit: 4096))
    }

    @Test(arguments: [
        "garbage\r\n\r\n",
        "HTTP/1.1 2x0 OK\r\n\r\n",
        "HTTP/1.1 200OK\r\n\r\n",
        "HTTP/1.1  200 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
        "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "HTTP/2.0 200 OK\r\n\r\n",
        "\r\nHTTP/1.1 200 OK\r\n\r\n",
    ])
    func malformedResponses(raw: String) {
        let e = expectError(HTTPResponseParser.parse(bytes(raw)))
        #expect(e?.message.isEmpty == false)
    }

    @Test func truncatedAtEOF() {
        #expect(expectError(HTTPResponseParser.parse(bytes("HTTP/1.1 200 OK\r\nContent-Le"), atEOF: true)) != nil)
        let short = expectError(HTTPResponseParser.parse(bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"), atEOF: true))
        #expect(short?.message.contains("3 of 10") == true)
    }

    @Test func fuzzNeverCrashesAndStaysBounded() {
        var rng = SplitMix(seed: 42)
        let seeds = [bytes("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"), bytes("GET /a?b=%20 HTTP/1.1\r\nHost: x\r\n\r\n")]
        for i in 0..<3000 {
            var b = seeds[i % 2]
            for _ in 0..<Int(rng.next() % 4 + 1) {
                let pos = Int(rng.next() % UInt64(b.count))
                switch rng.next() % 3 {
                case 0: b[pos] = UInt8(truncatingIfNeeded: rng.next())
                case 1: b.remove(at: pos)
                default: b.insert(UInt8(truncatingIfNeeded: rng.next()), at: pos)
                }
            }
            if case .complete(let r, let consumed) = HTTPResponseParser.parse(b, maxHeaderBytes: 64, maxBodyBytes: 16, atEOF: i % 3 == 0) {
                #expect(consumed <= b.count && r.body.count <= 16)
            }
            if case .complete(_, let consumed) = HTTPRequestParser.parse(b, maxHeaderBytes: 64) {
                #expect(consumed <= min(b.count, 64))
            }
        }
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct RequestParserTests {
    @Test func getWithQuery() {
        let raw = bytes("GET /readyz/etc%2Fd?exclude=a&exclude=b%20c&verbose&x=1+2 HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: kube-probe/1.30\r\n\r\n")
        guard let (r, consumed) = expectComplete(HTTPRequestParser.parse(raw)) else { return }
        #expect(consumed == raw.count)
        #expect(r.method == "GET")
        #expect(r.path == "/readyz/etc/d")
        #expect(r.target.hasPrefix("/readyz/etc%2Fd?"))
        #expect(r.queryValues("exclude") == ["a", "b c"])
        #expect(r.query("verbose") == "")
        #expect(r.query("x") == "1 2")
        #expect(r.query("missing") == nil)
        #expect(r.header("user-agent") == "kube-probe/1.30")
        #expect(r.keepAlive)
        #expect(r.version == "HTTP/1.1")
    }

    @Test func keepAliveRules() {
        func ka(_ s: String) -> Bool? {
            if case .complete(let r, _) = HTTPRequestParser.parse(bytes(s)) { return r.keepAlive }
            return nil
        }
        #expect(ka("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n") == false)
        #expect(ka("GET / HTTP/1.1\r\nHost: a\r\nConnection: TE, Close\r\n\r\n") == false)
        #expect(ka("GET / HTTP/1.0\r\n\r\n") == false)
        #expect(ka("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n") == true)
        #expect(ka("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n") == false)
        #expect(ka("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n") == true)
    }

    @Test func partialAndOversized() {
        #expect(isNeedMore(HTTPRequestParser.parse(bytes("GET / HTTP/1.1\r\nHost: a\r\n"))))
        let big = bytes("GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "b", count: 9000) + "\r\n\r\n")
        let e = expectError(HTTPRequestParser.parse(big))
        #expect(e?.status == 431)
        #expect(e?.kind == .tooLarge(limit: 8192))
        // Without a terminating blank line, an 8 KiB prefix is already an error (no unbounded buffering).
        #expect(expectError(HTTPRequestParser.parse(Array(big.prefix(8192))))?.status == 431)
    }

    @Test(arguments: [
        ("GET / HTTP/1.1\r\n\r\n", 400),                                  // no Host
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),            // two Hosts
        ("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400),                   // space in target
        ("GET http://x/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),              // absolute form
        ("GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("GET /%00 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("GET /?a=%ff HTTP/1.1\r\nHost: a\r\n\r\n", 400),                // not UTF-8
        ("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
        ("GET / HTTPS/1.1\r\nHost: a\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nX-Inject: a\rb\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nX-Fold: a\r\n  b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nX-Ctl: a\u{01}b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
    ] as [(String, Int)])
    func rejected(raw: String, status: Int) {
        #expect(expectError(HTTPRequestParser.parse(bytes(raw)))?.status == status)
    }
}

@Suite struct CodecTests {
    @Test func percentDecode() {
        #expect(HTTPCodec.percentDecode("a%20b%2Fc") == "a b/c")
        #expect(HTTPCodec.percentDecode("a+b") == "a+b")
        #expect(HTTPCodec.percentDecode("a+b", plusIsSpace: true) == "a b")
        #expect(HTTPCodec.percentDecode("%E2%9C%93") == "✓")
        #expect(HTTPCodec.percentDecode("%4") == nil)
        #expect(HTTPCodec.percentDecode("%G0") == nil)
        #expect(HTTPCodec.percentDecode("%C3") == nil)
    }

    @Test func queryItems() {
        let items = HTTPCodec.queryItems("exclude=a&exclude=b&&flag&k=v=w")
        #expect(items?.map(\.name) == ["exclude", "exclude", "flag", "k"])
        #expect(items?.map(\.value) == ["a", "b", "", "v=w"])
        #expect(HTTPCodec.queryItems("")?.isEmpty == true)
    }

    @Test func base64() {
        #expect(HTTPCodec.base64Encode(Array("".utf8)) == "")
        #expect(HTTPCodec.base64Encode(Array("f".utf8)) == "Zg==")
        #expect(HTTPCodec.base64Encode(Array("fo".utf8)) == "Zm8=")
        #expect(HTTPCodec.base64Encode(Array("foo".utf8)) == "Zm9v")
        #expect(HTTPCodec.base64Encode(Array("foobar".utf8)) == "Zm9vYmFy")
        #expect(HTTPCodec.base64Encode([0xff, 0xfe, 0x00]) == "//4A")
        #expect(HTTPCodec.basicAuthorization(user: "user", password: "123") == "Basic dXNlcjoxMjM=")
    }
}
