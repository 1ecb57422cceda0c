// Bounded, incremental HTTP/1.x parsers. Pure functions over byte arrays: call again with
// more bytes after `.needMore`. Nothing here allocates more than the limits allow.

/// Why a message was refused.
struct HTTPParseError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What was wrong, for the status code the server answers with.
    enum Kind: Sendable, Equatable {
        /// Syntax the parser will not accept.
        case malformed
        /// A limit was exceeded; `limit` is in bytes.
        case tooLarge(limit: Int)
        /// Valid HTTP this implementation does not support (chunked bodies, other versions).
        case unsupported
    }

    var kind: Kind
    var message: String
    /// The status a server should answer with (400, 413, 431, 501, 505).
    var status: Int

    init(_ kind: Kind, _ message: String, status: Int = 400) {
        self.kind = kind
        self.message = message
        self.status = status
    }

    var description: String { message }
}

/// The result of feeding bytes to a parser.
enum HTTPParseState<Message: Sendable>: Sendable {
    /// The bytes so far are a valid prefix; read more and call again with all of them.
    case needMore
    /// A full message; `consumed` bytes belong to it (anything after is the next message).
    case complete(Message, consumed: Int)
    case error(HTTPParseError)
}

/// The head of a message: the start line and header fields, split and validated.
struct ParsedHead {
    var startLine: [UInt8]
    var headers: [(name: String, value: String)]
    /// Bytes up to and including the blank line.
    var length: Int
}

enum HeadParser {
    /// One head line, as byte offsets (not a `Range<Int>`: docs/architecture.md, "The probe path").
    struct Line {
        var start: Int
        var end: Int
        var range: Range<Int> { start..<end }
    }

    /// Finds and splits the head. Lines end in CRLF (a bare LF is tolerated); a bare CR anywhere,
    /// obs-fold continuation lines, and invalid names or values are errors.
    /// `skipLeadingBlankLines`: requests may be preceded by a stray CRLF (RFC 9112 §2.2).
    static func parse(_ bytes: [UInt8], maxHeaderBytes: Int, maxHeaderCount: Int = 100,
                      skipLeadingBlankLines: Bool, what: String) -> HTTPParseState<ParsedHead> {
        let n = bytes.count
        var lines: [Line] = []
        var lineStart = 0
        var i = 0
        var leading = 0
        func tooLarge() -> HTTPParseState<ParsedHead> {
            .error(HTTPParseError(.tooLarge(limit: maxHeaderBytes),
                                  "\(what) head is larger than the \(maxHeaderBytes)-byte limit", status: 431))
        }
        while i < n {
            if i >= maxHeaderBytes { return tooLarge() }
            let c = bytes[i]
            if c == 0x0A {
                var end = i
                if end > lineStart && bytes[end - 1] == 0x0D { end -= 1 }
                if end == lineStart {
                    if lines.isEmpty {
                        if skipLeadingBlankLines && leading < 4 {
                            leading += 1
                            lineStart = i + 1
                            i += 1
                            continue
                        }
                        return .error(HTTPParseError(.malformed, "\(what) starts with an empty line"))
                    }
                    // End of head.
                    return split(bytes, lines: lines, length: i + 1, what: what)
                }
                lines.append(Line(start: lineStart, end: end))
                if lines.count > maxHeaderCount + 1 {
                    return .error(HTTPParseError(.tooLarge(limit: maxHeaderBytes),
                                                 "\(what) has more than \(maxHeaderCount) header fields", status: 431))
                }
                lineStart = i + 1
            } else if c == 0x0D {
                if i + 1 < n && bytes[i + 1] != 0x0A {
                    return .error(HTTPParseError(.malformed, "\(what) has a bare CR in its head"))
                }
            } else if c == 0 {
                return .error(HTTPParseError(.malformed, "\(what) has a NUL byte in its head"))
            }
            i += 1
        }
        if n >= maxHeaderBytes { return tooLarge() }
        return .needMore
    }

