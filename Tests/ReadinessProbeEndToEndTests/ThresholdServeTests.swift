// failure_threshold / success_threshold end to end: code 8 for bad values from the binary, and
// serve damping a flapping hook (a real serve process, real hooks).
import Testing
@testable import ReadinessProbe
import ProbeTestSupport
import ProbeSupport

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

    @Test func badValuesAreCode8WithFileAndLine() throws {
        let dir = TempDir("thr")
        for (value, line) in [("0", 8), ("three", 8), ("101", 8), ("-1", 8)] {
            let path = try dir.write("bad.conf", "[probe]\nhooks_dir =\nsonic_hook =\n[start]\nprogram =\n[hook:a]\ncommand = /bin/true\nfailure_threshold = \(value)\n")
            let r = Command.run([TestPaths.binary, "validate", "--config", path])
            #expect(r.status == 8)
            #expect(r.stderr.contains("\(path):\(line)"), "\(r.stderr)")
            #expect(r.stderr.contains("failure_threshold must be a whole number from 1 to 100, not \"\(value)\""), "\(r.stderr)")
        }
    }
}
