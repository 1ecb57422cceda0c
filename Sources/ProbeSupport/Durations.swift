/// Why a duration string was refused (`DurationText.parse`).
public struct DurationParseError: Error, CustomStringConvertible, Sendable, Equatable {
    public var input: String
    public var reason: String
    public var description: String { "invalid duration \"\(input)\": \(reason)" }
}

/// Duration strings (`250ms`, `5s`, `1m30s`) and deadlines on the monotonic clock.
public enum DurationText {
    /// The longest duration accepted anywhere: 24 hours.
    public static let maximum: Duration = .seconds(86_400)

    /// Parses `250ms`, `5s`, `1.5s`, `1m`, `1m30s`, `2h`; a bare number means seconds.
    /// Units: ms, s, m, h. Negative values, empty strings and values above 24h are errors.
    public static func parse(_ text: String) throws(DurationParseError) -> Duration {
        let s = text.trimmingASCIIWhitespace()
        func fail(_ why: String) -> DurationParseError { DurationParseError(input: text, reason: why) }
        if s.isEmpty { throw fail("empty") }
        if s.utf8.count > 32 { throw fail("too long") }
        var total: Double = 0 // milliseconds
        let bytes = Array(s.utf8)
        var i = 0
        var sawPart = false
        while i < bytes.count {
            var numText = ""
            var dots = 0
            while i < bytes.count, (bytes[i] >= 48 && bytes[i] <= 57) || bytes[i] == 46 {
                if bytes[i] == 46 { dots += 1 }
                numText.append(Character(Unicode.Scalar(bytes[i])))
                i += 1
            }
            if numText.isEmpty || dots > 1 || numText == "." {
                throw fail(i < bytes.count && bytes[i] == 45 ? "must not be negative" : "expected a number, like 250ms, 5s or 1m")
            }
            guard let value = Double(numText) else { throw fail("bad number \(numText)") }
            var unit = ""
            while i < bytes.count, (bytes[i] >= 97 && bytes[i] <= 122) || (bytes[i] >= 65 && bytes[i] <= 90) {
                unit.append(Character(Unicode.Scalar(bytes[i])))
                i += 1
            }
            let scale: Double
            switch unit.lowercased() {
            case "ms": scale = 1
            case "s", "": scale = 1000
            case "m": scale = 60_000
            case "h": scale = 3_600_000
            default: throw fail("unknown unit \"\(unit)\" (use ms, s, m or h)")
            }
            if unit.isEmpty && (sawPart || i < bytes.count) { throw fail("a unit is missing") }
            total += value * scale
            sawPart = true
        }
        // Checked as a Double first: 32 digits of hours do not fit an Int64 of milliseconds.
        if !(total.rounded() <= Double(maximum.milliseconds)) { throw fail("longer than 24h") }
        return .milliseconds(Int64(total.rounded()))
    }

    /// Formats a duration compactly: `250ms`, `5s`, `1.5s`, `2m`, `1m30s`.
    public static func format(_ d: Duration) -> String {
        let ms = d.milliseconds
        if ms < 1000 { return "\(ms)ms" }
        if ms % 60_000 == 0 && ms >= 60_000 { return "\(ms / 60_000)m" }
        if ms >= 60_000 {
            let m = ms / 60_000
            let rest = Duration.milliseconds(ms % 60_000)
            return "\(m)m" + format(rest)
        }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return Decimal1.format(Double(ms) / 1000, digits: 3) + "s"
    }
}

extension Duration {
    /// Whole milliseconds (truncated).
    public var milliseconds: Int64 {
        let (s, atto) = components
        return s * 1000 + atto / 1_000_000_000_000_000
    }
    /// Milliseconds as a Double, for reports.
    public var millisecondsDouble: Double {
        let (s, atto) = components
        return Double(s) * 1000 + Double(atto) / 1e15
    }
}

/// A point in time on the monotonic clock after which an operation must give up.
public struct Deadline: Sendable, Comparable, Hashable {
    public var instant: ContinuousClock.Instant

    public init(_ instant: ContinuousClock.Instant) { self.instant = instant }
    public static func after(_ d: Duration) -> Deadline { Deadline(.now + d) }
    static var distantFuture: Deadline { Deadline(.now + .seconds(86_400 * 365)) }

    public var remaining: Duration { max(.zero, instant - .now) }
    public var hasPassed: Bool { ContinuousClock.now >= instant }

    /// Remaining time as a poll(2) timeout in milliseconds (rounded up, at least 0).
    public var pollTimeout: Int32 {
        let r = instant - .now
        if r <= .zero { return 0 }
        let (s, atto) = r.components
        let ms = s * 1000 + (atto + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: ms)
    }

    public static func < (a: Deadline, b: Deadline) -> Bool { a.instant < b.instant }
    public func earlier(_ other: Deadline?) -> Deadline {
        guard let other else { return self }
        return Swift.min(self, other)
    }
}

/// Fixed-point decimal formatting without Foundation.
public enum Decimal1 {
    /// Formats `value` with at most `digits` fractional digits, trailing zeros removed,
    /// unless `fixed` is true.
    public static func format(_ value: Double, digits: Int, fixed: Bool = false) -> String {
        if value.isNaN || value.isInfinite { return "0" }
        let negative = value < 0
        var scale: Double = 1
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        if scaled >= 9.0e17 {
            // No fraction digits fit; beyond Int64 (about 9.2e18) only the exponent form is exact enough.
            return abs(value) < 9.0e18 ? String(Int64(value)) : "\(value)"
        }
        let n = Int64(scaled)
        let intPart = n / Int64(scale)
        var frac = String(n % Int64(scale))
        while frac.count < digits { frac = "0" + frac }
        if !fixed { while frac.hasSuffix("0") { frac.removeLast() } }
        var out = negative && n != 0 ? "-" : ""
        out += String(intPart)
        if !frac.isEmpty { out += "." + frac }
        return out
    }
}

extension StringProtocol {
    /// The string without leading and trailing spaces, tabs, CR and LF.
    /// Works on UTF-8 bytes: these whitespace characters are single bytes that never occur
    /// inside a multi-byte sequence (and it is the config reader's hot path).
    public func trimmingASCIIWhitespace() -> String {
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }
        let bytes = utf8
        var lo: String.Index? = nil
        var hi = bytes.startIndex
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let next = bytes.index(after: i)
            if !isSpace(bytes[i]) {
                if lo == nil { lo = i }
                hi = next
            }
            i = next
        }
        guard let lo else { return "" }
        return String(self[lo..<hi])
    }
}

extension Unicode.Scalar {
    public var isASCIIWhitespace: Bool { self == " " || self == "\t" || self == "\n" || self == "\r" || self == "\u{0B}" || self == "\u{0C}" }
}
