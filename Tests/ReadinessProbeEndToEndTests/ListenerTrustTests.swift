// Issue #11 items 1, 2, 3 and 10 (ledger half): a ledger or cached result is trusted only while
// its writers live, a restarted supervisord with the same pid starts from scratch, groups
// added and removed by `supervisorctl update` follow, and the folder and files are checked.
// Real supervisord, real processes; the restart test runs supervisord as pid 1 of a new pid
// namespace (unshare), as in a container.
@preconcurrency import Glibc
import Testing
import ProbeSupport
@testable import ReadinessProbe
import ProbeTestSupport
import SupervisorKit

extension ListenerRig {
    /// A probe config for readers: this rig's rundir and supervisord, the given source.
    func readerConf(_ name: String, source: String, _ body: String) throws -> String {
        try work.write(name, """
            [probe]
            rundir = \(rundir)
            hooks_dir =
            sonic_hook =
            [supervisor]
            serverurl = \(harness.serverURL)
            source = \(source)

            """ + body + "\n")
    }
}

/// The pids of `pid`'s children (its main thread's).
func childPIDs(_ pid: Int32) -> [Int32] {
    let text = (try? Platform.readTextFile("/proc/\(pid)/task/\(pid)/children", limit: 4096)) ?? ""
    return text.split(separator: " ").compactMap { Int32($0) }
}

func isGone(_ pid: Int) -> Bool {
    if case .gone = ProcessIdentity.lookup(pid) { return true }
    return false
}

let unshareAvailable = geteuid() == 0 && Platform.isExecutable("/usr/bin/unshare") && Platform.isExecutable("/usr/bin/nsenter")

