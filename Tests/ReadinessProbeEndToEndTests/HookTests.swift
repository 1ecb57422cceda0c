import Testing
import ProbeSupport
@testable import ReadinessProbe
import ProbeTestSupport
import Glibc

/// Hooks end to end: config -> registry -> runner -> real processes.
/// Settings with no hooks of their own (no hooks_dir, no SONiC hook), and hook entries.
protocol HookFixtures {}

extension HookFixtures {
    func settings() -> ProbeSettings {
        var s = ProbeSettings()
        s.hooksDir = ""
        s.sonicHook = ""
        return s
    }

    func hook(_ name: String, _ argv: [String], timeout: Duration = .seconds(3), optional: Bool = false) -> CheckEntry {
        CheckEntry(name: name, kind: "hook", timeout: timeout, origin: "test",
                   check: HookCheck(argv: argv, timeout: timeout, optional: optional))
    }
}

@Suite struct HookTests: HookFixtures {

    @Test(arguments: [(0, 0, CheckStatus.pass), (1, 1, .fail), (3, 1, .fail), (42, 42, .fail), (255, 1, .fail), (16, 16, .fail)])
    func exitStatusMapping(_ exit: Int32, _ code: Int32, _ status: CheckStatus) async throws {
        let dir = TempDir("hook")
        let path = try dir.script("h", "echo 'first line'\necho second\nexit \(exit)\n")
        let r = await ProbeRunner.run([hook("h", [path])], settings: settings())
        #expect(r.results[0].code == code)
        #expect(r.results[0].status == status)
        #expect(r.results[0].detail.contains("first line"))
        #expect(r.code == code)
    }

    @Test func killedBySignalIs7() async throws {
        let dir = TempDir("hook")
        let path = try dir.script("h", "kill -SEGV $$\n")
        let r = await ProbeRunner.run([hook("h", [path])], settings: settings())
        #expect(r.results[0].code == 7)
        #expect(r.results[0].detail.contains("SIGSEGV"))
    }

    @Test func notExecutableMissingAndUnsafe() async throws {
        let dir = TempDir("hook")
        let noexec = try dir.write("noexec", "#!/bin/sh\nexit 0\n", mode: 0o644)
        let writable = try dir.script("writable", "exit 0\n")
        chmod(writable, 0o775)
        let otherWritable = try dir.script("ow", "exit 0\n")
        chmod(otherWritable, 0o757)
        let r = await ProbeRunner.run([
            hook("noexec", [noexec]),
            hook("missing", [dir.file("nothere")]),
            hook("missing-optional", [dir.file("nothere")], optional: true),
            hook("group-writable", [writable]),
            hook("other-writable", [otherWritable]),
        ], settings: settings())
        let byName = Dictionary(uniqueKeysWithValues: r.results.map { ($0.name, $0) })
        #expect(byName["noexec"]?.code == 7)
        #expect(byName["noexec"]?.detail.contains("not executable") == true)
        #expect(byName["missing"]?.code == 7)
        #expect(byName["missing"]?.detail.contains("does not exist") == true)
        #expect(byName["missing-optional"]?.status == .skip)
        #expect(byName["group-writable"]?.code == 7)
        #expect(byName["group-writable"]?.detail.contains("writable by its group") == true)
        #expect(byName["other-writable"]?.detail.contains("writable by others") == true)
        #expect(r.code == 7)
    }

    @Test func timeoutKillsTheWholeGroup() async throws {
        let dir = TempDir("hook")
        let pidFile = dir.file("pids")
        let path = try dir.script("h", "sleep 30 &\necho $! > \(pidFile)\nsleep 30\n")
        let start = ContinuousClock.now
        // 2 s: time enough on a loaded machine for the hook to write its pid before it is killed.
        let r = await ProbeRunner.run([hook("h", [path], timeout: .seconds(2))], settings: settings())
        #expect(ContinuousClock.now - start < .seconds(10), "waited for the 30 s sleeps")
        #expect(r.results[0].code == 6)
        #expect(r.code == 6)
        let bg = Int32((try Platform.readTextFile(pidFile)).trimmingASCIIWhitespace())!
        // The background sleep was in the hook's group: it must be gone and reaped.
        #expect(Wait.until(timeout: .seconds(10)) { !Platform.processExists(bg) })
    }

