import Testing
import ProbeSupport
@testable import ReadinessProbe
import ProbeTestSupport

/// A plugin registered the way a library user registers one.
struct FixedCheck: Check {
    var outcome: CheckOutcome
    var delay: Duration = .zero
    func check(_ context: CheckContext) async -> CheckOutcome {
        if delay > .zero { try? await Task.sleep(for: delay) }
        return outcome
    }
}

func entry(_ name: String, _ outcome: CheckOutcome, delay: Duration = .zero, severity: Severity = .fail,
           timeout: Duration? = nil) -> CheckEntry {
    CheckEntry(name: name, kind: "test", severity: severity, timeout: timeout, origin: "test",
               check: FixedCheck(outcome: outcome, delay: delay))
}

/// A check whose answer is known at once (`CheckWork.answer`): its row is written on the executor's
/// own thread, so it does not wait for Swift's task pool (which parallel tests may keep busy).
struct AnsweredCheck: Check {
    var outcome: CheckOutcome
    func check(_ context: CheckContext) async -> CheckOutcome { outcome }
    func work(_ settings: ProbeSettings) -> CheckWork { .answer(outcome) }
}

/// The runner's rules with plugin checks. Unit tests run in parallel, so a task-based check may wait
/// seconds for a thread of Swift's task pool: a run whose deadline is not the point of the test gets
/// a long one (`roomy`), and a deadline test answers its "fast" row without a task.
@Suite struct RunnerTests {
    var settings: ProbeSettings { ProbeSettings() }
    let roomy: Duration = .seconds(60)

    @Test func firstFailureInTableOrderDecides() async {
        let report = await ProbeRunner.run([
            entry("a", .pass("fine")),
            entry("b", .fail(4, "program x is STOPPED"), delay: .milliseconds(50)),
            entry("c", .fail(2, "start still running")),
        ], settings: settings, timeout: roomy)
        #expect(report.code == 4)
        #expect(report.summary == "b: program x is STOPPED (+1 more failing)")
        #expect(report.results.map(\.name) == ["a", "b", "c"])
    }

    @Test func warnSeverityNeverFails() async {
        let report = await ProbeRunner.run([entry("a", .fail(42, "meh"), severity: .warn), entry("b", .pass("ok"))],
                                           settings: settings, timeout: roomy)
        #expect(report.code == 0)
        #expect(report.results[0].status == .warn)
        #expect(report.results[0].code == 42)
    }

    @Test func overallDeadlineGivesCode9Rows() async {
        let start = ContinuousClock.now
        let fast = CheckEntry(name: "fast", kind: "test", origin: "test", check: AnsweredCheck(outcome: .pass("ok")))
        let report = await ProbeRunner.run([fast, entry("slow", .pass("late"), delay: .seconds(30))],
                                           settings: settings, timeout: .milliseconds(200))
        // Returned at the deadline, not after the slow check's 30 s (the bound leaves room for a loaded machine).
        #expect(ContinuousClock.now - start < .seconds(20))
        #expect(report.code == 9)
        #expect(report.results[1].code == 9 && report.results[1].status == .fail)
        #expect(report.results[1].detail.contains("overall deadline (200ms)"))
        #expect(report.results[0].status == .pass, "\(report.results)")
    }

    @Test func ownTimeoutGivesCode6() async {
        let report = await ProbeRunner.run([entry("slow", .pass("late"), delay: .seconds(30), timeout: .milliseconds(100))],
                                           settings: settings, timeout: roomy)
        #expect(report.code == 6)
        #expect(report.results[0].detail.contains("timeout (100ms)"))
    }

    @Test func noChecksIsReady() async {
        let report = await ProbeRunner.run([], settings: settings)
        #expect(report.ready && report.summary == "no checks configured")
    }

    @Test func sharedWorkRunsOnce() async {
        let services = RunServices()
        let counter = Counter()
        let c = ClosureCheck { ctx in
            let n: Int = await ctx.services.shared("k") { counter.increment() }
            return .pass("\(n)")
        }
        let entries = (0..<5).map { CheckEntry(name: "c\($0)", kind: "t", origin: "t", check: c) }
        let report = await ProbeRunner.run(entries, settings: settings, timeout: roomy, services: services)
        #expect(report.results.allSatisfy { $0.detail == "1" })
        #expect(counter.value == 1)
    }
}

