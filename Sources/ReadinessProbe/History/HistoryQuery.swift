// Selecting and showing history records: `history`, /readyz/history (docs/history.md).

import ProbeSupport
struct HistoryQuery: Sendable {
    /// Only records at or after this epoch time.
    var since: Double?
    /// Only this check's records ("" for the overall result), or this program's transitions.
    var check: String?

    init(since: Double? = nil, check: String? = nil) {
        self.since = since
        self.check = check
    }

    /// `10m`, `2h`, `90s` (that long before `now`) or an RFC 3339 time ("2026-12-01T03:12:05Z",
    /// "2026-12-01T03:12:05.123+01:00", "2026-12-01").
    static func parseSince(_ text: String, now: Double) -> Double? {
        if let d = try? DurationText.parse(text) { return now - d.secondsDouble }
        return RFC3339.parse(text)
    }

    func matches(_ r: HistoryRecord) -> Bool {
        if let since, r.at < since { return false }
        if let check { return r.isProgram ? r.program == check : r.check == check }
        return true
    }

    func filter(_ records: [HistoryRecord]) -> [HistoryRecord] { records.filter(matches) }

    /// The version of the JSON below (docs/schema/history.schema.json).
    static let schema = "readiness-probe/history/2"

    /// `{"schema": "readiness-probe/history/2", "records": [...]}` (each record's `contractValue`), one line.
    static func json(_ records: [HistoryRecord], warnings: [String] = []) -> String {
        var fields: [(String, JSONValue)] = [("schema", .string(schema)), ("records", .array(records.map(\.contractValue)))]
        if !warnings.isEmpty { fields.append(("warnings", .array(warnings.map { .string($0) }))) }
        return JSON.serialize(.object(fields)) + "\n"
    }

    /// "41.2s", "2m13s", "3h5m", "2d4h".
    static func span(_ seconds: Double) -> String {
        let s = max(0, seconds)
        if s < 60 { return Decimal1.format(s, digits: 1, fixed: true) + "s" }
        let whole = Int(s)
        if whole < 3600 { return "\(whole / 60)m\(whole % 60)s" }
        if whole < 86400 { return "\(whole / 3600)h\(whole / 60 % 60)m" }
        return "\(whole / 86400)d\(whole / 3600 % 24)h"
    }

    /// One line per record, oldest first, each change with how long it lasted: until the next
    /// change of the same check (or of the overall result), or "so far". Durations look at the
    /// whole log `all`, also at records the query leaves out.
    func table(_ all: [HistoryRecord], now: Double) -> String {
        // The next change of the same check, per record: one pass from the newest.
        var nextAt = [Double?](repeating: nil, count: all.count)
        var seen: [(String, Double)] = []
        for i in all.indices.reversed() where !all[i].isProgram {
            let r = all[i]
            if let k = seen.firstIndex(where: { $0.0 == r.check }) {
                nextAt[i] = seen[k].1
                seen[k].1 = r.at
            } else {
                seen.append((r.check, r.at))
            }
        }
        var out = ""
        for (i, r) in all.enumerated() where matches(r) {
            let at = RFC3339.format(r.at)
            if r.isProgram {
                var facts: [String] = []
                if let pid = r.pid { facts.append("pid \(pid)") }
                if let e = r.exitStatus { facts.append("exit \(e)") }
                if let x = r.expected { facts.append(x ? "expected" : "unexpected") }
                out += "\(at)    program \(r.program) \(r.state)" + (facts.isEmpty ? "" : " (\(facts.joined(separator: ", ")))")
                out += (r.detail.isEmpty ? "" : ": \(r.detail)") + "  [\(r.by)]\n"
                continue
            }
            let lasted = nextAt[i].map { "for \(Self.span($0 - r.at))" } ?? "for \(Self.span(now - r.at)) so far"
            if r.check.isEmpty {
                let what = r.to == 0 ? "ready" : "not ready (code \(r.to))"
                out += "\(at)  \(what) \(lasted): \(r.detail)  [\(r.by)]\n"
            } else {
                let from = r.from.map(String.init) ?? "new"
                out += "\(at)    \(r.check): \(from) -> \(r.to) \(lasted): \(r.detail)"
                out += (r.output.map { " (output: \($0))" } ?? "") + "  [\(r.by)]\n"
            }
        }
        return out.isEmpty ? "(no history records)\n" : out
    }
}
