// failure_threshold / success_threshold: the damper's rules, the config keys, and serve damping a
// flapping hook (a real serve process, real hooks).
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
        for (value, line) in [("0", 8), ("three", 8), ("101", 8), ("-1", 8)] {
            let path = try dir.write("bad.conf", "[probe]\nhooks_dir =\nsonic_hook =\n[start]\nprogram =\n[hook:a]\ncommand = /bin/true\nfailure_threshold = \(value)\n")
            let r = Command.run([TestPaths.binary, "validate", "--config", path])
            #expect(r.status == 8)
            #expect(r.stderr.contains("\(path):\(line)"), "\(r.stderr)")
            #expect(r.stderr.contains("failure_threshold must be a whole number from 1 to 100, not \"\(value)\""), "\(r.stderr)")
        }
    }
}

@Suite struct ThresholdServeTests {
    @Test func serveDampsAFlappingHook() async throws {
        let b = HookBench()
        let once = b.dir.file("fail-once")
        let hook = try b.dir.script("flaky", """
            echo run >> \(b.dir.file("flaky.runs"))
            if [ -e \(once) ]; then rm -f \(once); exit 40; fi
            exit $(cat \(b.dir.file("flaky.code")))
            """)
        try b.set("flaky", 0)
        let conf = try b.config([("flaky", hook, "failure_threshold = 2\nsuccess_threshold = 2")])
        let s = try await ServeProcess.start(config: conf, extra: ["--period", "100ms"])
        #expect(await s.waitFor("/readyz", status: 200) != nil)
        #expect(b.runs("flaky") >= 2)  // success_threshold = 2: one pass is not ready yet
        // One failing run between passes: damped (a warning), never reported as code 40.
        try b.dir.write("fail-once", "")
        #expect(await poll(timeout: .seconds(20)) { !Platform.exists(once) })
        let after = b.runs("flaky")
        #expect(await poll(timeout: .seconds(20)) { b.runs("flaky") >= after + 2 })
        #expect(await s.waitFor("/readyz", status: 200) != nil)
        // A lasting failure is reported (after two runs), and a recovery after two passes.
        try b.set("flaky", 40)
        #expect(await s.waitFor("/readyz", status: 503, code: 40, timeout: .seconds(20)) != nil)
        try b.set("flaky", 0)
        #expect(await s.waitFor("/readyz", status: 200, timeout: .seconds(20)) != nil)
        // serve logs each change of code: 11 (no result yet, then one pass that is not yet two: the same code),
        // ready, 40, ready. The single failure is not there.
        let changes = s.process.stderr.split(separator: "\n").filter { $0.hasPrefix("serve: ready") || $0.hasPrefix("serve: not ready") }
        #expect(changes.count == 4, "\(s.process.stderr)")
        #expect(changes.first?.hasPrefix("serve: not ready (code 11): ") == true, "\(changes)")
        #expect(changes.dropFirst().first?.hasPrefix("serve: ready") == true)
        #expect(changes.dropFirst(2).first?.hasPrefix("serve: not ready (code 40)") == true)
        #expect(changes.last?.hasPrefix("serve: ready") == true)
    }
}
