// HTTP/1.1 message types and small codecs (percent-decoding, query strings, base64).
// Everything here is pure: no sockets, no clocks.

/// A complete HTTP response as received by the client (or built by a parser test).
public struct HTTPResponse: Sendable, CustomStringConvertible {
    public var status: Int
    public var reason: String
    /// `HTTP/1.0` or `HTTP/1.1`.
    public var version: String
    /// Headers in the order received; names as sent (compare with `header(_:)`, which ignores case).
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, reason: String, version: String = "HTTP/1.1",
                headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.reason = reason
        self.version = version
        self.headers = headers
        self.body = body
    }

    /// The first header with this name (case-insensitive), or nil.
    public func header(_ name: String) -> String? { HTTPHeaders.first(name, in: headers) }

    /// Every value of a header, in order (case-insensitive name match).
    public func headers(named name: String) -> [String] { HTTPHeaders.all(name, in: headers) }

    /// The body as text (invalid UTF-8 is replaced).
    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    public var description: String { "\(version) \(status) \(reason) (\(body.count) body bytes)" }
}

/// A parsed request on the server side.
public struct HTTPRequest: Sendable, CustomStringConvertible {
    /// The method token as sent (methods are case-sensitive: `get` is not `GET`).
    public var method: String
    /// The request target exactly as sent (`/readyz?exclude=a`).
    public var target: String
    /// The percent-decoded path (`/readyz`).
    public var path: String
    /// The query string as sent, without the `?` (empty if none).
    public var rawQuery: String
    /// Query items in order, percent-decoded (`+` is a space); repeated keys are kept.
    public var queryItems: [(name: String, value: String)]
    /// `HTTP/1.0` or `HTTP/1.1`.
    public var version: String
    public var headers: [(name: String, value: String)]
    /// Whether the connection may carry another request after this one (HTTP/1.1 rules).
    public var keepAlive: Bool

    public init(method: String, target: String, path: String, rawQuery: String = "",
                queryItems: [(name: String, value: String)] = [], version: String = "HTTP/1.1",
                headers: [(name: String, value: String)] = [], keepAlive: Bool = true) {
        self.method = method
        self.target = target
        self.path = path
        self.rawQuery = rawQuery
        self.queryItems = queryItems
        self.version = version
        self.headers = headers
        self.keepAlive = keepAlive
    }

    public func header(_ name: String) -> String? { HTTPHeaders.first(name, in: headers) }
    public func headers(named name: String) -> [String] { HTTPHeaders.all(name, in: headers) }

    /// The first value of a query parameter (nil if absent; "" for `?verbose`).
    public func query(_ name: String) -> String? { queryItems.first { $0.name == name }?.value }
    /// All values of a repeated query parameter (`?exclude=a&exclude=b`).
    public func queryValues(_ name: String) -> [String] { queryItems.filter { $0.name == name }.map(\.value) }

    public var description: String { "\(method) \(target) \(version)" }
}

/// Header rules shared by the parsers and the server: token and value characters, list lookups.
enum HTTPHeaders {
    static func first(_ name: String, in headers: [(name: String, value: String)]) -> String? {
        headers.first { equalsIgnoringASCIICase($0.name, name) }?.value
    }

    static func all(_ name: String, in headers: [(name: String, value: String)]) -> [String] {
        headers.filter { equalsIgnoringASCIICase($0.name, name) }.map(\.value)
    }

    /// Whether a comma-separated header (Connection, Transfer-Encoding) lists `token` (case-insensitive).
    static func listContains(_ values: [String], _ token: String) -> Bool {
        for v in values {
            for part in v.split(separator: ",") where equalsIgnoringASCIICase(trimOWS(Substring(part)), token) {
                return true
            }
        }
        return false
    }

    static func trimOWS(_ s: Substring) -> String {
        var u = Substring(s).utf8[...]
        while let f = u.first, f == 0x20 || f == 0x09 { u = u.dropFirst() }
        while let l = u.last, l == 0x20 || l == 0x09 { u = u.dropLast() }
        return String(decoding: u, as: UTF8.self)
    }

