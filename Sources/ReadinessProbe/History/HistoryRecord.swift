// One record of the flight recorder (docs/history.md): a change of the overall result or of a
// check's code, or a supervisord program transition seen by the event listener. On disk each
// record is one line of JSON (`HistoryRecord.line`); `HistoryRecord(line:)` is the bounded,
// strict reader (a line that is not a whole, valid record is garbage and skipped).

import ProbeSupport
/// A check's code as recorded: the check's name and its code.
struct HistoryCode: Sendable, Equatable {
    var check: String
    var code: Int32
    init(_ check: String, _ code: Int32) {
        self.check = check
        self.code = code
    }
}

struct HistoryRecord: Sendable, Equatable {
    /// Epoch seconds, millisecond precision.
    var at: Double
    /// Who wrote it: `run`, `serve`, `listen`.
    var by: String
    /// A program transition (the listener's events) instead of a code change.
    var isProgram: Bool
    /// The check's name; "" for the overall result. Empty for a program record.
    var check: String = ""
    /// The previous code; nil on a check's first record.
    var from: Int32? = nil
    var to: Int32 = 0
    var detail: String = ""
    /// A hook's first output line, when it printed one.
    var output: String? = nil
    /// The codes of every check (and "" for the overall) after this record's batch: on the last
    /// record of each batch a writer appends, so the next writer knows every `from`.
    var codes: [HistoryCode]? = nil
    // Program transitions:
    var program: String = ""
    var state: String = ""
    var pid: Int? = nil
    var exitStatus: Int? = nil
    var expected: Bool? = nil
    /// The supervisord the program belongs to (pid and start time in clock ticks after boot).
    var supervisord: ProcessIdentity? = nil

    init(at: Double, by: String, check: String, from: Int32?, to: Int32, detail: String, output: String? = nil) {
        self.at = at
        self.by = by
        self.isProgram = false
        self.check = check
        self.from = from
        self.to = to
        self.detail = detail
        self.output = output
    }

    init(at: Double, by: String, program: String, state: String, pid: Int?, exitStatus: Int?, expected: Bool?,
                detail: String = "", supervisord: ProcessIdentity?) {
        self.at = at
        self.by = by
        self.isProgram = true
        self.program = program
        self.state = state
        self.pid = pid
        self.exitStatus = exitStatus
        self.expected = expected
        self.detail = detail
        self.supervisord = supervisord
    }

    /// The version of each line of the file (docs/schema/history-file.schema.json).
    static let fileSchema = "readiness-probe/history-file/1"

    /// The longest line a writer appends (each record is one write(2) below PIPE_BUF, 4096).
    static let maxLineBytes = 4000
    static let maxText = 300

    /// The on-disk line, newline included. Strings are cut so the line stays below `maxLineBytes`
    /// (the codes map is dropped if a huge check set would not fit: the next writer then records
    /// `from: null` once).
    var line: [UInt8] {
        var bytes = Array((JSON.serialize(diskValue(withCodes: true)) + "\n").utf8)
        if bytes.count > Self.maxLineBytes { bytes = Array((JSON.serialize(diskValue(withCodes: false)) + "\n").utf8) }
        return bytes
    }

    static func cut(_ s: String, _ limit: Int = maxText) -> String {
        if s.utf8.count <= limit { return s }
        var out = ""
        for ch in s.unicodeScalars {
            if out.utf8.count + String(ch).utf8.count > limit - 3 { break }
            out.unicodeScalars.append(ch)
        }
        return out + "..."
    }

    func diskValue(withCodes: Bool) -> JSONValue {
        func n(_ v: Int?) -> JSONValue { v.map { .number(Double($0)) } ?? .null }
        var f: [(String, JSONValue)] = [("schema", .string(Self.fileSchema)), ("at", .number((at * 1000).rounded()))]
        if isProgram {
            f += [("program", .string(Self.cut(program, 200))), ("state", .string(Self.cut(state, 40))), ("pid", n(pid)),
                  ("exit_status", n(exitStatus)), ("expected", expected.map { .bool($0) } ?? .null)]
            if !detail.isEmpty { f.append(("detail", .string(Self.cut(detail)))) }
            if let sv = supervisord { f += [("supervisord_pid", .number(Double(sv.pid))), ("supervisord_start", .number(Double(sv.startTime)))] }
        } else {
            f += [("check", .string(Self.cut(check, 200))), ("from", from.map { .number(Double($0)) } ?? .null),
                  ("to", .number(Double(to))), ("detail", .string(Self.cut(detail)))]
            if let output { f.append(("output", .string(Self.cut(output, 200)))) }
        }
        f.append(("by", .string(Self.cut(by, 20))))
        if withCodes, let codes {
            f.append(("codes", .object(codes.map { (Self.cut($0.check, 200), .number(Double($0.code))) })))
        }
        return .object(f)
    }

