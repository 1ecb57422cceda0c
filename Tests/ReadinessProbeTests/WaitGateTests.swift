// `wait --stable-for` / `--fail-after`: the streak rules on their own (the binary against real
// hooks: ReadinessProbeEndToEndTests/WaitStableTests.swift).
import Testing
@testable import ReadinessProbe
import ProbeSupport

@Suite struct WaitGateTests {
    @Test func gateRules() {
        let t0 = ContinuousClock.now
        var g = WaitCommand.WaitGate(stableFor: .seconds(10), failAfter: .seconds(5))
        #expect(g.observe(0, at: t0) == .keepWaiting)
        #expect(g.observe(0, at: t0 + .seconds(9)) == .keepWaiting)
        #expect(!g.isStable)
        #expect(g.observe(4, at: t0 + .seconds(9.5)) == .keepWaiting)       // the streak is broken
        #expect(g.observe(0, at: t0 + .seconds(11)) == .keepWaiting)
        #expect(g.observe(0, at: t0 + .seconds(20)) == .keepWaiting)        // 9 s since t0+11
        #expect(g.nextDecision == t0 + .seconds(21))
        #expect(g.observe(0, at: t0 + .seconds(21)) == .ready)
        #expect(g.isStable)
        #expect(g.observe(4, at: t0 + .seconds(30)) == .keepWaiting)
        #expect(g.observe(6, at: t0 + .seconds(34)) == .keepWaiting)        // any failing code continues the streak
        #expect(g.observe(4, at: t0 + .seconds(35)) == .failedTooLong)
        var plain = WaitCommand.WaitGate()
        #expect(plain.observe(3, at: t0) == .keepWaiting)
        #expect(plain.observe(0, at: t0 + .seconds(1)) == .ready)
        let ready = ProbeReport.aggregate([CheckResult(name: "a", kind: "hook", status: .pass, code: 0, detail: "ok", durationMs: 1)], durationMs: 1)
        var short = WaitCommand.WaitGate(stableFor: .seconds(30))
        _ = short.observe(0, at: t0)
        _ = short.observe(0, at: t0 + .milliseconds(12_300))
        let nine = short.notYetStable(ready, ended: "the --timeout (20s) ran out")
        #expect(nine.code == 9 && !nine.ready)
        #expect(nine.results == ready.results)
        #expect(nine.summary == "ready for 12.3s, not yet the 30s --stable-for needs; the --timeout (20s) ran out first")
    }
}
