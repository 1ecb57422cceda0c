/// A small JSON value with a strict, bounded parser and a deterministic writer.
/// Used for the result JSON, cached results, the listener's ledger and Kuberhealthy reports.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    /// A number always written with a fraction (`2.0`, `2.4`, up to 3 decimals): durations and
    /// times, so a field's JSON type never changes with its value (docs/json.md). Parsing gives `.number`.
    case real(Double)
    case string(String)
    case array([JSONValue])
    /// Keys keep their order, so output is stable.
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.number(x), .number(y)), let (.real(x), .real(y)), let (.number(x), .real(y)), let (.real(x), .number(y)):
            return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let pairs) = self { return pairs.first(where: { $0.0 == key })?.1 }
        return nil
    }
    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var doubleValue: Double? {
        switch self {
        case .number(let n), .real(let n): return n
        default: return nil
        }
    }
    public var intValue: Int? {
        if let n = doubleValue, n.rounded() == n, abs(n) < 9e15 { return Int(n) }
        return nil
    }
    public var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
}

// MARK: writing

/// The strict, bounded JSON parser and the deterministic writer (object keys keep their order).
public enum JSON {
    /// Appends `s` as a JSON string literal (quotes included) to `out`.
    public static func appendString(_ s: String, to out: inout String) {
        out.append("\"")
        // Fast path: printable ASCII with nothing to escape is copied as it is.
        if s.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C }) {
            out.append(s)
            out.append("\"")
            return
        }
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out.append("\\\"")
            case "\\": out.append("\\\\")
            case "\n": out.append("\\n")
            case "\r": out.append("\\r")
            case "\t": out.append("\\t")
            case "\u{08}": out.append("\\b")
            case "\u{0C}": out.append("\\f")
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || scalar.value == 0x2028 || scalar.value == 0x2029 {
                    let hex = String(scalar.value, radix: 16)
                    out.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out.append("\"")
    }

    public static func quote(_ s: String) -> String {
        var out = ""
        appendString(s, to: &out)
        return out
    }

    /// A number as JSON: integers without a fraction, others with up to 3 decimals.
    public static func number(_ d: Double) -> String {
        if d.isNaN || d.isInfinite { return "null" }
        if d.rounded() == d && abs(d) < 1e15 { return String(Int64(d)) }
        return Decimal1.format(d, digits: 3)
    }

    /// A number as JSON with a fraction always (`2.0`, `2.4`, `0.125`): `.real`.
    public static func real(_ d: Double) -> String {
        if d.isNaN || d.isInfinite { return "null" }
        let s = Decimal1.format(d, digits: 3)
        return s.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") }) ? s : s + ".0"
    }

    public static func write(_ v: JSONValue, to out: inout String) {
        switch v {
        case .null: out.append("null")
        case .bool(let b): out.append(b ? "true" : "false")
        case .number(let n): out.append(number(n))
        case .real(let n): out.append(real(n))
        case .string(let s): appendString(s, to: &out)
        case .array(let items):
            out.append("[")
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(", ") }
                write(item, to: &out)
            }
            out.append("]")
        case .object(let pairs):
            out.append("{")
            for (i, (k, item)) in pairs.enumerated() {
                if i > 0 { out.append(", ") }
                appendString(k, to: &out)
                out.append(": ")
                write(item, to: &out)
            }
            out.append("}")
        }
    }

    public static func serialize(_ v: JSONValue) -> String {
        var out = ""
        write(v, to: &out)
        return out
    }

    // MARK: parsing

    /// Why a text is not JSON, with the byte offset.
    public struct ParseError: Error, CustomStringConvertible, Sendable, Equatable {
        public var offset: Int
        public var reason: String
        public var description: String { "invalid JSON at byte \(offset): \(reason)" }
    }

    /// Parses one JSON document (RFC 8259), rejecting trailing bytes, nesting deeper than
    /// `maxDepth`, and documents larger than `maxBytes`.
    public static func parse(_ bytes: [UInt8], maxDepth: Int = 64, maxBytes: Int = 4 << 20) throws(ParseError) -> JSONValue {
        if bytes.count > maxBytes { throw ParseError(offset: 0, reason: "document larger than \(maxBytes) bytes") }
        var p = Parser(bytes: bytes, maxDepth: maxDepth)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        if p.i != bytes.count { throw ParseError(offset: p.i, reason: "trailing data") }
        return v
    }

    public static func parse(_ text: String) throws(ParseError) -> JSONValue { try parse(Array(text.utf8)) }

    struct Parser {
        let bytes: [UInt8]
        let maxDepth: Int
        var i = 0

        init(bytes: [UInt8], maxDepth: Int) { self.bytes = bytes; self.maxDepth = maxDepth }

        func fail(_ r: String) -> ParseError { ParseError(offset: i, reason: r) }

        mutating func skipSpace() {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
        }

        mutating func literal(_ word: StaticString, _ v: JSONValue) throws(ParseError) -> JSONValue {
            let n = word.utf8CodeUnitCount
            guard i + n <= bytes.count else { throw fail("unexpected token") }
            for k in 0..<n where bytes[i + k] != word.utf8Start[k] { throw fail("unexpected token") }
            i += n
            return v
        }

        mutating func value(depth: Int) throws(ParseError) -> JSONValue {
            if depth > maxDepth { throw fail("nested deeper than \(maxDepth)") }
            guard i < bytes.count else { throw fail("unexpected end") }
            switch bytes[i] {
            case UInt8(ascii: "n"): return try literal("null", .null)
            case UInt8(ascii: "t"): return try literal("true", .bool(true))
            case UInt8(ascii: "f"): return try literal("false", .bool(false))
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "["):
                i += 1
                var items: [JSONValue] = []
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                while true {
                    skipSpace()
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard i < bytes.count else { throw fail("unterminated array") }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                    throw fail("expected , or ]")
                }
            case UInt8(ascii: "{"):
                i += 1
                var pairs: [(String, JSONValue)] = []
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(pairs) }
                while true {
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a key") }
                    let k = try string()
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected :") }
                    i += 1
                    skipSpace()
                    pairs.append((k, try value(depth: depth + 1)))
                    skipSpace()
                    guard i < bytes.count else { throw fail("unterminated object") }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(pairs) }
                    throw fail("expected , or }")
                }
            default:
                return .number(try number())
            }
        }

        mutating func number() throws(ParseError) -> Double {
            let start = i
            // The digits as an integer, for the exact fast path below (pids, serials, timestamps
            // with milliseconds: what the ledger and the results hold).
            var significand: UInt64 = 0
            var digits = 0
            var fractionDigits = 0
            var exponent = false
            let negative = i < bytes.count && bytes[i] == UInt8(ascii: "-")
            if negative { i += 1 }
            guard i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 else { throw fail("unexpected character") }
            if bytes[i] == 48 {
                i += 1
            } else {
                while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 {
                    if digits < 19 { significand = significand &* 10 &+ UInt64(bytes[i] - 48) }
                    digits += 1
                    i += 1
                }
            }
            if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
                i += 1
                guard i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 else { throw fail("bad fraction") }
                while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 {
                    if digits < 19 { significand = significand &* 10 &+ UInt64(bytes[i] - 48) }
                    if digits > 0 || bytes[i] != 48 { digits += 1 }
                    fractionDigits += 1
                    i += 1
                }
            }
            if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
                exponent = true
                i += 1
                if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
                guard i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 else { throw fail("bad exponent") }
                while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 { i += 1 }
            }
            if i - start > 64 { throw fail("number too long") }
            // Exact without strtod (Clinger's fast path): at most 15 significant digits are an
            // integer a Double holds exactly, 10^k for k <= 22 is exact too, and one IEEE division
            // is correctly rounded, so the result is the double nearest the decimal, as strtod's.
            if !exponent && digits <= 15 && fractionDigits <= 22 {
                var d = Double(significand)
                if fractionDigits > 0 { d /= Parser.powersOfTen[fractionDigits] }
                return negative ? -d : d
            }
            guard let d = Double(String(decoding: bytes[start..<i], as: UTF8.self)) else { throw fail("bad number") }
            return d
        }

        static let powersOfTen: [Double] = [
            1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
            1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
        ]

        mutating func hex4() throws(ParseError) -> UInt32 {
            guard i + 4 <= bytes.count else { throw fail("short \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[i]
                let d: UInt32
                switch c {
                case 48...57: d = UInt32(c - 48)
                case 65...70: d = UInt32(c - 55)
                case 97...102: d = UInt32(c - 87)
                default: throw fail("bad \\u escape")
                }
                v = v * 16 + d
                i += 1
            }
            return v
        }

        mutating func string() throws(ParseError) -> String {
            i += 1 // opening quote
            // Most strings have no escapes: find the closing quote and validate the span once.
            var j = i
            var ascii = true
            while j < bytes.count {
                let c = bytes[j]
                if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") || c < 0x20 { break }
                if c >= 0x80 { ascii = false }
                j += 1
            }
            if j < bytes.count && bytes[j] == UInt8(ascii: "\"") {
                let span = bytes[i..<j]
                i = j + 1
                // ASCII is valid UTF-8 as it is: decoding it repairs nothing, and it skips the
                // generic validation (about 1,500 instructions a string, most of it metadata look-ups).
                if ascii { return String(decoding: span, as: UTF8.self) }
                guard let s = String(validating: span, as: UTF8.self) else { throw fail("invalid UTF-8 in string") }
                return s
            }
            var out = Array(bytes[i..<j])
            i = j
            while true {
                guard i < bytes.count else { throw fail("unterminated string") }
                let c = bytes[i]
                if c == UInt8(ascii: "\"") { i += 1; break }
                if c < 0x20 { throw fail("control character in string") }
                if c != UInt8(ascii: "\\") { out.append(c); i += 1; continue }
                i += 1
                guard i < bytes.count else { throw fail("unterminated escape") }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var cp = try hex4()
                    if cp >= 0xD800 && cp < 0xDC00 {
                        guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                            throw fail("lone surrogate")
                        }
                        i += 2
                        let lo = try hex4()
                        guard lo >= 0xDC00 && lo < 0xE000 else { throw fail("bad surrogate pair") }
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                    } else if cp >= 0xDC00 && cp < 0xE000 {
                        throw fail("lone surrogate")
                    }
                    guard let scalar = Unicode.Scalar(cp) else { throw fail("bad code point") }
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: throw fail("bad escape")
                }
            }
            guard let s = String(validating: out, as: UTF8.self) else { throw fail("invalid UTF-8 in string") }
            return s
        }
    }
}
