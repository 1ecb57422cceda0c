// The timing rules of one run, as a value, and the only code that writes a row: an answered
// check, a check past its own timeout (code 6), and a check the run did not see finish (code 9).
import ProbeSpawn
import ProbeSupport

/// One run's deadlines and row rules. Built from the entries when the run starts; the executor
/// (Executor.swift) only decides *when*, the plan says *what* each row then is.
struct RunPlan: Sendable {
    /// One entry's identity and timing.
    struct Slot: Sendable {
        var name: String
        var kind: String
        var severity: Severity
        /// The entry's own timeout, if it has one.
        var ownTimeout: Duration?
        /// When the entry must be done: its own timeout capped by the overall deadline.
        var deadline: Deadline
        /// Whether its own timer counts: it has one and it ends before the overall deadline
        /// (else the overall deadline, code 9, is what ends it).
        var ownTimerCounts: Bool
    }

    /// Why a check did not finish (code 9).
    enum Unfinished: Sendable {
        /// The overall deadline passed.
        case deadline
        /// The run was stopped (cancelled, or `run` got SIGTERM/SIGINT/SIGHUP).
        case stopped
    }

    let start: ContinuousClock.Instant
    /// The overall limit (`--timeout`, else `[probe] timeout`).
    let limit: Duration
    let overall: Deadline
    let slots: [Slot]
    /// The supervisord processes the run's checks read (XML-RPC asks for only those).
    let supervisorQuery: SupervisorQuery
    /// When the supervisord fetch gives up: a little before the overall deadline.
    let fetchDeadline: Deadline

    init(_ entries: [CheckEntry], settings: ProbeSettings, timeout: Duration? = nil,
                start: ContinuousClock.Instant = .now) {
        self.start = start
        limit = timeout ?? settings.timeout
        overall = Deadline(start + limit)
        let overall = self.overall
        slots = entries.map { e in
            let own = e.timeout.map { Deadline(start + $0) }
            return Slot(name: e.name, kind: e.kind, severity: e.severity, ownTimeout: e.timeout,
                        deadline: overall.earlier(own), ownTimerCounts: own.map { $0 < overall } ?? false)
        }
        supervisorQuery = SupervisorQuery.needed(by: entries)
        fetchDeadline = RunPlan.fetchDeadline(overall, limit: limit)
    }

    /// A little before the overall deadline (a tenth of the limit, at most 200 ms), so that a
    /// silent supervisord is reported as what it is (code 3, "did not answer in time"), not code 9.
    static func fetchDeadline(_ overall: Deadline, limit: Duration? = nil) -> Deadline {
        let margin = min(Duration.milliseconds(200), (limit ?? overall.remaining) / 10)
        return Deadline(overall.instant - margin)
    }

    // MARK: the rows

    /// The row of a check that answered at `at`. A failure of a `warn` check shows as warn; a
    /// failure without a code is code 1.
    func answered(_ i: Int, _ outcome: CheckOutcome, at: ContinuousClock.Instant) -> CheckResult {
        let slot = slots[i]
        var status = outcome.status
        if status == .fail && slot.severity == .warn { status = .warn }
        var code = outcome.code
        if outcome.status == .fail && code == 0 { code = Codes.hookFailed }
        return CheckResult(name: slot.name, kind: slot.kind, status: status, code: code, detail: outcome.detail,
                           summary: outcome.summary, durationMs: ms(at))
    }

    /// Code 6: the check ran past its own timeout (`limit`, by default the entry's own).
    func timedOut(_ i: Int, limit: Duration? = nil, killedGroup: Bool = false,
                         at: ContinuousClock.Instant) -> CheckResult {
        let text = DurationText.format(limit ?? slots[i].ownTimeout ?? self.limit)
        return failed(i, Codes.checkTimedOut, "ran past its own timeout (\(text))" + killed(killedGroup),
                      summary: "timed out", at: at)
    }

    /// Code 9: the check had not finished when the overall deadline passed or the run was stopped.
    func unfinished(_ i: Int, _ why: Unfinished, killedGroup: Bool = false,
                           at: ContinuousClock.Instant) -> CheckResult {
        switch why {
        case .deadline:
            return failed(i, Codes.deadlineExceeded,
                          "did not finish before the overall deadline (\(DurationText.format(limit)))" + killed(killedGroup),
                          summary: "did not finish before the overall deadline", at: at)
        case .stopped:
            return failed(i, Codes.deadlineExceeded, "the run was stopped before this check finished" + killed(killedGroup),
                          summary: "run stopped", at: at)
        }
    }

    /// The row of a check whose result came at `at`: answered, unless its own timer counts and
    /// had already run out (code 6, at its deadline) or the overall deadline had (code 9).
    func arrived(_ i: Int, _ outcome: CheckOutcome, at: ContinuousClock.Instant) -> CheckResult {
        let slot = slots[i]
        if slot.ownTimerCounts && at > slot.deadline.instant { return timedOut(i, at: slot.deadline.instant) }
        if at > overall.instant { return unfinished(i, .deadline, at: overall.instant) }
        return answered(i, outcome, at: at)
    }

    /// The row of a child process that ended: killed at its own timeout (`limit`) is code 6, at
    /// the overall deadline or because the run stopped code 9; otherwise `interpret` reads it.
    func process(_ i: Int, _ outcome: ProcessOutcome, limit: Duration, stopped: Bool,
                 interpret: (ProcessOutcome) -> CheckOutcome, at: ContinuousClock.Instant) -> CheckResult {
        switch outcome.termination {
        case .timedOut: return timedOut(i, limit: limit, killedGroup: true, at: at)
        case .deadlineExceeded: return unfinished(i, stopped ? .stopped : .deadline, killedGroup: true, at: at)
        case .exited, .signaled, .spawnFailed: return answered(i, interpret(outcome), at: at)
        }
    }

    /// The report: every row, with code 9 for those that never came.
    func report(_ rows: [CheckResult?], stopped: Bool, at: ContinuousClock.Instant) -> ProbeReport {
        let all = rows.enumerated().map { i, row in row ?? unfinished(i, stopped ? .stopped : .deadline, at: at) }
        return ProbeReport.aggregate(all, durationMs: ms(at))
    }

    private func failed(_ i: Int, _ code: Int32, _ detail: String, summary: String, at: ContinuousClock.Instant) -> CheckResult {
        answered(i, .fail(code, detail, summary: summary), at: at)
    }

    private func killed(_ yes: Bool) -> String { yes ? "; its process group was killed" : "" }

    private func ms(_ at: ContinuousClock.Instant) -> Double { max(0, (at - start).millisecondsDouble) }
}
