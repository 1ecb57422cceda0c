// Rendering a ProbeReport for people and probes: summary (one stable line, then the table),
// table, json (Report/ReportJSON.swift: the contract's shape) and verbose (kube-apiserver style).
import ProbeSupport

/// How a report is printed: `--format` of `run` and `wait` (`Render.render(_:as:)`), with the
/// function that prints it.
///
/// A struct rather than an enum, as the growing errors are (`SupervisorError`): a new format is
/// one static member and its line in `allCases`, and not a source-breaking change for a caller
/// that compares formats (`format == .json`). It is `CaseIterable` and `RawRepresentable` by its
/// name, so `--format`, `--help`, the man page and the completions list every format.
public struct OutputFormat: Sendable, Hashable, CaseIterable, RawRepresentable {
    /// The name `--format` takes: `summary`, `table`, `json`, `verbose`.
    public let rawValue: String
    let body: @Sendable (ProbeReport) -> String

    init(_ name: String, _ body: @escaping @Sendable (ProbeReport) -> String) {
        rawValue = name
        self.body = body
    }

    /// The format named `rawValue`, or nil when there is none.
    public init?(rawValue: String) {
        for f in Self.allCases where f.rawValue == rawValue {
            self = f
            return
        }
        return nil
    }

    /// The stable first line (`Render.firstLine`), then the table: the default.
    public static let summary = OutputFormat("summary") { Render.firstLine($0) + "\n" + Render.table($0) }
    /// The result table only.
    public static let table = OutputFormat("table") { Render.table($0) }
    /// The JSON document of docs/json.md (`readiness-probe/run/N`).
    public static let json = OutputFormat("json") { ReportJSON.text($0) + "\n" }
    /// kube-apiserver style: `[+]name ok`, `[-]name failed: ...`, then the verdict.
    public static let verbose = OutputFormat("verbose") { Render.verbose($0) }

    /// Every format, in the order `--help` lists them. A new format is its static member (in
    /// its own file in Render/ when it is more than a line) and its line here.
    public static let allCases: [OutputFormat] = [
        .summary,
        .table,
        .json,
        .verbose,
    ]

    /// Formats are equal when their names are.
    public static func == (a: OutputFormat, b: OutputFormat) -> Bool { a.rawValue == b.rawValue }
    /// Hashes the name.
    public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }

    /// The formats for a usage line: "summary|table|json|verbose" (a plain loop, as `choices`).
    static var usage: String {
        var out = ""
        for f in allCases { out += out.isEmpty ? f.rawValue : "|" + f.rawValue }
        return out
    }

    /// The formats for `--help`: "summary (default), table, json or verbose", from the cases.
    /// A plain loop: `dropLast().joined(separator:)` cost `run` a conformance scan (~130k
    /// instructions; docs/architecture.md, "The probe path").
    static var choices: String {
        var out = ""
        for (i, f) in allCases.enumerated() {
            if i > 0 { out += i == allCases.count - 1 ? " or " : ", " }
            out += f.rawValue == "summary" ? f.rawValue + " (default)" : f.rawValue
        }
        return out
    }
}

/// Renders a report for people and probes; `render(_:as:)` is what `run` and `wait` print.
public enum Render {
    /// The report in `format`, ending with a new line.
    public static func render(_ report: ProbeReport, as format: OutputFormat) -> String { format.body(report) }

    /// The stable first line: no timestamps, pids or durations, so Kubernetes folds repeats.
    public static func firstLine(_ report: ProbeReport) -> String {
        report.ready ? "ready: \(report.summary)" : "not ready (code \(report.code)): \(report.summary)"
    }

    /// The result table: one row per check (name, kind, status, code, time, detail).
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

    static func formatMs(_ ms: Double) -> String {
        if ms >= 1000 { return Decimal1.format(ms / 1000, digits: 2, fixed: true) + "s" }
        return Decimal1.format(ms, digits: 1, fixed: true) + "ms"
    }

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
    static func verboseLine(_ r: CheckResult) -> String {
        switch r.status {
        case .pass: return "[+]\(r.name) ok"
        case .warn: return "[+]\(r.name) warn: \(r.detail)"
        case .skip: return "[+]\(r.name) skipped: \(r.detail)"
        case .fail: return "[-]\(r.name) failed: \(r.detail) (code \(r.code))"
        }
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.hasSuffix(" ") { s.removeLast() }
        return s
    }
}