    private static func split(_ bytes: [UInt8], lines: [Line], length: Int, what: String) -> HTTPParseState<ParsedHead> {
        var headers: [(name: String, value: String)] = []
        headers.reserveCapacity(lines.count - 1)
        for l in lines.dropFirst() {
            let line = bytes[l.range]
            guard let first = line.first else { continue }
            if first == 0x20 || first == 0x09 {
                return .error(HTTPParseError(.malformed, "\(what) uses a folded header line (obs-fold), which is not accepted"))
            }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
                return .error(HTTPParseError(.malformed, "\(what) has a header line without a colon: \(excerpt(line))"))
            }
            let nameBytes = line[line.startIndex..<colon]
            if nameBytes.isEmpty || !nameBytes.allSatisfy(HTTPHeaders.isTokenByte) {
                return .error(HTTPParseError(.malformed, "\(what) has an invalid header name: \(excerpt(nameBytes))"))
            }
            var v = line[(colon + 1)...]
            while let f = v.first, f == 0x20 || f == 0x09 { v = v.dropFirst() }
            while let l = v.last, l == 0x20 || l == 0x09 { v = v.dropLast() }
            if !v.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7f) }) {
                return .error(HTTPParseError(.malformed, "\(what) header \(String(decoding: nameBytes, as: UTF8.self)) has control characters in its value"))
            }
            headers.append((String(decoding: nameBytes, as: UTF8.self), String(decoding: v, as: UTF8.self)))
        }
        return .complete(ParsedHead(startLine: Array(bytes[lines[0].range]), headers: headers, length: length), consumed: length)
    }

    /// Up to 60 bytes of a line, printable, for error messages.
    static func excerpt(_ bytes: some Collection<UInt8>) -> String {
        var s = ""
        for b in bytes.prefix(60) {
            s += (b >= 0x20 && b < 0x7f) ? String(UnicodeScalar(b)) : "\\x" + String(b, radix: 16)
        }
        return "\"" + s + (bytes.count > 60 ? "…" : "") + "\""
    }

    /// The Content-Length, if any. Repeated equal values are accepted; differing ones are an error.
    static func contentLength(_ headers: [(name: String, value: String)], what: String) -> Result<Int?, HTTPParseError> {
        var result: Int?
        for v in HTTPHeaders.all("Content-Length", in: headers) {
            for part in v.split(separator: ",", omittingEmptySubsequences: false) {
                let t = HTTPHeaders.trimOWS(part)
                guard !t.isEmpty, t.utf8.count <= 15, t.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let n = Int(t) else {
                    return .failure(HTTPParseError(.malformed, "\(what) has an invalid Content-Length: \(excerpt(Array(v.utf8)))"))
                }
                if let r = result, r != n {
                    return .failure(HTTPParseError(.malformed, "\(what) has conflicting Content-Length values"))
                }
                result = n
            }
        }
        return .success(result)
    }

    static func parseVersion(_ bytes: some Collection<UInt8>) -> String? {
        let s = String(decoding: bytes, as: UTF8.self)
        return s == "HTTP/1.1" || s == "HTTP/1.0" ? s : nil
    }
}

// MARK: - Responses (client side)

