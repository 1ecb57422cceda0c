// Rendering a ProbeReport: summary (one stable line, then the table), table, json
// (the contract's shape) and verbose (kube-apiserver style lines).

public enum OutputFormat: String, Sendable, CaseIterable {
    case summary, table, json, verbose
}

public enum Render {
    public static func render(_ report: ProbeReport, as format: OutputFormat) -> String {
        switch format {
        case .summary: return firstLine(report) + "\n" + table(report)
        case .table: return table(report)
        case .json: return json(report) + "\n"
        case .verbose: return verbose(report)
        }
    }

    /// The stable first line: no timestamps, pids or durations, so Kubernetes folds repeats.
    public static func firstLine(_ report: ProbeReport) -> String {
        report.ready ? "ready: \(report.summary)" : "not ready (code \(report.code)): \(report.summary)"
    }

    public static func table(_ report: ProbeReport) -> String {
        if report.results.isEmpty { return "(no checks)\n" }
        var rows = [["CHECK", "KIND", "STATUS", "CODE", "TIME", "DETAIL"]]
        rows.reserveCapacity(report.results.count + 1)
        for r in report.results {
            rows.append([r.name, r.kind, r.status.rawValue, String(r.code), formatMs(r.durationMs), r.detail])
        }
        var widths = [Int](repeating: 0, count: 5)
        for row in rows { for i in 0..<5 { widths[i] = max(widths[i], width(row[i])) } }
        var out = ""
        out.reserveCapacity(rows.count * 96)
        for row in rows {
            var line = ""
            for i in 0..<5 {
                line += row[i]
                line += String(repeating: " ", count: widths[i] - width(row[i]) + 2)
            }
            line += row[5]
            out += line.trimmingTrailingSpaces()
            out += "\n"
        }
        return out
    }

    /// Columns a cell takes: its characters; for ASCII (nearly every cell) its byte count, without
    /// the grapheme walk that `count` does.
    static func width(_ s: String) -> Int {
        s.utf8.allSatisfy { $0 < 0x80 } ? s.utf8.count : s.count
    }

    public static func formatMs(_ ms: Double) -> String {
        if ms >= 1000 { return Decimal1.format(ms / 1000, digits: 2, fixed: true) + "s" }
        return Decimal1.format(ms, digits: 1, fixed: true) + "ms"
    }

    public static func jsonValue(_ report: ProbeReport) -> JSONValue {
        .object([
            ("ready", .bool(report.ready)),
            ("code", .number(Double(report.code))),
            ("summary", .string(report.summary)),
            ("duration_ms", .number(round3(report.durationMs))),
            ("checks", .array(report.results.map { r in
                .object([
                    ("name", .string(r.name)), ("kind", .string(r.kind)), ("status", .string(r.status.rawValue)),
                    ("code", .number(Double(r.code))), ("detail", .string(r.detail)),
                    ("duration_ms", .number(round3(r.durationMs))),
                ])
            })),
        ])
    }

    public static func json(_ report: ProbeReport) -> String { JSON.serialize(jsonValue(report)) }

    static func round3(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }

    /// kube-apiserver style: `[+]name ok`, `[-]name failed: detail`, then the verdict line.
    public static func verbose(_ report: ProbeReport, excluded: [String] = [], unknownExcludes: [String] = [],
                               verdictPrefix: String = "readiness") -> String {
        var out = ""
        for r in report.results { out += verboseLine(r) + "\n" }
        for name in excluded { out += "[+]\(name) excluded: ok\n" }
        if !unknownExcludes.isEmpty {
            out += "warn: some health checks cannot be excluded: no matches for "
                + unknownExcludes.map { "\"\($0)\"" }.joined(separator: ",") + "\n"
        }
        out += report.ready ? "\(verdictPrefix) check passed\n" : "\(verdictPrefix) check failed\n"
        return out
    }

    /// One check as a kube-apiserver style line, without the newline.
    public static func verboseLine(_ r: CheckResult) -> String {
        switch r.status {
        case .pass: return "[+]\(r.name) ok"
        case .warn: return "[+]\(r.name) warn: \(r.detail)"
        case .skip: return "[+]\(r.name) skipped: \(r.detail)"
        case .fail: return "[-]\(r.name) failed: \(r.detail) (code \(r.code))"
        }
    }

    /// Parses a report back from its JSON (cached results).
    public static func report(fromJSON v: JSONValue, finishedAt: Double) -> ProbeReport? {
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

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.hasSuffix(" ") { s.removeLast() }
        return s
    }
}