    @Test func hugeOutputIsBoundedAndCounted() async throws {
        let dir = TempDir("hook")
        let path = try dir.script("h", "head -c 52428800 /dev/zero | tr '\\0' x\nhead -c 52428800 /dev/zero >&2\n")
        let r = await ProbeRunner.run([hook("h", [path], timeout: .seconds(20))], settings: settings(), timeout: .seconds(25))
        #expect(r.results[0].status == .pass)
        #expect(r.results[0].detail.count <= 200)
    }

    /// A rendezvous, not a stopwatch: every hook leaves a mark as it starts, and each of the 16
    /// quick ones passes only once all 20 marks are there (it waits up to its 20 s timeout). That
    /// happens only when all twenty run at once: one after another, the first quick hook would
    /// wait for marks that never come and time out. The 4 that hang are killed at their own 3 s.
    @Test func twentyHooksRunConcurrently() async throws {
        let dir = TempDir("hook")
        let marks = dir.file("marks")
        #expect(mkdir(marks, 0o755) == 0)
        let quick = try dir.script("quick", "touch \(marks)/$$\nwhile [ \"$(ls \(marks) | wc -l)\" -lt 20 ]; do sleep 0.05; done\necho all 20 started\n")
        let hang = try dir.script("hang", "touch \(marks)/$$\nexec sleep 30\n")
        var entries: [CheckEntry] = []
        for i in 0..<16 { entries.append(hook("q\(i)", [quick], timeout: .seconds(20))) }
        for i in 0..<4 { entries.append(hook("h\(i)", [hang], timeout: .seconds(3))) }
        let r = await ProbeRunner.run(entries, settings: settings(), timeout: .seconds(30))
        let rows = r.results.map { "\($0.name): \($0.detail)" }
        #expect(r.results.filter { $0.code == 6 }.count == 4, "\(rows)")
        #expect(r.results.filter { $0.status == .pass && $0.detail == "all 20 started" }.count == 16, "\(rows)")
    }

    @Test func overallDeadlineShorterThanHookTimeoutIs9() async throws {
        let dir = TempDir("hook")
        let hang = try dir.script("hang", "sleep 30\n")
        let r = await ProbeRunner.run([hook("h", [hang], timeout: .seconds(10))], settings: settings(), timeout: .milliseconds(300))
        #expect(r.code == 9)
        #expect(r.results[0].code == 9)
    }

    @Test func hooksFromSectionsDirAndSonicPathInOrder() throws {
        let dir = TempDir("hook")
        try dir.script("hooks.d/20-b", "exit 0\n")
        try dir.script("hooks.d/10-a", "exit 0\n")
        try dir.write("hooks.d/30-noexec", "exit 0\n")
        try dir.script("hooks.d/.hidden", "exit 0\n")
        let sonic = try dir.script("sonic_hook", "exit 0\n")
        let conf = try dir.write("rp.conf", """
        [probe]
        hooks_dir = \(dir.file("hooks.d"))
        sonic_hook = \(sonic)
        [hook:z-first]
        command = /bin/true
        [hook:a-second]
        command = /bin/true
        """)
        let c = try ProbeConfiguration.load(explicitPath: conf, environment: [:])
        #expect(c.entries.map(\.name) == ["start", "z-first", "a-second", "10-a", "20-b", "sonic_hook"])
    }

