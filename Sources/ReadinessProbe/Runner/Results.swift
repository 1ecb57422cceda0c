// Results: what one check says (CheckOutcome), what the table holds (CheckResult),
// and what the probe says (ProbeReport).
import ProbeSupport

public enum CheckStatus: String, Sendable, CaseIterable {
    case pass, fail, warn, skip
}

/// What a check returns. `summary` is an optional stable phrase (no pids, times or counters)
/// used on the probe's first line so that Kubernetes can fold repeated events; it defaults to `detail`.
public struct CheckOutcome: Sendable, Equatable {
    public var status: CheckStatus
    public var code: Int32
    public var detail: String
    public var summary: String?

    public init(status: CheckStatus, code: Int32, detail: String, summary: String? = nil) {
        self.status = status
        self.code = code
        self.detail = detail
        self.summary = summary
    }

    public static func pass(_ detail: String) -> CheckOutcome { CheckOutcome(status: .pass, code: 0, detail: detail) }
    public static func fail(_ code: Int32, _ detail: String, summary: String? = nil) -> CheckOutcome {
        CheckOutcome(status: .fail, code: code, detail: detail, summary: summary)
    }
    public static func skip(_ detail: String) -> CheckOutcome { CheckOutcome(status: .skip, code: 0, detail: detail) }
    /// A non-failing warning (code 0): something is off, but not enough to fail the probe.
    public static func warn(_ detail: String, summary: String? = nil) -> CheckOutcome {
        CheckOutcome(status: .warn, code: 0, detail: detail, summary: summary)
    }
}

/// One row of the result table.
public struct CheckResult: Sendable, Equatable {
    public var name: String
    public var kind: String
    public var status: CheckStatus
    public var code: Int32
    public var detail: String
    public var summary: String
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
    public var code: Int32
    public var summary: String
    public var durationMs: Double
    public var results: [CheckResult]
    /// Epoch seconds when the run finished (used by cached results; not printed on the first line).
    public var finishedAt: Double

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
