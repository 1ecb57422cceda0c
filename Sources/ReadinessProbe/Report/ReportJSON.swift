// A report as JSON and back: the `--format json` shape of `run`, `wait` and `serve`, and the
// body of the listener's cached result file (docs/event-listener.md). One codec for all of them.
import ProbeSupport

/// The JSON codec of `ProbeReport`.
enum ReportJSON {
    /// The version id of this shape: docs/schema/run.schema.json (docs/json.md says how to bump it).
    static let schema = "readiness-probe/run/1"

    /// `{"schema", "ready", "code", "summary", "duration_ms", "checks": [{"name", "kind", "status", "code", "detail", "duration_ms"}]}`.
    /// Durations are always written with a fraction (`.real`).
    static func value(_ report: ProbeReport) -> JSONValue {
        .object([
            ("schema", .string(schema)),
            ("ready", .bool(report.ready)),
            ("code", .number(Double(report.code))),
            ("summary", .string(report.summary)),
            ("duration_ms", .real(round3(report.durationMs))),
            ("checks", .array(report.results.map { r in
                .object([
                    ("name", .string(r.name)), ("kind", .string(r.kind)), ("status", .string(r.status.rawValue)),
                    ("code", .number(Double(r.code))), ("detail", .string(r.detail)),
                    ("duration_ms", .real(round3(r.durationMs))),
                ])
            })),
        ])
    }

    /// `value(report)` serialised on one line, without a newline.
    static func text(_ report: ProbeReport) -> String { JSON.serialize(value(report)) }

    static func round3(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }

    /// Parses a report back from `value(_:)`'s shape (cached results); nil when a field is missing or mistyped.
    static func report(from v: JSONValue, finishedAt: Double) -> ProbeReport? {
        guard let code = v["code"]?.intValue, let summary = v["summary"]?.stringValue,
              let checks = v["checks"]?.arrayValue else { return nil }
        var rows: [CheckResult] = []
        for c in checks {
            guard let name = c["name"]?.stringValue, let kind = c["kind"]?.stringValue,
                  let st = c["status"]?.stringValue, let status = CheckStatus(rawValue: st),
                  let cc = c["code"]?.intValue, let detail = c["detail"]?.stringValue else { return nil }
            rows.append(CheckResult(name: name, kind: kind, status: status, code: Int32(clamping: cc), detail: detail,
                                    durationMs: c["duration_ms"]?.doubleValue ?? 0))
        }
        return ProbeReport(code: Int32(clamping: code), summary: summary, durationMs: v["duration_ms"]?.doubleValue ?? 0,
                           results: rows, finishedAt: finishedAt)
    }
}