    @Test func binaryRunsHooksAndPrintsJSON() throws {
        let dir = TempDir("hook")
        try dir.script("hooks.d/10-ok", "echo all good\n")
        try dir.script("hooks.d/20-bad", "echo 'quote \" and \\\\ backslash'\nexit 42\n")
        let conf = try dir.write("rp.conf", "[probe]\nrundir = \(dir.path)/run\nhooks_dir = \(dir.file("hooks.d"))\nsonic_hook =\n[start]\nprogram =\n")
        let r = Command.run([TestPaths.binary, "run", "--config", conf, "--format", "json"])
        #expect(r.status == 42)
        let py = Command.run(["python3", "-m", "json.tool"], stdin: r.stdout)
        #expect(py.status == 0, "python rejects: \(r.stdout)")
        let v = try JSON.parse(r.stdout)
        #expect(v["code"]?.intValue == 42)
        #expect(v["checks"]?.arrayValue?[1]["detail"]?.stringValue == "exited 42: quote \" and \\ backslash")
        let s = Command.run([TestPaths.binary, "run", "--config", conf, "--exclude", "20-bad"])
        #expect(s.status == 0)
        #expect(s.stdout.hasPrefix("ready: 1 of 1 checks passed\n"))
        let only = Command.run([TestPaths.binary, "--config", conf, "--only", "20-bad", "--format", "verbose"])
        #expect(only.status == 42)
        #expect(only.stdout == "[-]20-bad failed: exited 42: quote \" and \\ backslash (code 42)\nreadiness check failed\n")
        let unknown = Command.run([TestPaths.binary, "--config", conf, "--only", "nosuch"])
        #expect(unknown.status == 8)
    }

    @Test func probeSurvivesClosedStandardDescriptors() throws {
        let dir = TempDir("hook")
        try dir.script("hooks.d/10-ok", "echo fine\n")
        let conf = try dir.write("rp.conf", "[probe]\nrundir = \(dir.path)/run\nhooks_dir = \(dir.file("hooks.d"))\nsonic_hook =\n[start]\nprogram =\n")
        let r = Command.run(["/bin/sh", "-c", "\"$0\" run --config \"$1\" <&- >&- 2>&-; echo $?", TestPaths.binary, conf])
        #expect(r.stdout.trimmingASCIIWhitespace() == "0")
    }
}

@Suite struct HookFaultTests {
    @Test func daemonForkedByAHookDoesNotOutliveTheProbe() throws {
        let dir = TempDir("hook")
        let pidFile = dir.file("daemon.pid")
        // setsid puts the daemon in a session (and group) of its own, out of reach of killpg;
        // it keeps the hook's stdout open. The probe must still answer promptly and leave nothing.
        try dir.script("hooks.d/10-daemon", "setsid sh -c 'echo $$ > \(pidFile); exec sleep 60' &\nsleep 0.2\necho started\nexit 0\n")
        let conf = try dir.write("rp.conf", "[probe]\nrundir = \(dir.path)/run\nhooks_dir = \(dir.file("hooks.d"))\nsonic_hook =\n[start]\nprogram =\n")
        let start = ContinuousClock.now
        let r = Command.run([TestPaths.binary, "run", "--config", conf])
        #expect(ContinuousClock.now - start < .seconds(10), "waited for the 60 s daemon")
        #expect(r.status == 0, "\(r.stdout)")
        let pid = Int32(try Platform.readTextFile(pidFile).trimmingASCIIWhitespace())!
        #expect(Wait.until(timeout: .seconds(10)) { !Platform.processExists(pid) }, "daemon \(pid) survived the probe")
    }

    @Test func hookIgnoringSIGTERMIsStillKilled() throws {
        let dir = TempDir("hook")
        try dir.script("hooks.d/10-stubborn", "trap '' TERM\nwhile :; do sleep 0.1; done\n")
        let conf = try dir.write("rp.conf", "[probe]\nrundir = \(dir.path)/run\nhooks_dir = \(dir.file("hooks.d"))\nhook_timeout = 300ms\nsonic_hook =\n[start]\nprogram =\n")
        let start = ContinuousClock.now
        let r = Command.run([TestPaths.binary, "run", "--config", conf])
        #expect(ContinuousClock.now - start < .seconds(10), "the hook loops forever: it was not killed")
        #expect(r.status == 6)
    }
}

