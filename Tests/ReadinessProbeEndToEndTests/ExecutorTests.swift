// The one executor against the real thing: real hooks (process groups killed and reaped), a real
// supervisord, plugin tasks, cancellation and signals. The plan's texts are RunPlanTests'.
@preconcurrency import Glibc
import Testing
import ProbeSupport
@testable import ReadinessProbe
import ProbeTestSupport

/// The live processes (not zombies) of process group `pgid`.
func liveProcesses(inGroup pgid: Int32) -> [Int32] {
    guard let names = try? Platform.listDirectory("/proc") else { return [] }
    var out: [Int32] = []
    for name in names {
        guard let pid = Int32(name), let stat = try? Platform.readTextFile("/proc/\(name)/stat", limit: 4096),
              let close = stat.lastIndex(of: ")") else { continue }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command: state, ppid, pgrp.
        if fields.count > 2, fields[0] != "Z", Int32(fields[2]) == pgid { out.append(pid) }
    }
    return out
}

@Suite(.serialized) struct ExecutorTests: HookFixtures {
    @Test func hooksPluginsAndTheirTimers() async throws {
        let dir = TempDir("exec")
        let ok = try dir.script("ok", "echo fine\n")
        let hang = try dir.script("hang", "sleep 30\n")
        let entries = [
            hook("ok", [ok]),
            hook("hang", [hang], timeout: .milliseconds(300)),
            CheckEntry(name: "plugin", kind: "test", origin: "t", check: ClosureCheck { _ in .pass("plugged") }),
            CheckEntry(name: "sleepy", kind: "test", timeout: .milliseconds(200), origin: "t", check: ClosureCheck { _ in
                try? await Task.sleep(for: .seconds(30))
                return .pass("late")
            }),
        ]
        let began = ContinuousClock.now
        let r = await ProbeRunner.run(entries, settings: settings(), timeout: .seconds(20))
        #expect(ContinuousClock.now - began < .seconds(10))
        #expect(r.results.map(\.code) == [0, 6, 0, 6])
        #expect(r.results.map(\.detail) == ["fine", "ran past its own timeout (300ms); its process group was killed", "plugged",
                                            "ran past its own timeout (200ms)"])
        #expect(r.code == 6)
    }

    @Test func overallDeadlineKillsTheHookAndIs9() throws {
        let dir = TempDir("exec")
        let pidFile = dir.file("pid")
        let hang = try dir.script("hang", "echo $$ > \(pidFile)\nsleep 30\n")
        let began = ContinuousClock.now
        // 2 s: time enough on a loaded machine for the hook to write its pid before the deadline.
        let r = ProbeRunner.runBlocking([hook("h", [hang], timeout: .seconds(20))], settings: settings(), timeout: .seconds(2))
        #expect(ContinuousClock.now - began < .seconds(10), "waited for the hook")
        #expect(r.results[0].code == 9)
        #expect(r.results[0].detail == "did not finish before the overall deadline (2s); its process group was killed")
        let pid = Int32((try Platform.readTextFile(pidFile)).trimmingASCIIWhitespace())!
        #expect(liveProcesses(inGroup: pid).isEmpty)
    }

    @Test func cancellingTheCallerStopsTheRun() async throws {
        let dir = TempDir("exec")
        let pidFile = dir.file("pid")
        let hang = try dir.script("hang", "echo $$ > \(pidFile)\nsleep 30 &\nsleep 30\n")
        let entries = [hook("h", [hang], timeout: .seconds(20)),
                       CheckEntry(name: "p", kind: "test", origin: "t", check: ClosureCheck { _ in
                           try? await Task.sleep(for: .seconds(30))
                           return .pass("late")
                       })]
        let settings = settings()
        let task = Task { await ProbeRunner.run(entries, settings: settings, timeout: .seconds(25)) }
        #expect(Wait.until { Platform.exists(pidFile) && ((try? Platform.readTextFile(pidFile)) ?? "").hasSuffix("\n") })
        task.cancel()
        let began = ContinuousClock.now
        let r = await task.value
        #expect(ContinuousClock.now - began < .seconds(5))
        #expect(r.results.map(\.code) == [9, 9])
        #expect(r.results[0].detail == "the run was stopped before this check finished; its process group was killed")
        #expect(r.results[1].detail == "the run was stopped before this check finished")
        let pid = Int32((try Platform.readTextFile(pidFile)).trimmingASCIIWhitespace())!
        #expect(liveProcesses(inGroup: pid).isEmpty)
    }

    @Test func aStartCheckPastItsOwnTimeoutIs6NotAHookTimeout() throws {
        // A stopped supervisord never answers: the start check's own 300 ms timeout ends its row
        // (code 6); the programs check waits for the fetch, which gives up before the deadline (3).
        let h = try SupervisordHarness(SupervisordConfig().start())
        defer { h.signal(SIGCONT); h.stop() }
        #expect(h.waitFor(program: "start", state: "EXITED"))
        h.signal(SIGSTOP)
        let dir = TempDir("exec")
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
        let r = ProbeRunner.runBlocking(c.entries, settings: c.settings)
        #expect(r.results.map(\.code) == [6, 3])
        #expect(r.results[0].detail == "ran past its own timeout (300ms)")
        #expect(r.results[1].detail.contains("did not answer in time"), "\(r.results[1].detail)")
        #expect(Codes.info(6)?.name == "check-timeout")
    }

    @Test func aGivenSnapshotIsUsedAsIs() throws {
        let snapshot = SupervisorSnapshot(processes: [], source: "events")
        let entries = [CheckEntry(name: "start", kind: "supervisor-start", origin: "t", check: StartCheck(program: "start", required: true)),
                       CheckEntry(name: "programs", kind: "supervisor-programs", origin: "t",
                                  check: ProgramsCheck(selectors: [.program("web")]))]
        var s = settings()
        s.supervisor.serverURL = "unix:///nonexistent/never.sock"
        let r = ProbeRunner.runBlocking(entries, settings: s, supervisor: .given(.success(snapshot)))
        #expect(r.results.map(\.code) == [2, 4])
        #expect(r.results[1].detail == "web: no such program in supervisord")
        let failed = ProbeRunner.runBlocking(entries, settings: s, supervisor: .given(.failure(
            SupervisorFailure(code: Codes.noFreshResult, detail: "ledger stale", summary: "stale"))))
        #expect(failed.results.map(\.code) == [11, 11])
        #expect(failed.results.map(\.detail) == ["ledger stale", "ledger stale"])
    }

    @Test func pluginsReadTheRunsOneSnapshot() async throws {
        let snapshot = SupervisorSnapshot(processes: [], source: "given")
        let plugin = CheckEntry(name: "p", kind: "test", origin: "t", check: ClosureCheck { ctx in
            switch await ctx.supervisorSnapshot() {
            case .success(let s): return .pass(s.source)
            case .failure(let f): return f.outcome
            }
        })
        let r = await ProbeRunner.run([plugin], settings: settings(), supervisor: .given(.success(snapshot)))
        #expect(r.results[0].detail == "given")
    }

    @Test func aBuiltInCheckRunsOnItsOwnThroughTheSameRules() async throws {
        let dir = TempDir("exec")
        let ok = try dir.script("ok", "echo fine\n")
        let hang = try dir.script("hang", "sleep 30\n")
        let context = CheckContext(deadline: .after(.seconds(5)), overallDeadline: .after(.seconds(5)), settings: settings())
        let fine = await HookCheck(argv: [ok], timeout: .seconds(3)).check(context)
        #expect(fine.status == .pass && fine.code == 0 && fine.detail == "fine")
        let late = await HookCheck(argv: [hang], timeout: .milliseconds(200)).check(context)
        #expect(late.code == 6 && late.detail == "ran past its own timeout (200ms); its process group was killed")
    }

    @Test func aOneShotRunUsesOneThreadForHooksAndTwoWithSupervisord() throws {
        // The hook reports how many threads its parent, the probe, has while it runs.
        let dir = TempDir("exec")
        let counter = try dir.script("threads", "ls /proc/$PPID/task | wc -l\n")
        let hooksOnly = try dir.write("hooks.conf", "[probe]\nrundir = \(dir.path)/run\nhooks_dir =\nsonic_hook =\n[start]\nprogram =\n[hook:threads]\ncommand = \(counter)\n")
        var r = Command.run([TestPaths.binary, "run", "--config", hooksOnly, "--format", "json"])
        #expect(r.status == 0)
        #expect(try JSON.parse(r.stdout)["checks"]?.arrayValue?.first?["detail"]?.stringValue == "1", "\(r.stdout)")

        let h = try SupervisordHarness(SupervisordConfig().start())
        defer { h.stop() }
        #expect(h.waitFor(program: "start", state: "EXITED"))
        let withStart = try dir.write("start.conf", "[probe]\nrundir = \(dir.path)/run\nhooks_dir =\nsonic_hook =\n[supervisor]\nserverurl = \(h.serverURL)\n[hook:threads]\ncommand = \(counter)\n")
        r = Command.run([TestPaths.binary, "run", "--config", withStart, "--format", "json"])
        #expect(r.status == 0, "\(r.stdout)")
        let checks = try JSON.parse(r.stdout)["checks"]?.arrayValue ?? []
        let threads = Int(checks.first { $0["name"]?.stringValue == "threads" }?["detail"]?.stringValue ?? "") ?? 0
        #expect((1...2).contains(threads), "\(r.stdout)")
    }

    /// `run` and `report kuberhealthy` (RunCommand.runOnce) under each stopping signal.
    @Test(arguments: [SIGTERM, SIGINT, SIGHUP], [["run"], ["report", "kuberhealthy", "--dry-run"]])
    func runStoppedByASignalKillsEveryHookGroupFirst(_ sig: Int32, _ command: [String]) async throws {
        // Two hooks, each with children of its own; the probe gets the signal while they run.
        let dir = TempDir("exec")
        var hooks = ""
        for name in ["a", "b"] {
            let script = try dir.script(name, "echo $$ > \(dir.file("\(name).pid"))\nsleep 30 &\nsh -c 'sleep 30' &\nsleep 30\n")
            hooks += "[hook:\(name)]\ncommand = \(script)\ntimeout = 60s\n"
        }
        let conf = try dir.write("rp.conf", "[probe]\nrundir = \(dir.path)/run\ntimeout = 60s\nhooks_dir =\nsonic_hook =\n[start]\nprogram =\n" + hooks)
        let probe = try BackgroundProcess([TestPaths.binary] + command + ["--config", conf])
        func pgid(_ name: String) -> Int32? {
            (try? Platform.readTextFile(dir.file("\(name).pid"))).flatMap { $0.hasSuffix("\n") ? Int32($0.trimmingASCIIWhitespace()) : nil }
        }
        // Wait until both hooks and their children are up.
        #expect(await Wait.untilAsync {
            guard let a = pgid("a"), let b = pgid("b") else { return false }
            return liveProcesses(inGroup: a).count >= 3 && liveProcesses(inGroup: b).count >= 3
        })
        probe.signal(sig)
        let status = await probe.waitExit(timeout: .seconds(10))
        #expect(status == 128 + sig)
        #expect(probe.stderr.contains("readiness-probe \(command.prefix(2).joined(separator: " ")): stopped by \(Signals.name(sig))"),
                "\(probe.stderr)")
        #expect(probe.stdout.isEmpty, "a stopped run prints (and reports) nothing: \(probe.stdout)")
        for name in ["a", "b"] {
            let g = try #require(pgid(name))
            #expect(liveProcesses(inGroup: g).isEmpty, "group \(g) of hook \(name) survived")
        }
    }
}