    /// Parses one line (without its newline); nil when it is not a whole, valid record.
    init?(line: ArraySlice<UInt8>) {
        guard line.count <= 65536, line.first == UInt8(ascii: "{"), line.last == UInt8(ascii: "}"),
              let v = try? JSON.parse(Array(line), maxDepth: 4, maxBytes: 65536),
              let ms = v["at"]?.doubleValue, ms > 0, ms < 1e15, ms == ms.rounded() else { return nil }
        at = ms / 1000
        by = v["by"]?.stringValue ?? ""
        func code(_ x: JSONValue?) -> Int32? {
            guard let i = x?.intValue, i >= Int(Int32.min), i <= Int(Int32.max) else { return nil }
            return Int32(i)
        }
        if let program = v["program"]?.stringValue {
            guard let state = v["state"]?.stringValue, !program.isEmpty else { return nil }
            isProgram = true
            self.program = program
            self.state = state
            pid = v["pid"]?.intValue
            exitStatus = v["exit_status"]?.intValue
            expected = v["expected"]?.boolValue
            detail = v["detail"]?.stringValue ?? ""
            if let p = v["supervisord_pid"]?.intValue, let s = v["supervisord_start"]?.intValue, p > 0, s >= 0 {
                supervisord = ProcessIdentity(pid: p, startTime: UInt64(s))
            }
        } else {
            guard let check = v["check"]?.stringValue, let to = code(v["to"]) else { return nil }
            isProgram = false
            self.check = check
            self.to = to
            if let f = v["from"], f != .null {
                guard let c = code(f) else { return nil }
                from = c
            }
            detail = v["detail"]?.stringValue ?? ""
            output = v["output"]?.stringValue
            if case .object(let pairs)? = v["codes"] {
                var list: [HistoryCode] = []
                for (k, value) in pairs {
                    guard let c = code(value) else { return nil }
                    list.append(HistoryCode(k, c))
                }
                codes = list
            }
        }
    }

    /// The record as `history --format json` and /readyz/history show it (docs/history.md).
    var contractValue: JSONValue {
        var f: [(String, JSONValue)] = [("at", .string(RFC3339.format(at)))]
        if isProgram {
            func n(_ v: Int?) -> JSONValue { v.map { .number(Double($0)) } ?? .null }
            f += [("program", .string(program)), ("state", .string(state)), ("pid", n(pid)), ("exit_status", n(exitStatus)),
                  ("expected", expected.map { .bool($0) } ?? .null)]
            if !detail.isEmpty { f.append(("detail", .string(detail))) }
        } else {
            f += [("check", .string(check)), ("from", from.map { .number(Double($0)) } ?? .null), ("to", .number(Double(to))),
                  ("detail", .string(detail))]
            if let output { f.append(("output", .string(output))) }
        }
        f.append(("by", .string(by)))
        return .object(f)
    }
}

/// RFC 3339 UTC timestamps with milliseconds ("2026-12-01T03:12:05.123Z"), without Foundation.
enum RFC3339 {
    static func format(_ epoch: Double) -> String {
        let totalMs = Int64((epoch * 1000).rounded())
        var secs = totalMs / 1000
        var ms = totalMs % 1000
        if ms < 0 { ms += 1000; secs -= 1 }
        var days = secs / 86400
        var rem = secs % 86400
        if rem < 0 { rem += 86400; days -= 1 }
        let (y, m, d) = civil(fromDays: days)
        func p(_ v: Int64, _ w: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return "\(p(y, 4))-\(p(m, 2))-\(p(d, 2))T\(p(rem / 3600, 2)):\(p(rem / 60 % 60, 2)):\(p(rem % 60, 2)).\(p(ms, 3))Z"
    }

    /// Howard Hinnant's days-from-civil, both ways.
    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    static func days(year y0: Int64, month m: Int64, day d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    /// Parses "2026-12-01T03:12:05Z", with optional fractional seconds, `t`/space for `T`, and `Z`
    /// or an offset `+02:00`; also a date alone ("2026-12-01", midnight UTC). nil when invalid.
    static func parse(_ text: String) -> Double? {
        let b = Array(text.utf8)
        var i = 0
        func digits(_ n: Int) -> Int64? {
            guard i + n <= b.count else { return nil }
            var v: Int64 = 0
            for k in 0..<n {
                let c = b[i + k]
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int64(c - 48)
            }
            i += n
            return v
        }
        func expect(_ c: Character) -> Bool {
            guard i < b.count, b[i] == c.asciiValue! else { return false }
            i += 1
            return true
        }
        guard let y = digits(4), expect("-"), let mo = digits(2), expect("-"), let d = digits(2),
              (1...12).contains(mo), (1...31).contains(d) else { return nil }
        // Whole seconds and milliseconds as integers, so a time this file wrote ("...05.945Z")
        // parses to exactly the record's `at` (ms / 1000: one rounding) and `--since` with a
        // record's own time keeps that record; digits past the millisecond are added after.
        var whole = days(year: y, month: mo, day: d) * 86400
        var ms: Int64 = 0
        var belowMs = 0.0
        func result() -> Double { Double(whole * 1000 + ms) / 1000 + belowMs / 1000 }
        if i == b.count { return result() }
        guard i < b.count, b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: "t") || b[i] == UInt8(ascii: " ") else { return nil }
        i += 1
        guard let h = digits(2), expect(":"), let mi = digits(2), expect(":"), let s = digits(2), h < 24, mi < 60, s < 61 else { return nil }
        whole += h * 3600 + mi * 60 + s
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var n = 0
            var scale = 0.1
            while i < b.count, b[i] >= 48 && b[i] <= 57 {
                let digit = Int64(b[i] - 48)
                if n < 3 {
                    ms = ms * 10 + digit
                } else {
                    belowMs += Double(digit) * scale
                    scale /= 10
                }
                n += 1
                i += 1
            }
            if n == 0 { return nil }
            for _ in n..<max(n, 3) { ms *= 10 }
        }
        guard i < b.count else { return nil }
        if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
            i += 1
        } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            let sign: Int64 = b[i] == UInt8(ascii: "+") ? 1 : -1
            i += 1
            guard let oh = digits(2), expect(":"), let om = digits(2), oh < 24, om < 60 else { return nil }
            whole -= sign * (oh * 3600 + om * 60)
        } else {
            return nil
        }
        return i == b.count ? result() : nil
    }
}