/// The client side: parses one response (Content-Length, chunked, or to EOF).
enum HTTPResponseParser {
    /// Parses a response from the start of `bytes`.
    /// - `maxHeaderBytes` bounds the status line and headers; `maxBodyBytes` bounds the body.
    /// - Without Content-Length the body runs to the end of the connection: pass `atEOF: true`
    ///   once the peer has closed, and the response completes with every byte received.
    /// - Chunked transfer-coding is refused ("chunked replies are not supported").
    /// - 1xx, 204 and 304 responses have no body.
    static func parse(_ bytes: [UInt8], maxHeaderBytes: Int = 64 << 10, maxBodyBytes: Int = 4 << 20,
                             atEOF: Bool = false, requestMethod: String = "GET") -> HTTPParseState<HTTPResponse> {
        let head: ParsedHead
        switch HeadParser.parse(bytes, maxHeaderBytes: maxHeaderBytes, skipLeadingBlankLines: false, what: "reply") {
        case .needMore:
            if atEOF {
                return .error(HTTPParseError(.malformed, bytes.isEmpty ? "the server closed the connection without replying"
                                                                      : "the reply ended inside its headers"))
            }
            return .needMore
        case .error(let e): return .error(e)
        case .complete(let h, _): head = h
        }
        // Status line: HTTP/1.x SP 3DIGIT [SP reason]
        let line = head.startLine
        guard line.count >= 12, line[8] == 0x20, let version = HeadParser.parseVersion(line[0..<8]) else {
            if line.starts(with: Array("HTTP/".utf8)) && line.count >= 8 {
                return .error(HTTPParseError(.unsupported, "unsupported HTTP version in status line \(HeadParser.excerpt(line))"))
            }
            return .error(HTTPParseError(.malformed, "bad status line \(HeadParser.excerpt(line))"))
        }
        let codeBytes = line[9..<12]
        guard codeBytes.allSatisfy({ $0 >= 48 && $0 <= 57 }), let status = Int(String(decoding: codeBytes, as: UTF8.self)),
              status >= 100, line.count == 12 || line[12] == 0x20 else {
            return .error(HTTPParseError(.malformed, "bad status code in status line \(HeadParser.excerpt(line))"))
        }
        let reasonBytes = line.count > 13 ? line[13...] : []
        if !reasonBytes.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7f) }) {
            return .error(HTTPParseError(.malformed, "control characters in the status line's reason"))
        }
        let reason = String(decoding: reasonBytes, as: UTF8.self)

        if !HTTPHeaders.all("Transfer-Encoding", in: head.headers).isEmpty {
            let te = HTTPHeaders.all("Transfer-Encoding", in: head.headers)
            if HTTPHeaders.listContains(te, "chunked") {
                return .error(HTTPParseError(.unsupported, "chunked replies are not supported", status: 501))
            }
            return .error(HTTPParseError(.unsupported, "Transfer-Encoding \(te.joined(separator: ", ")) is not supported", status: 501))
        }
        let length: Int?
        switch HeadParser.contentLength(head.headers, what: "reply") {
        case .failure(let e): return .error(e)
        case .success(let l): length = l
        }
        var response = HTTPResponse(status: status, reason: reason, version: version, headers: head.headers)
        let bodyless = status < 200 || status == 204 || status == 304 || requestMethod == "HEAD"
        if bodyless { return .complete(response, consumed: head.length) }
        let available = bytes.count - head.length
        if let length {
            if length > maxBodyBytes {
                return .error(HTTPParseError(.tooLarge(limit: maxBodyBytes),
                                             "the reply body (\(length) bytes) is larger than the \(maxBodyBytes)-byte limit", status: 413))
            }
            if available < length {
                if atEOF {
                    return .error(HTTPParseError(.malformed, "the reply ended after \(available) of \(length) body bytes"))
                }
                return .needMore
            }
            response.body = Array(bytes[head.length..<(head.length + length)])
            return .complete(response, consumed: head.length + length)
        }
        // No Content-Length: the body ends when the connection does.
        if available > maxBodyBytes {
            return .error(HTTPParseError(.tooLarge(limit: maxBodyBytes),
                                         "the reply body is larger than the \(maxBodyBytes)-byte limit", status: 413))
        }
        if !atEOF { return .needMore }
        response.body = Array(bytes[head.length...])
        return .complete(response, consumed: bytes.count)
    }
}

// MARK: - Requests (server side)

/// The server side: parses one request head (and a Content-Length body), with the given limits.
enum HTTPRequestParser {
    /// The default bound on a request's line plus headers.
    static let defaultMaxHeaderBytes = 8 << 10

