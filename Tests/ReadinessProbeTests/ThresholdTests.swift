// failure_threshold / success_threshold: the damper's rules and the config keys (serve damping a
// flapping hook: ReadinessProbeEndToEndTests/ThresholdServeTests.swift).
import Testing
@testable import ReadinessProbe
import ProbeTestSupport
import ProbeSupport

@Suite struct ThresholdUnitTests {
    func row(_ code: Int32, _ detail: String = "d") -> CheckResult {
        CheckResult(name: "h", kind: "hook", status: code == 0 ? .pass : .fail, code: code, detail: detail, durationMs: 1)
    }

    @Test func failureAndSuccessStreaks() {
        var d = ThresholdDamper()
        let t = CheckThresholds(failure: 3, success: 2)
        // Not ready before success_threshold passes (no fail-open): code 11 until then.
        let first = d.step(row(0, "ok"), t)
        #expect(first.status == .fail && first.code == 11)
        #expect(first.detail == "passed 1 of the 2 times in a row success_threshold needs before it counts as passing: ok")
        #expect(d.step(row(0), t).status == .pass)
        // Two failures are warnings (code 0), the third one counts.
        let w = d.step(row(40, "boom"), t)
        #expect(w.status == .warn && w.code == 0 && w.detail == "failed 1 of the 3 times in a row failure_threshold needs: boom")
        #expect(d.step(row(40), t).status == .warn)
        #expect(d.step(row(0), t).status == .pass)          // a pass resets the streak
        #expect(d.step(row(40), t).status == .warn)
        #expect(d.step(row(40), t).status == .warn)
        let down = d.step(row(41, "down"), t)
        #expect(down.status == .fail && down.code == 41)
        // Recovery needs two passes; meanwhile the last failure is shown with the count.
        let recovering = d.step(row(0), t)
        #expect(recovering.status == .fail && recovering.code == 41 && recovering.detail == "down (passed 1 of the 2 times in a row success_threshold needs)")
        #expect(d.step(row(40), t).code == 40)             // a failure resets it
        #expect(d.step(row(0), t).status == .fail)
        #expect(d.step(row(0), t).status == .pass)
    }

    @Test func reportsAreReaggregatedAndUndampedChecksPassThrough() throws {
        let hook = CheckEntry(name: "h", kind: "hook", origin: "x", check: ClosureCheck { _ in .pass("") })
        var damped = hook
        damped.thresholds = CheckThresholds(failure: 2)
        let other = CheckEntry(name: "o", kind: "hook", origin: "y", check: ClosureCheck { _ in .pass("") })
        var d = ThresholdDamper()
        let failing = ProbeReport.aggregate([row(40), CheckResult(name: "o", kind: "hook", status: .pass, code: 0, detail: "ok", durationMs: 1)], durationMs: 1)
        // No thresholds anywhere: the very same report.
        #expect(d.apply(failing, entries: [hook, other]) == failing)
        // Passing first, then one failure: a warning, and the probe is ready.
        let passing = ProbeReport.aggregate([row(0), CheckResult(name: "o", kind: "hook", status: .pass, code: 0, detail: "ok", durationMs: 1)], durationMs: 1)
        #expect(d.apply(passing, entries: [damped, other]).code == 0)
        let once = d.apply(failing, entries: [damped, other])
        #expect(once.code == 0 && once.results[0].status == .warn && once.summary.contains("1 warning"))
        #expect(d.apply(failing, entries: [damped, other]).code == 40)
    }

    @Test func configKeysOnEveryCheckWithFileAndLine() throws {
        let dir = TempDir("thr")
        let ok = try dir.write("ok.conf", """
            [probe]
            hooks_dir =
            sonic_hook =
            [start]
            success_threshold = 2
            [hook:a]
            command = /bin/true
            failure_threshold = 3
            success_threshold = 1
            [state:app]
            failure_threshold = 2
            """)
        let c = try ProbeConfiguration.load(explicitPath: ok, environment: [:])
        #expect(c.entries.first { $0.name == "a" }?.thresholds == CheckThresholds(failure: 3, success: 1))
        #expect(c.entries.first { $0.name == "start" }?.thresholds == CheckThresholds(failure: 1, success: 2))
        #expect(c.entries.first { $0.name == "state:app" }?.thresholds == CheckThresholds(failure: 2, success: 1))
    }
}
