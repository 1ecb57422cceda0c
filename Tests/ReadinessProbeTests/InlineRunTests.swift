// `ProbeRunner.runBlocking` runs a run made only of the built-in kinds inline (InlineRun): hooks on
// one poll loop on the calling thread, the supervisord fetch on one plain thread, no tasks. These
// tests run the same entries inline and through the async runner and compare the rows, against
// real processes and a real supervisord.
import Testing
@testable import ReadinessProbe
import ProbeTestSupport
import Glibc

@Suite(.serialized) struct InlineRunTests: HookFixtures {

    /// Both runners on the same entries; the rows must agree on names, codes and statuses.
    func bothWays(_ entries: [CheckEntry], _ settings: ProbeSettings, timeout: Duration? = nil) async -> (inline: ProbeReport, async: ProbeReport) {
        let asyncReport = await ProbeRunner.run(entries, settings: settings, timeout: timeout)
        let inline = ProbeRunner.runBlocking(entries, settings: settings, timeout: timeout)
        return (inline, asyncReport)
    }

    func expectSameRows(_ a: ProbeReport, _ b: ProbeReport, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.code == b.code, sourceLocation: sourceLocation)
        #expect(a.results.map(\.name) == b.results.map(\.name), sourceLocation: sourceLocation)
        #expect(a.results.map(\.code) == b.results.map(\.code), "\(a.results) vs \(b.results)", sourceLocation: sourceLocation)
        #expect(a.results.map(\.status) == b.results.map(\.status), sourceLocation: sourceLocation)
    }

    @Test func onlyTheBuiltInKindsGoInline() {
        let builtIn = [hook("a", ["/bin/true"]),
                       CheckEntry(name: "start", kind: "supervisor-start", origin: "test", check: StartCheck()),
                       CheckEntry(name: "s", kind: "state", origin: "test", check: StateCheck(unit: "u", rundir: "/run"))]
        #expect(InlineRun.plan(builtIn)?.count == 3)
        let plugin = CheckEntry(name: "p", kind: "plugin", origin: "test", check: ClosureCheck { _ in .pass("ok") })
        #expect(InlineRun.plan(builtIn + [plugin]) == nil)
        #expect(InlineRun.plan([]) == nil)
    }

    @Test func hookRowsMatchTheAsyncRunner() async throws {
        let dir = TempDir("inline")
        let ok = try dir.script("ok", "echo fine\n")
        let fails = try dir.script("fails", "echo 'not yet'\nexit 3\n")
        let passthrough = try dir.script("passthrough", "exit 42\n")
        let segv = try dir.script("segv", "kill -SEGV $$\n")
        let hang = try dir.script("hang", "sleep 30\n")
        let writable = try dir.script("writable", "exit 0\n")
        chmod(writable, 0o777)
        let entries = [
            hook("ok", [ok]), hook("fails", [fails]), hook("passthrough", [passthrough]), hook("segv", [segv]),
            hook("hang", [hang], timeout: .milliseconds(200)), hook("missing", [dir.file("nothere")]),
            hook("optional", [dir.file("nothere")], optional: true), hook("writable", [writable]),
        ]
        let start = ContinuousClock.now
        let (inline, asyncReport) = await bothWays(entries, settings())
        #expect(ContinuousClock.now - start < .seconds(3))
        expectSameRows(inline, asyncReport)
        #expect(inline.code == 1)
        #expect(inline.results.map(\.code) == [0, 1, 42, 7, 6, 7, 0, 7])
        #expect(inline.results[0].detail == "fine")
        #expect(inline.results[1].detail == "exited 3: not yet")
    }

    @Test func overallDeadlineIs9AndKillsTheHook() throws {
        let dir = TempDir("inline")
        let pidFile = dir.file("pid")
        let hang = try dir.script("hang", "echo $$ > \(pidFile)\nsleep 30\n")
        let start = ContinuousClock.now
        let r = ProbeRunner.runBlocking([hook("h", [hang], timeout: .seconds(10))], settings: settings(), timeout: .milliseconds(300))
        #expect(ContinuousClock.now - start < .seconds(2))
        #expect(r.code == 9)
        #expect(r.results[0].code == 9)
        let pid = Int32((try Platform.readTextFile(pidFile)).trimmingASCIIWhitespace())!
        #expect(!Platform.processExists(pid))
    }

    @Test func supervisorStateAndHookRowsMatchTheAsyncRunner() async throws {
        let h = try SupervisordHarness(programs: SupervisorQueryTests.programs)
        defer { h.stop() }
        #expect(h.waitFor(program: "start", state: "EXITED"))
        #expect(h.waitFor(program: "daemon", state: "RUNNING"))
        #expect(h.waitFor(program: "stopme", state: "RUNNING"))
        let dir = TempDir("inline")
        let ok = try dir.script("ok", "echo fine\n")
        try dir.write("run/app/pid", "\(getpid())\n")
        try dir.write("run/app/error", "0\n")
        let conf = try dir.write("rp.conf", """
            [probe]
            hooks_dir =
            sonic_hook =
            rundir = \(dir.file("run"))
            [supervisor]
            serverurl = \(h.serverURL)
            source = xmlrpc
            [programs]
            critical = daemon, stopme
            [state:app]
            [hook:ok]
            command = \(ok)
            """)
        let c = try ProbeConfiguration.load(explicitPath: conf, environment: [:])
        #expect(c.entries.map(\.name) == ["start", "programs", "state:app", "ok"])

        var (inline, asyncReport) = await bothWays(c.entries, c.settings)
        expectSameRows(inline, asyncReport)
        #expect(inline.code == 0, "\(inline.results)")
        #expect(inline.results.map(\.detail) == asyncReport.results.map(\.detail))

        _ = h.supervisorctl(["stop", "stopme"])
        #expect(h.waitFor(program: "stopme", state: "STOPPED"))
        (inline, asyncReport) = await bothWays(c.entries, c.settings)
        expectSameRows(inline, asyncReport)
        #expect(inline.code == 4)
        #expect(inline.results[1].detail == asyncReport.results[1].detail)

        h.stop()
        (inline, asyncReport) = await bothWays(c.entries, c.settings)
        expectSameRows(inline, asyncReport)
        #expect(inline.code == 3)
        #expect(inline.results.map(\.code) == [3, 3, 0, 0])
    }

    @Test func ownTimeoutOfASupervisorCheckIs6() async throws {
        // A stopped supervisord never answers: the start check's own 300 ms timeout ends its row
        // (code 6); the programs check waits for the fetch, which gives up before the deadline (3).
        let h = try SupervisordHarness(programs: SupervisordHarness.startProgram)
        defer { h.signal(SIGCONT); h.stop() }
        #expect(h.waitFor(program: "start", state: "EXITED"))
        h.signal(SIGSTOP)
        let dir = TempDir("inline")
        let conf = try dir.write("rp.conf", """
            [probe]
            hooks_dir =
            sonic_hook =
            timeout = 1500ms
            [supervisor]
            serverurl = \(h.serverURL)
            source = xmlrpc
            [start]
            timeout = 300ms
            [programs]
            critical = start
            """)
        let c = try ProbeConfiguration.load(explicitPath: conf, environment: [:])
        let began = ContinuousClock.now
        let (inline, asyncReport) = await bothWays(c.entries, c.settings)
        #expect(ContinuousClock.now - began < .seconds(5))
        expectSameRows(inline, asyncReport)
        #expect(inline.results.map(\.code) == [6, 3])
        #expect(inline.results[0].detail == "did not answer within its timeout (300ms)")
        #expect(inline.results[1].detail.contains("did not answer in time"), "\(inline.results[1].detail)")
    }

    @Test func aOneShotRunUsesOneThreadForHooksAndTwoWithSupervisord() throws {
        // The hook reports how many threads its parent, the probe, has while it runs.
        let dir = TempDir("inline")
        let counter = try dir.script("threads", "ls /proc/$PPID/task | wc -l\n")
        let hooksOnly = try dir.write("hooks.conf", "[probe]\nhooks_dir =\nsonic_hook =\n[start]\nprogram =\n[hook:threads]\ncommand = \(counter)\n")
        var r = Command.run([TestPaths.binary, "run", "--config", hooksOnly, "--format", "json"])
        #expect(r.status == 0)
        #expect(try JSON.parse(r.stdout).check("threads")?.detail == "1", "\(r.stdout)")

        let h = try SupervisordHarness(programs: SupervisordHarness.startProgram)
        defer { h.stop() }
        #expect(h.waitFor(program: "start", state: "EXITED"))
        let withStart = try dir.write("start.conf", "[probe]\nhooks_dir =\nsonic_hook =\n[supervisor]\nserverurl = \(h.serverURL)\n[hook:threads]\ncommand = \(counter)\n")
        r = Command.run([TestPaths.binary, "run", "--config", withStart, "--format", "json"])
        #expect(r.status == 0, "\(r.stdout)")
        let threads = Int(try JSON.parse(r.stdout).check("threads")?.detail ?? "") ?? 0
        #expect((1...2).contains(threads), "\(r.stdout)")
    }
}