@Suite struct RenderTests {
    let report = ProbeReport.aggregate([
        CheckResult(name: "start", kind: "supervisor-start", status: .pass, code: 0, detail: "start exited 0", durationMs: 1.1),
        CheckResult(name: "programs", kind: "supervisor-programs", status: .fail, code: 4,
                    detail: "program syncd is STOPPED (Nov 22 01:30 AM)", summary: "program syncd is STOPPED", durationMs: 1.2),
    ], durationMs: 2.4)

    @Test func summaryFirstLineIsStable() {
        let out = Render.render(report, as: .summary)
        let first = out.split(separator: "\n").first.map(String.init)
        #expect(first == "not ready (code 4): programs: program syncd is STOPPED")
        #expect(out.contains("CHECK     KIND"))
    }

    @Test func tableColumnsAlignForASCIIAndCombiningNames() {
        #expect(Render.table(report) == """
            CHECK     KIND                 STATUS  CODE  TIME   DETAIL
            start     supervisor-start     pass    0     1.1ms  start exited 0
            programs  supervisor-programs  fail    4     1.2ms  program syncd is STOPPED (Nov 22 01:30 AM)

            """)
        // "e" + a combining acute accent is one character wide: padded as one, not as two scalars.
        let accented = ProbeReport.aggregate([
            CheckResult(name: "cafe\u{301}", kind: "hook", status: .pass, code: 0, detail: "", durationMs: 1),
            CheckResult(name: "tea", kind: "hook", status: .pass, code: 0, detail: "ok", durationMs: 1),
        ], durationMs: 1)
        #expect(Render.table(accented) == """
            CHECK  KIND  STATUS  CODE  TIME   DETAIL
            cafe\u{301}   hook  pass    0     1.0ms
            tea    hook  pass    0     1.0ms  ok

            """)
    }

    @Test func jsonMatchesContract() throws {
        let v = try JSON.parse(ReportJSON.text(report))
        #expect(v["ready"] == .bool(false))
        #expect(v["code"]?.intValue == 4)
        #expect(v["summary"]?.stringValue == "programs: program syncd is STOPPED")
        #expect(v["checks"]?.arrayValue?.count == 2)
        let c = v["checks"]!.arrayValue![0]
        for key in ["name", "kind", "status", "code", "detail", "duration_ms"] { #expect(c[key] != nil, "\(key)") }
        let back = ReportJSON.report(from: v, finishedAt: 0)
        #expect(back?.results.map(\.detail) == report.results.map(\.detail))
        #expect(back?.summary == report.summary && back?.code == 4)
    }

    @Test func verboseIsKubeStyle() {
        let out = Render.verbose(report)
        #expect(out == "[+]start ok\n[-]programs failed: program syncd is STOPPED (Nov 22 01:30 AM) (code 4)\nreadiness check failed\n")
    }

    @Test func detailsAreOneLine() {
        let r = CheckResult(name: "x", kind: "k", status: .fail, code: 1, detail: "a\nb\tc", durationMs: 0)
        #expect(r.detail == "a b c")
    }
}

@Suite struct CodesTests {
    @Test func docsEqualCodeTable() throws {
        let doc = try Platform.readTextFile(TestPaths.packageRoot + "/docs/codes.md")
        #expect(doc == Codes.markdown(), "docs/codes.md is stale: run `make docs`")
    }

    @Test func hookExitMapping() {
        #expect(Codes.forHookExit(0) == 0)
        #expect(Codes.forHookExit(1) == 1)
        #expect(Codes.forHookExit(3) == 1)
        #expect(Codes.forHookExit(15) == 1)
        #expect(Codes.forHookExit(16) == 16)
        #expect(Codes.forHookExit(42) == 42)
        #expect(Codes.forHookExit(254) == 254)
        #expect(Codes.forHookExit(255) == 1)
    }
}

@Suite struct ShellWordsTests {
    @Test func splitsLikeAShell() throws {
        #expect(try ShellWords.split(#"/usr/bin/x --quick 'a b' "c \"d\"" e\ f"#) == ["/usr/bin/x", "--quick", "a b", "c \"d\"", "e f"])
        #expect(try ShellWords.split("  ") == [])
        #expect(try ShellWords.split("''") == [""])
        #expect(try ShellWords.split("$HOME `x`") == ["$HOME", "`x`"])
    }
    @Test func rejectsUnterminated() {
        #expect(throws: ShellWords.SplitError.self) { try ShellWords.split("'a") }
        #expect(throws: ShellWords.SplitError.self) { try ShellWords.split("\"a") }
        #expect(throws: ShellWords.SplitError.self) { try ShellWords.split("a\\") }
    }
}