    static func equalsIgnoringASCIICase(_ a: String, _ b: String) -> Bool {
        let x = a.utf8, y = b.utf8
        guard x.count == y.count else { return false }
        for (p, q) in zip(x, y) where lower(p) != lower(q) { return false }
        return true
    }

    @inline(__always) static func lower(_ c: UInt8) -> UInt8 { (c >= 65 && c <= 90) ? c + 32 : c }

    /// RFC 9110 token characters (header names, methods).
    static func isTokenByte(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(c)
        }
    }

    /// Content-Length, Connection and Transfer-Encoding: set by the client and server themselves.
    static func isFraming(_ name: String) -> Bool {
        equalsIgnoringASCIICase(name, "Content-Length") || equalsIgnoringASCIICase(name, "Connection")
            || equalsIgnoringASCIICase(name, "Transfer-Encoding")
    }

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy(isTokenByte)
    }

    /// A header value we are willing to send or accept: no control characters except HTAB
    /// (so no CR/LF injection); bytes >= 0x80 allowed (obs-text).
    static func isValidValue(_ value: String) -> Bool {
        value.utf8.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7f) }
    }
}

// MARK: - Codecs

/// Pure codecs: percent-decoding, query strings, base64.
public enum HTTPCodec {
    /// Percent-decodes `s`. With `plusIsSpace` (query strings), `+` becomes a space.
    /// Returns nil for a malformed escape (`%4`, `%zz`), an escaped NUL, or bytes that are not UTF-8.
    static func percentDecode(_ s: some StringProtocol, plusIsSpace: Bool = false) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        var it = Array(s.utf8)[...]
        while let c = it.popFirst() {
            if c == UInt8(ascii: "%") {
                guard let h = it.popFirst(), let l = it.popFirst(), let hv = hexValue(h), let lv = hexValue(l) else {
                    return nil
                }
                let b = hv << 4 | lv
                if b == 0 { return nil }
                out.append(b)
            } else if c == UInt8(ascii: "+") && plusIsSpace {
                out.append(0x20)
            } else {
                out.append(c)
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    /// Splits a query string (without `?`) into decoded items; keeps repeated keys in order.
    /// `a=1&b&&c=` gives [("a","1"), ("b",""), ("c","")]. Nil if any part fails to decode.
    static func queryItems(_ query: some StringProtocol) -> [(name: String, value: String)]? {
        var items: [(name: String, value: String)] = []
        let query = String(query)
        for part in query.split(separator: "&", omittingEmptySubsequences: true) {
            let name: Substring, value: Substring
            if let eq = part.firstIndex(of: "=") {
                name = part[..<eq]
                value = part[part.index(after: eq)...]
            } else {
                name = part
                value = ""
            }
            guard let n = percentDecode(name, plusIsSpace: true), let v = percentDecode(value, plusIsSpace: true) else {
                return nil
            }
            items.append((n, v))
        }
        return items
    }

    private static let base64Alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Standard base64 with `=` padding (RFC 4648), as used by HTTP Basic authentication.
    static func base64Encode(_ bytes: some Collection<UInt8>) -> String {
        let input = Array(bytes)
        var out: [UInt8] = []
        out.reserveCapacity((input.count + 2) / 3 * 4)
        var i = 0
        while i < input.count {
            let b0 = input[i]
            let b1 = i + 1 < input.count ? input[i + 1] : 0
            let b2 = i + 2 < input.count ? input[i + 2] : 0
            out.append(base64Alphabet[Int(b0 >> 2)])
            out.append(base64Alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)])
            out.append(i + 1 < input.count ? base64Alphabet[Int((b1 & 0x0f) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            out.append(i + 2 < input.count ? base64Alphabet[Int(b2 & 0x3f)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `Basic base64(user:password)` for an Authorization header.
    public static func basicAuthorization(user: String, password: String) -> String {
        "Basic " + base64Encode(Array("\(user):\(password)".utf8))
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