@Suite(.timeLimit(.minutes(2))) struct ListenerTrustLiveTests {
    /// Item 1: supervisord stops listeners with SIGTERM. The listener closes both files, kills
    /// the check run in flight (a hook and the child it put in the background) and exits 0;
    /// readers stop trusting the ledger at once, so `run` sees a program stopped right after.
    @Test func sigtermClosesTheLedgerAndKillsTheRunInFlight() async throws {
        let work = TempDir("lrig")
        let rig = try await ListenerRig.start(SupervisordConfig()
            .program("start", command: "/bin/sh -c 'exit 0'", autorestart: false)
            .program("crit", command: "sleep 1000"), probe: """
            timeout = 60s
            [programs]
            critical = crit
            [hook:slow]
            command = /bin/sh -c 'echo $$ >> \(work.path)/hook.pids; sleep 60 & echo $! >> \(work.path)/hook.pids; wait'
            timeout = 60s
            """, work: work, listener: "stopwaitsecs=30")
        let events = try rig.readerConf("events.conf", source: "events", "[programs]\ncritical = crit\n")
        let auto = try rig.readerConf("auto.conf", source: "auto", "[programs]\ncritical = crit\n")
        #expect(await rig.waitForLedger { l in l.complete && l.entry("crit")?.state == .running && l.entry("start")?.state == .exited })
        // The start-up check run is in flight: its hook and the hook's background sleep run.
        #expect(await poll(timeout: .seconds(20)) {
            ((try? Platform.readTextFile(work.file("hook.pids"))) ?? "").split(separator: "\n").count >= 2
        })
        let hookPIDs = try Platform.readTextFile(work.file("hook.pids")).split(separator: "\n").compactMap { Int($0) }
        #expect(hookPIDs.count == 2 && !hookPIDs.contains(where: isGone))
        // Ready from the ledger (polled: once seen under load as 4 for a moment, right after the seed).
        var ready = rig.run(["run", "--config", events])
        #expect(await poll(timeout: .seconds(20)) { ready = rig.run(["run", "--config", events]); return ready.status == 0 },
                "\(ready.stdout)\(ready.stderr)")
        let listenerPID = try #require(rig.ledger()).listenerPID

        let stop = rig.harness.supervisorctl(["stop", "readiness"])
        #expect(stop.status == 0, "\(stop.stdout)\(stop.stderr)")
        // Exit status 0 (not "terminated by SIGTERM", nor SIGKILL after stopwaitsecs).
        #expect(await poll(timeout: .seconds(10)) { rig.harness.output().contains("stopped: readiness (exit status 0)") },
                "\(rig.harness.output())\n\(rig.listenerLog())")
        #expect(isGone(listenerPID))
        #expect(await poll { rig.listenerLog().contains("SIGTERM: closing the ledger") }, "\(rig.listenerLog())")
        // Nothing of the check run outlives the listener.
        #expect(await poll(timeout: .seconds(5)) { hookPIDs.allSatisfy(isGone) }, "hook pids \(hookPIDs)")
        #expect(rig.ledger()?.closed == true)
        let cached = rig.run(["run", "--cached", "--config", events])
        #expect(cached.status == 11, "\(cached.stdout)")
        let ledgerRun = rig.run(["run", "--config", events])
        #expect(ledgerRun.status == 11 && ledgerRun.stdout.contains("event listener"), "\(ledgerRun.stdout)")
        // source = auto asks supervisord instead: crit, stopped now, is seen at once.
        #expect(rig.harness.supervisorctl(["stop", "crit"]).status == 0)
        let r = rig.run(["run", "--config", auto])
        #expect(r.status == 4 && r.stdout.contains("crit"), "\(r.stdout)")
    }

    /// Item 1: the listener SIGKILLed (no chance to close anything), then supervisord: the
    /// cached result and the ledger are not trusted from the moment their writer is gone.
    @Test func killedWritersAreNeverTrusted() async throws {
        let rig = try await ListenerRig.start(SupervisordConfig()
            .program("start", command: "/bin/sh -c 'exit 0'", autorestart: false)
            .program("crit", command: "sleep 1000"), probe: "[programs]\ncritical = crit\n", listener: "autorestart=false")
        let events = try rig.readerConf("events.conf", source: "events", "[programs]\ncritical = crit\n")
        let auto = try rig.readerConf("auto.conf", source: "auto", "[programs]\ncritical = crit\n")
        #expect(await rig.waitForLedger { l in l.complete && l.entry("crit")?.state == .running && l.entry("start")?.state == .exited })
        #expect(await poll(timeout: .seconds(15), every: .milliseconds(100)) {
            CachedResult.read(path: rig.resultPath, maxAge: .seconds(15)).code == 0
        }, "\(rig.listenerLog())")
        #expect(rig.run(["run", "--cached", "--config", events]).status == 0)
        let programPIDs = rig.processes().filter { $0.pid > 0 && $0.group != "readiness" }.map(\.pid)
        defer { for p in programPIDs { kill(Int32(p), SIGKILL) } }
        let listenerPID = try #require(rig.ledger()).listenerPID

        // The listener alone dies (autorestart=false): supervisord is fine, the files are orphans.
        kill(Int32(listenerPID), SIGKILL)
        #expect(await rig.waitFor("readiness", .exited))
        let cached = rig.run(["run", "--cached", "--config", events])
        #expect(cached.status == 11 && cached.stdout.contains("event listener not running"), "\(cached.stdout)")
        let ledgerRun = rig.run(["run", "--config", events, "--format", "json"])
        #expect(ledgerRun.status == 11 && ledgerRun.stdout.contains("pid \(listenerPID)"), "\(ledgerRun.stdout)")
        let viaRPC = rig.run(["run", "--config", auto, "--format", "json"])
        #expect(viaRPC.status == 0, "\(viaRPC.stdout)")

        // Then supervisord itself, without a word: 3 everywhere, not a stale "ready".
        rig.harness.signal(SIGKILL)
        #expect(rig.harness.waitForExit(timeout: .seconds(10)))
        for (conf, args) in [(events, ["--cached"]), (events, []), (auto, [])] {
            let r = rig.run(["run"] + args + ["--config", conf])
            #expect(r.status == 3, "\(args) \(conf): \(r.stdout)")
        }
        #expect(rig.run(["run", "--cached", "--config", events]).stdout.contains("supervisord is not running"))
    }

    /// Item 3: `supervisorctl update` removes and adds groups; the ledger follows, so
    /// `critical = *` gives the same verdict from the ledger as from XML-RPC.
    @Test func groupsRemovedAndAddedFollowSupervisord() async throws {
        // b's section as text: the test edits supervisord's config file by replacing it.
        let b = SupervisordConfig().program("b", command: "sleep 1000", startsecs: nil, autostart: false).text
        let rig = try await ListenerRig.start(SupervisordConfig().program("a", command: "sleep 1000").raw(b), probe: "[programs]\ncritical = *\n", events: "PROCESS_STATE,PROCESS_GROUP,TICK_5")
        let events = try rig.readerConf("events.conf", source: "events", "[programs]\ncritical = *\n")
        let xmlrpc = try rig.readerConf("xmlrpc.conf", source: "xmlrpc", "[programs]\ncritical = *\n")
        #expect(await rig.waitForLedger { l in l.complete && l.entry("a")?.state == .running && l.entry("b")?.state == .stopped })
        #expect(rig.run(["run", "--config", events]).status == 4)
        #expect(rig.run(["run", "--config", xmlrpc]).status == 4)

        // b leaves supervisord's config: XML-RPC is ready; so must the ledger be.
        let conf = try Platform.readTextFile(rig.harness.configPath)
        try rig.harness.dir.write("supervisord.conf", conf.replacing(b, with: ""))
        let update = rig.harness.supervisorctl(["update"])
        #expect(update.status == 0, "\(update.stdout)\(update.stderr)")
        #expect(rig.run(["run", "--config", xmlrpc]).status == 0)
        #expect(await rig.waitForLedger(timeout: .seconds(10)) { $0.complete && $0.entry("b") == nil }, "\(rig.listenerLog())")
        let afterRemove = rig.run(["run", "--config", events])
        #expect(afterRemove.status == 0, "\(afterRemove.stdout)")

        // c is added, never started: XML-RPC says STOPPED (4); the ledger must know c too.
        try rig.harness.dir.write("supervisord.conf", conf.replacing(b, with: SupervisordConfig().program("c", command: "sleep 1000", startsecs: nil, autostart: false).text))
        #expect(rig.harness.supervisorctl(["update"]).status == 0)
        #expect(rig.run(["run", "--config", xmlrpc]).status == 4)
        #expect(await rig.waitForLedger(timeout: .seconds(10)) { $0.complete && $0.entry("c")?.state == .stopped }, "\(rig.listenerLog())")
        let afterAdd = rig.run(["run", "--config", events])
        #expect(afterAdd.status == 4 && afterAdd.stdout.contains("c"), "\(afterAdd.stdout)")
        #expect(!rig.protocolBroken())
    }

    /// Item 2: supervisord is pid 1 (a container) and the rundir is kept across a restart. The
    /// old ledger names pid 1 too; the new listener must not keep its entries and serials (the
    /// new supervisord's serials start again from 0, and old higher serials used to hide every
    /// new event: a killed critical program stayed "ready").
    @Test(.enabled(if: unshareAvailable, "needs root, unshare and nsenter"))
    func restartWithTheSamePidStartsFromScratch() async throws {
        let work = TempDir("lrig")
        let wrapper = ["/usr/bin/unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]
        let probe = "[programs]\ncritical = crit\n[listener]\nrun_checks = false\n"
        // The listener starts last (priority 1000), so its seed already sees crit RUNNING.
        let listener = "priority=1000"
        // Phase A: crit restarted over and over pushes the serials up (4 events a restart).
        let a = try await ListenerRig.start(SupervisordConfig()
            .program("crit", command: "sleep 1000", autorestart: false, stopwaitsecs: 2), probe: probe, work: work, listener: listener, wrapper: wrapper)
        let nsPIDA = try #require(childPIDs(a.harness.pid).first)
        #expect(await a.waitForLedger { $0.complete && $0.entry("crit")?.state == .running }, "\(a.listenerLog())")
        for _ in 0..<16 { _ = a.harness.supervisorctl(["restart", "crit"]) }
        #expect(await a.waitForLedger(timeout: .seconds(30)) { ($0.entry("crit")?.serial ?? -1) >= 50 && $0.entry("crit")?.state == .running },
                "\(a.listenerLog())")
        let old = try #require(a.ledger())
        #expect(old.supervisordPID == 1 && old.supervisordStart != nil)
        // The container dies at once: pid 1 SIGKILLed takes every process of the namespace.
        kill(nsPIDA, SIGKILL)
        #expect(a.harness.waitForExit(timeout: .seconds(10)))
        // The listener may see its stdin close before its own SIGKILL (and close the ledger), or
        // not: either way the old ledger names pid 1 and its entries.

        // Phase B: the same rundir, a new supervisord that is pid 1 again.
        let b = try await ListenerRig.start(SupervisordConfig()
            .program("crit", command: "sleep 1000", autorestart: false), probe: probe, work: work, listener: listener, wrapper: wrapper)
        let nsPIDB = try #require(childPIDs(b.harness.pid).first)
        defer { kill(nsPIDB, SIGKILL) }
        #expect(await b.waitForLedger { $0.complete && ($0.seededAt ?? 0) > (old.seededAt ?? 0) && $0.entry("crit")?.state == .running },
                "\(b.listenerLog())")
        let fresh = try #require(b.ledger())
        #expect(fresh.supervisordPID == 1 && fresh.supervisordStart != nil && fresh.supervisordStart != old.supervisordStart, "\(b.listenerLog())")
        // The log is the listener's stderr, copied to the file by supervisord in its own time: polled.
        #expect(await poll { b.listenerLog().contains("starting from scratch") }, "\(b.listenerLog())")
        // crit is killed: its EXITED event (a low serial) must reach the ledger.
        #expect(b.harness.supervisorctl(["signal", "KILL", "crit"]).status == 0)
        #expect(await b.waitForLedger(timeout: .seconds(10)) { $0.entry("crit")?.state == .exited }, "\(b.listenerLog())")
        let events = try b.readerConf("events.conf", source: "events", "[programs]\ncritical = crit\n")
        // A reader inside the container's namespaces sees the failure...
        let inside = Command.run(["/usr/bin/nsenter", "-t", String(nsPIDB), "-p", "-m", "--", TestPaths.binary, "run", "--config", events])
        #expect(inside.status == 4 && inside.stdout.contains("crit"), "\(inside.stdout)\(inside.stderr)")
        // ...and one outside it (pid 1 is another process here) never trusts the ledger.
        let outside = b.run(["run", "--config", events])
        #expect(outside.status == 11 && outside.stdout.contains("another supervisord"), "\(outside.stdout)")
    }
}

