// `wait --stable-for` and `wait --fail-after` (issue #15): the binary against real hooks, and the
// streak rules on their own.
import Testing
@testable import ReadinessProbe
import ProbeTestSupport
import ProbeSupport
import Glibc

@Suite struct WaitStableTests {
    /// A hook that passes and fails (code 40) on alternate runs.
    func flapping(_ b: HookBench) throws -> String {
        let flag = b.dir.file("flap.flag")
        return try b.dir.script("flap", "echo run >> \(b.dir.file("flap.runs"))\nif [ -e \(flag) ]; then rm -f \(flag); exit 40; else touch \(flag); exit 0; fi\n")
    }

    @Test func flappingHookNeverEndsReady() async throws {
        let b = HookBench()
        let conf = try b.config([("flap", try flapping(b), "")])
        let r = await runCommand([TestPaths.binary, "wait", "--config", conf, "--timeout", "3s", "--interval", "100ms",
                                  "--stable-for", "1s", "--format", "json"])
        #expect(r.status == 40 || r.status == 9, "\(r.stdout)\n\(r.stderr)")
        let v = try JSON.parse(r.stdout)
        #expect(v["ready"]?.boolValue == false)
        #expect(v["code"]?.intValue == Int(r.status))
        if r.status == 9 {
            // The last run passed: one more row says it was not yet stable.
            let row = v["checks"]?.arrayValue?.last
            #expect(row?["name"]?.stringValue == "stable-for")
            #expect(row?["detail"]?.stringValue?.contains("--stable-for needs; the --timeout (3s) ran out first") == true)
        }
        #expect(b.runs("flap") >= 3)
        #expect(r.stderr.contains("wait: not ready after"))
    }

    @Test func steadyHookEndsReadyOnlyAfterTheStreak() async throws {
        let b = HookBench()
        let conf = try b.config([("app", try b.flip("app", code: 0), "")])
        let started = ContinuousClock.now
        let r = await runCommand([TestPaths.binary, "wait", "--config", conf, "--timeout", "60s", "--interval", "100ms",
                                  "--stable-for", "700ms"])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(ContinuousClock.now - started >= .milliseconds(700))
        #expect(b.runs("app") >= 2)
        #expect(r.stderr.contains("wait: ready and stable for 700ms after"))
    }

    @Test func failAfterEndsEarlyWithTheFailingCode() async throws {
        let b = HookBench()
        let conf = try b.config([("app", try b.flip("app", code: 42), "")])
        let started = ContinuousClock.now
        let r = await runCommand([TestPaths.binary, "wait", "--config", conf, "--timeout", "120s", "--interval", "100ms",
                                  "--fail-after", "500ms"])
        #expect(r.status == 42, "\(r.stdout)\n\(r.stderr)")
        #expect(ContinuousClock.now - started < .seconds(60))
        #expect(ContinuousClock.now - started >= .milliseconds(500))
        #expect(r.stdout.hasPrefix("not ready (code 42): app: exited 42\n"))
        #expect(r.stderr.contains("(--fail-after)"))
        #expect(b.runs("app") >= 2)
    }

    @Test func stableForLongerThanTheTimeoutIsAUsageError() async throws {
        let b = HookBench()
        let conf = try b.config([("app", try b.flip("app", code: 0), "")])
        let r = await runCommand([TestPaths.binary, "wait", "--config", conf, "--timeout", "5s", "--stable-for", "10s"])
        #expect(r.status == 8)
        #expect(r.stderr.contains("--stable-for 10s must be shorter than --timeout 5s"))
        #expect(b.runs("app") == 0)
    }

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
        #expect(nine.results.last?.detail == "ready for 12.3s of the 30s --stable-for needs; the --timeout (20s) ran out first")
        #expect(nine.summary == "stable-for: ready, but not yet for the --stable-for 30s")
    }
}
