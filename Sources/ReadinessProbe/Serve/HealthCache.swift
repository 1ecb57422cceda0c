// serve's memory: the last report of the background runs, when it finished, and run counters.
// Requests only read it; the background runner is the only writer. Nothing here runs a check.
import ProbeSupport
import Synchronization

/// What the health endpoints know at one instant.
struct HealthSnapshot: Sendable {
    /// The last finished run, or nil before the first one finished.
    var report: ProbeReport?
    /// Age of `report` on the monotonic clock.
    var age: Duration?
    /// Since the server started (how long the first run has been going, before it finishes).
    var uptime: Duration
    var runs: Int
    /// Per check name, completed runs by status (`pass`, `fail`, `warn`, `skip`).
    var checkRuns: [String: [CheckStatus: Int]]
    /// The notify programs' state after the last run (nil: no notify programs configured).
    var notify: NotifySummary? = nil
    /// Changes seen by this server's runs (check "" is the overall result): per check and new
    /// code, how many; per check, when the last one happened (epoch seconds). docs/history.md.
    var transitions: [(check: String, to: Int32, count: Int)] = []
    var lastTransition: [(check: String, at: Double)] = []
}

final class HealthCache: Sendable {
    private struct State {
        var report: ProbeReport?
        var finished: ContinuousClock.Instant?
        var runs = 0
        var checkRuns: [String: [CheckStatus: Int]] = [:]
        var notify: NotifySummary?
        var codes: [HistoryCode]? = nil
        var transitions: [(check: String, to: Int32, count: Int)] = []
        var lastTransition: [(check: String, at: Double)] = []
        /// The last state logged (code and summary of the served answer of /readyz).
        var logged: Int32?
    }

    private let state = Mutex(State())
    private let started = ContinuousClock.now
    private let log: @Sendable (String) -> Void

    /// `log` receives one line per state change (ready <-> not ready, code changes).
    init(log: @escaping @Sendable (String) -> Void = { Platform.writeStderr($0 + "\n") }) {
        self.log = log
    }

    /// Stores a finished run: `report` is the answer (after failure_threshold/success_threshold),
    /// `raw` what the checks said, from which the transition metrics count (as the history
    /// records them: a damped flapping check still shows as transitions); nil: the same as `report`.
    func store(_ report: ProbeReport, raw: ProbeReport? = nil, notify: NotifySummary? = nil) {
        state.withLock { s in
            s.report = report
            s.notify = notify
            s.finished = .now
            s.runs += 1
            for r in report.results { s.checkRuns[r.name, default: [:]][r.status, default: 0] += 1 }
            let seen = raw ?? report
            let changes = HistoryRecorder.changes(seen, previous: s.codes, by: "serve", at: seen.finishedAt)
            if let codes = changes.last?.codes { s.codes = codes }
            for c in changes {
                if let i = s.transitions.firstIndex(where: { $0.check == c.check && $0.to == c.to }) {
                    s.transitions[i].count += 1
                } else {
                    s.transitions.append((c.check, c.to, 1))
                }
                if let i = s.lastTransition.firstIndex(where: { $0.check == c.check }) {
                    s.lastTransition[i].at = c.at
                } else {
                    s.lastTransition.append((c.check, c.at))
                }
            }
        }
    }

    func snapshot() -> HealthSnapshot {
        let now = ContinuousClock.now
        return state.withLock { s in
            HealthSnapshot(report: s.report, age: s.finished.map { now - $0 }, uptime: now - started,
                           runs: s.runs, checkRuns: s.checkRuns, notify: s.notify,
                           transitions: s.transitions, lastTransition: s.lastTransition)
        }
    }

    /// Logs `line` when `code` differs from the last code noted (the first note always logs).
    func note(code: Int32, line: @autoclosure () -> String) {
        let changed = state.withLock { s -> Bool in
            if s.logged == code { return false }
            s.logged = code
            return true
        }
        if changed { log("serve: " + line()) }
    }
}
