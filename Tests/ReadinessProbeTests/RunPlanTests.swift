// The run plan's rules, exactly: the rows (status, code, detail, summary, duration) it writes for
// an answer, a check past its own timeout (6) and a check that did not finish (9). The executor
// decides only when; these are what every command shows (RunnerTests checks it end to end).
import Testing
import ProbeSupport
@testable import ReadinessProbe
import ProbeSpawn

@Suite struct RunPlanTests {
    let start = ContinuousClock.now
    var settings: ProbeSettings {
        var s = ProbeSettings()
        s.timeout = .seconds(2)
        return s
    }

    func entries() -> [CheckEntry] {
        [
            CheckEntry(name: "quick", kind: "test", timeout: .milliseconds(300), origin: "t", check: ClosureCheck { _ in .pass("ok") }),
            CheckEntry(name: "soft", kind: "test", severity: .warn, timeout: .milliseconds(300), origin: "t",
                       check: ClosureCheck { _ in .pass("ok") }),
            CheckEntry(name: "long", kind: "test", timeout: .seconds(5), origin: "t", check: ClosureCheck { _ in .pass("ok") }),
            CheckEntry(name: "none", kind: "test", origin: "t", check: ClosureCheck { _ in .pass("ok") }),
        ]
    }

    func fields(_ r: CheckResult) -> [String] { [r.name, r.kind, r.status.rawValue, String(r.code), r.detail, r.summary] }

    @Test func deadlinesAndOwnTimers() {
        let plan = RunPlan(entries(), settings: settings, start: start)
        #expect(plan.overall.instant == start + .seconds(2))
        #expect(plan.slots.map(\.ownTimerCounts) == [true, true, false, false])
        #expect(plan.slots[0].deadline.instant == start + .milliseconds(300))
        #expect(plan.slots[2].deadline.instant == start + .seconds(2))  // capped by the overall deadline
        #expect(plan.slots[3].deadline.instant == start + .seconds(2))
        // The fetch gives up a tenth of the limit (at most 200 ms) before the overall deadline.
        #expect(plan.fetchDeadline.instant == start + .milliseconds(1800))
        let short = RunPlan(entries(), settings: settings, timeout: .milliseconds(500), start: start)
        #expect(short.fetchDeadline.instant == start + .milliseconds(450))
    }

    @Test func answeredRows() {
        let plan = RunPlan(entries(), settings: settings, start: start)
        let at = start + .milliseconds(12)
        #expect(fields(plan.answered(0, .pass("fine"), at: at)) == ["quick", "test", "pass", "0", "fine", "fine"])
        #expect(plan.answered(0, .pass("fine"), at: at).durationMs == 12)
        // A failure of a warn check is a warning with its code; a failure without a code is 1.
        #expect(fields(plan.answered(1, .fail(30, "low", summary: "low disk"), at: at)) == ["soft", "test", "warn", "30", "low", "low disk"])
        #expect(fields(plan.answered(0, .fail(0, "broken"), at: at)) == ["quick", "test", "fail", "1", "broken", "broken"])
    }

    @Test func code6AndCode9Texts() {
        let plan = RunPlan(entries(), settings: settings, start: start)
        let at = start + .milliseconds(300)
        #expect(fields(plan.timedOut(0, at: at)) == ["quick", "test", "fail", "6", "ran past its own timeout (300ms)", "timed out"])
        #expect(fields(plan.timedOut(0, limit: .milliseconds(250), killedGroup: true, at: at))
                == ["quick", "test", "fail", "6", "ran past its own timeout (250ms); its process group was killed", "timed out"])
        #expect(fields(plan.timedOut(1, at: at)) == ["soft", "test", "warn", "6", "ran past its own timeout (300ms)", "timed out"])
        #expect(fields(plan.unfinished(3, .deadline, at: at))
                == ["none", "test", "fail", "9", "did not finish before the overall deadline (2s)", "did not finish before the overall deadline"])
        #expect(fields(plan.unfinished(2, .deadline, killedGroup: true, at: at))
                == ["long", "test", "fail", "9", "did not finish before the overall deadline (2s); its process group was killed",
                    "did not finish before the overall deadline"])
        #expect(fields(plan.unfinished(3, .stopped, at: at)) == ["none", "test", "fail", "9", "the run was stopped before this check finished", "run stopped"])
        #expect(plan.timedOut(0, at: at).durationMs == 300)
    }

    @Test func aResultIsJudgedByWhenItCame() {
        let plan = RunPlan(entries(), settings: settings, start: start)
        // Before its own deadline: answered. After it: code 6 at the deadline. After the overall deadline: 9.
        #expect(plan.arrived(0, .pass("ok"), at: start + .milliseconds(299)).code == 0)
        let late = plan.arrived(0, .pass("ok"), at: start + .milliseconds(301))
        #expect(late.code == 6 && late.durationMs == 300)
        #expect(plan.arrived(3, .pass("ok"), at: start + .milliseconds(2001)).code == 9)
        #expect(plan.arrived(2, .pass("ok"), at: start + .milliseconds(1999)).code == 0)
    }

    @Test func processRows() {
        let plan = RunPlan(entries(), settings: settings, start: start)
        let at = start + .milliseconds(50)
        func row(_ t: Termination, stopped: Bool = false) -> [String] {
            fields(plan.process(2, ProcessOutcome(termination: t, stdout: Array("hello\n".utf8)), limit: .milliseconds(700),
                                stopped: stopped, interpret: HookCheck.interpret, at: at))
        }
        #expect(row(.exited(0)) == ["long", "test", "pass", "0", "hello", "hello"])
        #expect(row(.exited(3)) == ["long", "test", "fail", "1", "exited 3: hello", "hello"])
        #expect(row(.exited(42)) == ["long", "test", "fail", "42", "exited 42: hello", "hello"])
        #expect(row(.signaled(11)) == ["long", "test", "fail", "7", "killed by signal SIGSEGV (11): hello", "killed by signal SIGSEGV"])
        #expect(row(.timedOut) == ["long", "test", "fail", "6", "ran past its own timeout (700ms); its process group was killed", "timed out"])
        #expect(row(.deadlineExceeded) == ["long", "test", "fail", "9",
                                           "did not finish before the overall deadline (2s); its process group was killed",
                                           "did not finish before the overall deadline"])
        #expect(row(.deadlineExceeded, stopped: true)
                == ["long", "test", "fail", "9", "the run was stopped before this check finished; its process group was killed", "run stopped"])
    }

    @Test func theReportFillsMissingRowsWith9() {
        let plan = RunPlan(entries(), settings: settings, start: start)
        let at = start + .seconds(2)
        let report = plan.report([plan.answered(0, .pass("ok"), at: start), nil, nil, nil], stopped: false, at: at)
        #expect(report.results.map(\.code) == [0, 9, 9, 9])
        #expect(report.code == 9)
        #expect(report.summary == "long: did not finish before the overall deadline (+1 more failing)")
        #expect(report.results[1].status == .warn)  // severity = warn still applies
    }
}
