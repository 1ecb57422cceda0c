// `wait --stable-for` and `wait --fail-after` (issue #15): the binary against real hooks (the streak
// rules on their own: ReadinessProbeTests/WaitGateTests.swift).
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
            // The last run passed: the summary says it was not yet stable.
            #expect(v["summary"]?.stringValue?.contains("--stable-for needs; the --timeout (3s) ran out first") == true, "\(r.stdout)")
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
}