    /// Parses a request head from the start of `bytes`. Bodies are not read: a request with a
    /// body gets `keepAlive = false` (the server answers and closes), and a GET or HEAD with a
    /// body, or any Transfer-Encoding, is refused.
    static func parse(_ bytes: [UInt8], maxHeaderBytes: Int = defaultMaxHeaderBytes) -> HTTPParseState<HTTPRequest> {
        let head: ParsedHead
        switch HeadParser.parse(bytes, maxHeaderBytes: maxHeaderBytes, skipLeadingBlankLines: true, what: "request") {
        case .needMore: return .needMore
        case .error(let e): return .error(e)
        case .complete(let h, _): head = h
        }
        func bad(_ message: String, status: Int = 400, kind: HTTPParseError.Kind = .malformed) -> HTTPParseState<HTTPRequest> {
            .error(HTTPParseError(kind, message, status: status))
        }
        let parts = head.startLine.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3 else { return bad("bad request line \(HeadParser.excerpt(head.startLine))") }
        let methodBytes = parts[0], targetBytes = parts[1], versionBytes = parts[2]
        guard !methodBytes.isEmpty, methodBytes.count <= 32, methodBytes.allSatisfy(HTTPHeaders.isTokenByte) else {
            return bad("bad method in request line \(HeadParser.excerpt(head.startLine))")
        }
        guard let version = HeadParser.parseVersion(versionBytes) else {
            if versionBytes.starts(with: Array("HTTP/".utf8)) {
                return bad("HTTP version \(HeadParser.excerpt(versionBytes)) is not supported", status: 505, kind: .unsupported)
            }
            return bad("bad HTTP version in request line \(HeadParser.excerpt(head.startLine))")
        }
        let method = String(decoding: methodBytes, as: UTF8.self)
        // Targets: origin-form (`/path?query`), or `*` for OPTIONS. Visible ASCII only, no fragment.
        guard !targetBytes.isEmpty, targetBytes.allSatisfy({ $0 > 0x20 && $0 < 0x7f && $0 != UInt8(ascii: "#") }) else {
            return bad("bad request target \(HeadParser.excerpt(targetBytes))")
        }
        let target = String(decoding: targetBytes, as: UTF8.self)
        let isAsterisk = target == "*" && method == "OPTIONS"
        guard target.hasPrefix("/") || isAsterisk else {
            return bad("request target must start with /: \(HeadParser.excerpt(targetBytes))")
        }
        var rawPath = Substring(target), rawQuery = Substring("")
        if let q = target.firstIndex(of: "?") {
            rawPath = target[..<q]
            rawQuery = target[target.index(after: q)...]
        }
        guard let path = HTTPCodec.percentDecode(rawPath) else {
            return bad("bad percent-encoding in request path \(HeadParser.excerpt(Array(rawPath.utf8)))")
        }
        guard let items = HTTPCodec.queryItems(rawQuery) else {
            return bad("bad percent-encoding in query \(HeadParser.excerpt(Array(rawQuery.utf8)))")
        }
        // Header rules.
        let hosts = HTTPHeaders.all("Host", in: head.headers)
        if hosts.count > 1 { return bad("more than one Host header") }
        if version == "HTTP/1.1" && hosts.isEmpty { return bad("an HTTP/1.1 request must have a Host header") }
        if !HTTPHeaders.all("Transfer-Encoding", in: head.headers).isEmpty {
            return bad("Transfer-Encoding is not supported", status: 501, kind: .unsupported)
        }
        let length: Int?
        switch HeadParser.contentLength(head.headers, what: "request") {
        case .failure(let e): return .error(e)
        case .success(let l): length = l
        }
        let hasBody = (length ?? 0) > 0
        if hasBody && (method == "GET" || method == "HEAD") {
            return bad("a \(method) request must not have a body")
        }
        let connection = HTTPHeaders.all("Connection", in: head.headers)
        var keepAlive = version == "HTTP/1.1"
            ? !HTTPHeaders.listContains(connection, "close")
            : HTTPHeaders.listContains(connection, "keep-alive")
        if hasBody { keepAlive = false }
        let request = HTTPRequest(method: method, target: target, path: path, rawQuery: String(rawQuery),
                                  queryItems: items, version: version, headers: head.headers, keepAlive: keepAlive)
        return .complete(request, consumed: head.length)
    }
}
