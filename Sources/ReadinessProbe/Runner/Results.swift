// Results: what one check says (CheckOutcome), what the table holds (CheckResult),
// and what the probe says (ProbeReport).
import ProbeSupport

/// A row's status: `fail` fails the probe (unless its severity is warn); the others never do.
public enum CheckStatus: String, Sendable, CaseIterable {
    case pass, fail, warn, skip
}

/// What a check returns. `summary` is an optional stable phrase (no pids, times or counters)
/// used on the probe's first line so that Kubernetes can fold repeated events; it defaults to `detail`.
public struct CheckOutcome: Sendable, Equatable {
    /// pass, fail, warn or skip.
    public var status: CheckStatus
    /// 0 unless it failed; a failure's documented code (`Codes.table`; 16-254 for a plugin's own).
    public var code: Int32
    /// One line: what the check saw (control characters and length are cut in the table).
    public var detail: String
    /// The stable phrase for the probe's first line (nil: `detail`).
    public var summary: String?

    /// An outcome; usually written with `.pass`, `.fail`, `.warn` or `.skip`.
    public init(status: CheckStatus, code: Int32, detail: String, summary: String? = nil) {
        self.status = status
        self.code = code
        self.detail = detail
        self.summary = summary
    }

    /// The check passed (code 0).
    public static func pass(_ detail: String) -> CheckOutcome { CheckOutcome(status: .pass, code: 0, detail: detail) }
    /// The check failed with `code` (not 0: a failure with code 0 reports 1); `summary` is the
    /// stable phrase for the probe's first line.
    public static func fail(_ code: Int32, _ detail: String, summary: String? = nil) -> CheckOutcome {
        CheckOutcome(status: .fail, code: code, detail: detail, summary: summary)
    }
    /// The check did not apply (code 0; never fails the probe).
    public static func skip(_ detail: String) -> CheckOutcome { CheckOutcome(status: .skip, code: 0, detail: detail) }
    /// A non-failing warning (code 0): something is off, but not enough to fail the probe.
    public static func warn(_ detail: String, summary: String? = nil) -> CheckOutcome {
        CheckOutcome(status: .warn, code: 0, detail: detail, summary: summary)
    }
}

/// One row of the result table.
public struct CheckResult: Sendable, Equatable {
    /// The check's name (`CheckEntry.name`).
    public var name: String
    /// Its kind (`CheckEntry.kind`).
    public var kind: String
    /// pass, fail, warn (a failure of a `warn` check, or a warning) or skip.
    public var status: CheckStatus
    /// The code: 0, or the failure's code (6 and 9 for a check the runner timed out).
    public var code: Int32
    /// One line, at most 300 characters.
    public var detail: String
    /// The stable phrase for the probe's first line.
    public var summary: String
    /// From the run's start to the moment this row was decided.
    public var durationMs: Double

    init(name: String, kind: String, status: CheckStatus, code: Int32, detail: String,
                summary: String? = nil, durationMs: Double) {
        self.name = name
        self.kind = kind
        self.status = status
        self.code = code
        self.detail = CheckResult.oneLine(detail)
        self.summary = CheckResult.oneLine(summary ?? detail)
        self.durationMs = durationMs
    }

    /// Details are one line: control characters become spaces, length is capped.
    static func oneLine(_ s: String, limit: Int = 300) -> String {
        // Most details are already one clean line: return them as they are (no copy). UTF-8
        // continuation bytes are >= 0x80, so a byte below 0x20 or 0x7F is a control character.
        let utf8 = s.utf8
        if utf8.count <= limit, utf8.first != 0x20, utf8.last != 0x20,
           !utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            return s
        }
        var out = String.UnicodeScalarView()
        var count = 0
        for scalar in s.unicodeScalars {
            if count >= limit { out.append(contentsOf: "...".unicodeScalars); break }
            out.append(scalar.value < 0x20 || scalar.value == 0x7F ? " " : scalar)
            count += 1
        }
        return String(out).trimmingASCIIWhitespace()
    }
}

/// The probe's answer: the aggregated code and the table.
public struct ProbeReport: Sendable, Equatable {
    /// The probe's exit status: 0 when ready, else the code of the first failing row in table order.
    public var code: Int32
    /// The first line's text: `N of M checks passed`, or `NAME: SUMMARY (+K more failing)`.
    public var summary: String
    /// How long the run took.
    public var durationMs: Double
    /// The table, in table order.
    public var results: [CheckResult]
    /// Epoch seconds when the run finished (used by cached results; not printed on the first line).
    public var finishedAt: Double

    /// Whether the probe says ready (code 0).
    public var ready: Bool { code == 0 }

    init(code: Int32, summary: String, durationMs: Double, results: [CheckResult], finishedAt: Double) {
        self.code = code
        self.summary = summary
        self.durationMs = durationMs
        self.results = results
        self.finishedAt = finishedAt
    }

    /// Aggregates per the contract: the first failing check in table order decides;
    /// warn and skip never fail the probe.
    static func aggregate(_ results: [CheckResult], durationMs: Double, finishedAt: Double = Platform.epochSeconds()) -> ProbeReport {
        if let first = results.first(where: { $0.status == .fail }) {
            let failing = results.filter { $0.status == .fail }.count
            var summary = "\(first.name): \(first.summary)"
            if failing > 1 { summary += " (+\(failing - 1) more failing)" }
            return ProbeReport(code: first.code == 0 ? Codes.hookFailed : first.code, summary: summary,
                               durationMs: durationMs, results: results, finishedAt: finishedAt)
        }
        let passed = results.filter { $0.status == .pass }.count
        var summary = results.isEmpty ? "no checks configured" : "\(passed) of \(results.count) checks passed"
        let warned = results.filter { $0.status == .warn }.count
        if warned > 0 { summary += ", \(warned) warning\(warned == 1 ? "" : "s")" }
        return ProbeReport(code: 0, summary: summary, durationMs: durationMs, results: results, finishedAt: finishedAt)
    }
}
