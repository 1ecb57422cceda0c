// `failure_threshold` / `success_threshold` (Kubernetes' names): damping a flapping check in the
// commands that run the checks again and again and keep what they saw (`serve`, the listener's
// cached result, `wait`). A one-shot `run` keeps nothing between probes and ignores them: the
// kubelet applies its own failureThreshold/successThreshold to each exec of it.
import ProbeSupport

/// The thresholds of one check (both 1: no damping).
struct CheckThresholds: Sendable, Equatable {
    /// Consecutive failures before a passing check is reported failing.
    var failure = 1
    /// Consecutive passes before a failing check (or one that has not passed yet) is reported passing.
    var success = 1

    static let none = CheckThresholds()
    static let maximum = 100

    var damps: Bool { failure > 1 || success > 1 }

    /// `failure_threshold` and `success_threshold` of a check section (1 to 100; code 8 with file:line).
    init(_ section: INISection?) throws(ConfigError) {
        guard let section else { return }
        if let e = section.entry("failure_threshold") { failure = try ConfigValue.int(e, range: 1...CheckThresholds.maximum) }
        if let e = section.entry("success_threshold") { success = try ConfigValue.int(e, range: 1...CheckThresholds.maximum) }
    }

    init(failure: Int = 1, success: Int = 1) {
        self.failure = failure
        self.success = success
    }
}

/// Keeps, per check, what was last reported and the streak of raw results that disagree with it,
/// and rewrites each new report's rows accordingly. As in Kubernetes, a check starts as failing:
/// it is reported passing only after `success` passes in a row, so nothing is ready before that
/// (no fail-open). Rows of checks without thresholds pass through unchanged.
struct ThresholdDamper: Sendable {
    struct State: Sendable {
        var name: String
        /// What is reported now.
        var failing = true
        /// Raw results in a row that disagree with `failing`.
        var streak = 0
        /// The last raw failing row (shown while a recovery is being confirmed).
        var lastFailure: CheckResult? = nil
    }

    private(set) var states: [State] = []

    /// `report` with each damped check's row replaced by what is reported, re-aggregated.
    mutating func apply(_ report: ProbeReport, entries: [CheckEntry]) -> ProbeReport {
        guard entries.contains(where: { $0.thresholds.damps }) else { return report }
        var rows = report.results
        var changed = false
        for i in rows.indices {
            guard let entry = entries.first(where: { $0.name == rows[i].name }), entry.thresholds.damps else { continue }
            let out = step(rows[i], entry.thresholds)
            if out != rows[i] { rows[i] = out; changed = true }
        }
        if !changed { return report }
        return ProbeReport.aggregate(rows, durationMs: report.durationMs, finishedAt: report.finishedAt)
    }

    /// One raw row in, the reported row out.
    mutating func step(_ row: CheckResult, _ t: CheckThresholds) -> CheckResult {
        let k: Int
        if let found = states.firstIndex(where: { $0.name == row.name }) { k = found } else {
            states.append(State(name: row.name))
            k = states.count - 1
        }
        var s = states[k]
        defer { states[k] = s }
        let rawFailing = row.status == .fail
        if rawFailing { s.lastFailure = row }
        if rawFailing == s.failing {
            s.streak = 0
            return row
        }
        s.streak += 1
        if rawFailing {
            if s.streak >= t.failure {
                s.failing = true
                s.streak = 0
                return row
            }
            // Passing, and not yet failed often enough to count: a warning that says so.
            return CheckResult(name: row.name, kind: row.kind, status: .warn, code: 0,
                               detail: "failed \(s.streak) of the \(t.failure) times in a row failure_threshold needs: \(row.detail)",
                               summary: "failing (\(s.streak) of \(t.failure)): \(row.summary)", durationMs: row.durationMs)
        }
        if s.streak >= t.success {
            s.failing = false
            s.streak = 0
            return row
        }
        // Failing (or not passed yet), and not yet passed often enough to count.
        let need = "passed \(s.streak) of the \(t.success) times in a row success_threshold needs"
        if let last = s.lastFailure {
            return CheckResult(name: row.name, kind: row.kind, status: .fail, code: last.code, detail: "\(last.detail) (\(need))",
                               summary: last.summary, durationMs: row.durationMs)
        }
        return CheckResult(name: row.name, kind: row.kind, status: .fail, code: Codes.noFreshResult,
                           detail: "\(need) before it counts as passing: \(row.detail)",
                           summary: "not yet passed success_threshold times in a row", durationMs: row.durationMs)
    }
}