/// Item 10 (ledger half) and the reader's rules, without supervisord: this test process
/// stands for the listener and supervisord (`liveWriter`), so only the checks under test fail.
@Suite(.timeLimit(.minutes(1))) struct ListenerFileTrustTests {
    /// A rundir with a trusted ledger and cached result (ready), and configs that read them.
    struct Files {
        let dir = TempDir("ltrust")
        var folder: String { dir.path + "/readiness-probe" }
        var ledger: String { folder + "/ledger.json" }
        var result: String { folder + "/result.json" }
        let conf: String

        init(writer: WriterIdentity = liveWriter(), writtenAt: Double = Platform.epochSeconds()) throws {
            conf = try dir.write("p.conf", """
                [probe]
                rundir = \(dir.path)
                hooks_dir =
                sonic_hook =
                [supervisor]
                source = events
                serverurl = unix://\(dir.path)/no-such.sock
                """)
            try Platform.makeDirectories(dir.path + "/readiness-probe")
            chmod(dir.path + "/readiness-probe", 0o755)
            var l = Ledger()
            l.writer = writer
            l.seed([SupervisorProcess(name: "start", group: "start", state: .exited, exitStatus: 0)], now: writtenAt)
            try l.write(path: ledger, now: writtenAt)
            let ok = ProbeReport.aggregate([CheckResult(name: "start", kind: "supervisor-start", status: .pass, code: 0,
                                                        detail: "start exited 0", durationMs: 1)], durationMs: 1, finishedAt: writtenAt)
            try CachedResult.write(ok, path: result, writer: writer)
        }

        /// Under `timeout 20`: a reader that blocks (on a FIFO, say) fails the test instead of hanging it.
        func run(_ extra: [String] = []) -> CommandResult {
            Command.run(["/usr/bin/timeout", "20", TestPaths.binary, "run", "--config", conf] + extra)
        }
        func cached() -> CommandResult { run(["--cached"]) }
    }

    @Test func trustedFilesAreReady() throws {
        let f = try Files()
        #expect(f.run().status == 0, "\(f.run().stdout)")
        #expect(f.cached().status == 0, "\(f.cached().stdout)")
    }

    @Test(.enabled(if: geteuid() == 0, "needs root to chown to nobody"))
    func filesOfAnotherUserAreNeverTrusted() throws {
        let f = try Files()
        #expect(chown(f.ledger, 65534, 65534) == 0 && chown(f.result, 65534, 65534) == 0)
        let r = f.run(), c = f.cached()
        #expect(r.status == 11 && r.stdout.contains("owned by uid 65534"), "\(r.stdout)")
        #expect(c.status == 11 && c.stdout.contains("owned by uid 65534"), "\(c.stdout)")
        // The folder of another user: nothing in it is trusted, even files of root.
        let g = try Files()
        #expect(chown(g.folder, 65534, 65534) == 0)
        #expect(g.run().status == 11 && g.cached().status == 11)
        #expect(g.cached().stdout.contains("owned by uid 65534"))
    }

    @Test func writableOrSymlinkedFilesAreNeverTrusted() throws {
        let f = try Files()
        chmod(f.ledger, 0o666)
        chmod(f.result, 0o646)
        #expect(f.run().status == 11 && f.run().stdout.contains("writable by"))
        #expect(f.cached().status == 11 && f.cached().stdout.contains("writable by"))
        // A folder anyone may write to.
        let g = try Files()
        chmod(g.folder, 0o777)
        #expect(g.run().status == 11 && g.cached().status == 11 && g.cached().stdout.contains("chmod go-w"))
        // Symlinks are never followed: the file, or the folder itself.
        let h = try Files()
        let elsewhere = TempDir("ltrust")
        _ = rename(h.result, elsewhere.file("result.json"))
        symlink(elsewhere.file("result.json"), h.result)
        #expect(h.cached().status == 11 && h.cached().stdout.contains("symbolic link"), "\(h.cached().stdout)")
        let k = try Files()
        _ = rename(k.folder, k.dir.file("real"))
        symlink(k.dir.file("real"), k.folder)
        #expect(k.run().status == 11 && k.cached().status == 11 && k.run().stdout.contains("symbolic link"))
    }

    @Test func aFIFOAnswersAtOnce() throws {
        let f = try Files()
        unlink(f.result)
        unlink(f.ledger)
        mkfifo(f.result, 0o644)
        mkfifo(f.ledger, 0o644)
        let c = f.cached(), r = f.run()
        #expect(c.status == 11 && c.stdout.contains("not a regular file"), "\(c.stdout)")
        #expect(r.status == 11 && r.stdout.contains("not a regular file"), "\(r.stdout)")
    }

    @Test func writersThatAreGoneOrOthersAreNeverTrusted() throws {
        let me = try #require(ProcessIdentity.current())
        // A pid that no process has (the highest possible): supervisord is gone -> 3.
        let gone = ProcessIdentity(pid: 4_194_303, startTime: 1)
        let noSupervisord = try Files(writer: WriterIdentity(bootID: ProcessIdentity.bootID, listener: me, supervisord: gone))
        #expect(noSupervisord.cached().status == 3 && noSupervisord.run().status == 3)
        #expect(noSupervisord.cached().stdout.contains("supervisord is not running"))
        // supervisord's pid is alive but started at another time (a restart with the same pid) -> 11.
        let other = ProcessIdentity(pid: me.pid, startTime: me.startTime + 1)
        let restarted = try Files(writer: WriterIdentity(bootID: ProcessIdentity.bootID, listener: me, supervisord: other))
        #expect(restarted.cached().status == 11 && restarted.run().status == 11)
        #expect(restarted.run().stdout.contains("another supervisord"))
        // The listener is gone -> 11.
        let noListener = try Files(writer: WriterIdentity(bootID: ProcessIdentity.bootID, listener: gone, supervisord: me))
        #expect(noListener.cached().status == 11 && noListener.cached().stdout.contains("event listener not running"))
        // Another boot -> 11.
        let otherBoot = try Files(writer: WriterIdentity(bootID: "00000000-0000-0000-0000-000000000000", listener: me, supervisord: me))
        #expect(otherBoot.run().status == 11 && otherBoot.run().stdout.contains("another boot"))
        // No identity at all (an older writer, or a forged file) -> 11.
        let none = try Files(writer: WriterIdentity(bootID: nil, listener: nil, supervisord: nil))
        #expect(none.cached().status == 11 && none.run().status == 11)
        // From the future -> 11.
        let future = try Files(writtenAt: Platform.epochSeconds() + 60)
        #expect(future.cached().status == 11 && future.cached().stdout.contains("from the future"))
        #expect(future.run().status == 11 && future.run().stdout.contains("from the future"))
    }

    @Test func theListenerPreparesItsFolder() throws {
        let dir = TempDir("lsn")
        let config = try listenerConfig(dir, "[listener]\nrun_checks = false\n")
        let folder = dir.path + "/run/readiness-probe"
        // Created 0755 whatever the umask.
        let oldMask = umask(0o077)
        var logs: [String] = []
        let listener = EventListener(configuration: config, log: { _ in })
        listener.start()
        umask(oldMask)
        var st = stat()
        #expect(lstat(folder, &st) == 0 && st.st_mode & 0o7777 == 0o755)
        #expect(lstat(folder + "/ledger.json", &st) == 0 && st.st_mode & 0o7777 == 0o644)
        // Temporary files a killed writer left are removed at start-up; others are kept.
        _ = try dir.write("run/readiness-probe/ledger.json.tmp.4194303.12345", "{")
        _ = try dir.write("run/readiness-probe/result.json.tmp.\(getpid()).1", "{")
        _ = try dir.write("run/readiness-probe/notes", "keep")
        chmod(folder, 0o777)  // and a folder anyone may write to is set back to 0755
        let logBox = LogBox()
        EventListener(configuration: config, log: { logBox.append($0) }).start()
        logs = logBox.lines
        #expect(!Platform.exists(folder + "/ledger.json.tmp.4194303.12345"))
        #expect(!Platform.exists(folder + "/result.json.tmp.\(getpid()).1"))
        #expect(Platform.exists(folder + "/notes"))
        #expect(lstat(folder, &st) == 0 && st.st_mode & 0o7777 == 0o755)
        #expect(logs.contains { $0.contains("set to 0755") }, "\(logs)")
        #expect(logs.contains { $0.contains("removed temporary files") }, "\(logs)")
    }

    @Test(.enabled(if: geteuid() == 0, "needs root to chown to nobody"))
    func theListenerRefusesAFolderOfAnotherUser() throws {
        let dir = TempDir("lsn")
        let config = try listenerConfig(dir, "[listener]\nrun_checks = false\n")
        let folder = dir.path + "/run/readiness-probe"
        try Platform.makeDirectories(folder)
        chown(folder, 65534, 65534)
        let logBox = LogBox()
        EventListener(configuration: config, log: { logBox.append($0) }).start()
        #expect(!Platform.exists(folder + "/ledger.json"))
        #expect(logBox.lines.contains { $0.contains("owned by uid 65534") && $0.contains("not written") }, "\(logBox.lines)")
        // A symlink in its place: refused too, and nothing is written where it points.
        let target = TempDir("lsn")
        rmdir(folder)
        symlink(target.path, folder)
        let second = LogBox()
        EventListener(configuration: config, log: { second.append($0) }).start()
        #expect(!Platform.exists(target.file("ledger.json")))
        #expect(second.lines.contains { $0.contains("symbolic link") }, "\(second.lines)")
    }

    @Test func serialRegressionStartsFromScratch() throws {
        let dir = TempDir("lsn")
        let logBox = LogBox()
        let listener = EventListener(configuration: try listenerConfig(dir, "[programs]\ncritical = syncd\n[listener]\nrun_checks = false\n"),
                                     log: { logBox.append($0) })
        let stream = stateEvent(100, "RUNNING", "syncd", from: "STARTING", extra: " pid:42")
            + stateEvent(101, "EXITED", "other", extra: " expected:0 pid:43")
            // A new supervisord's serials: lower than any applied.
            + stateEvent(3, "EXITED", "syncd", extra: " expected:0 pid:7")
        let (end, out, _) = try replay(stream, dir: dir) { listener.handle($0) }
        #expect(end == .endOfInput && out == expectedReplies(3))
        let l = listener.ledger
        #expect(l.entry("other") == nil, "the old supervisord's programs are forgotten")
        #expect(l.entry("syncd")?.state == .exited && l.entry("syncd")?.serial == 3 && l.entry("syncd")?.failure != nil)
        #expect(!l.complete && l.lastSerial == 3)
        #expect(logBox.lines.contains { $0.contains("serial 3 is lower than the last applied serial 101") }, "\(logBox.lines)")
    }

    @Test func groupEventsRemoveAndReseed() throws {
        let dir = TempDir("lsn")
        let listener = EventListener(configuration: try listenerConfig(dir, "[listener]\nrun_checks = false\n"), log: { _ in })
        let stream = stateEvent(1, "RUNNING", "a", from: "STARTING", extra: " pid:5") + stateEvent(2, "STOPPED", "b", from: "STOPPING", extra: " pid:6")
            + envelope(10, "PROCESS_GROUP_REMOVED", "groupname:b\n") + envelope(11, "PROCESS_GROUP_ADDED", "groupname:c\n")
        let (_, out, _) = try replay(stream, dir: dir) { listener.handle($0) }
        #expect(out == expectedReplies(4))
        #expect(listener.ledger.entry("b") == nil && listener.ledger.entry("a") != nil)
        // supervisord cannot be asked here: the ledger stays incomplete (readers ask XML-RPC) until a reseed works.
        #expect(!listener.ledger.complete)
    }

    @Test func statLineParsing() {
        let line = Array("1234 (a) b) c) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 12345 100 18446744073709551615".utf8)
        let parsed = ProcessIdentity.parseStat(line[...])
        #expect(parsed?.state == UInt8(ascii: "S") && parsed?.startTime == 987654)
        #expect(ProcessIdentity.parseStat(Array("1 (x) S 1 2".utf8)[...]) == nil)
        #expect(ProcessIdentity.parseStat(Array("no parenthesis".utf8)[...]) == nil)
        #expect(ProcessIdentity.bootID?.count == 36)
        if case .alive(let me) = ProcessIdentity.lookup(Int(getpid())) { #expect(me == ProcessIdentity.current()) } else { Issue.record("no /proc") }
        #expect(ProcessIdentity.lookup(4_194_303) == .gone)
    }
}

/// Lines logged from any thread.
final class LogBox: @unchecked Sendable {
    private var items: [String] = []
    private let lock = NSLockLike()
    func append(_ s: String) { lock.with { items.append(s) } }
    var lines: [String] { lock.with { items } }
}

final class NSLockLike: @unchecked Sendable {
    private var m = pthread_mutex_t()
    init() { pthread_mutex_init(&m, nil) }
    func with<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&m)
        defer { pthread_mutex_unlock(&m) }
        return body()
    }
}
