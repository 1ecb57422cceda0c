// `readiness-probe listen` under a real supervisord (the binary is the [eventlistener]).
@preconcurrency import Glibc
import Testing
import ProbeSupport
@testable import ReadinessProbe
import ProbeTestSupport
import SupervisorKit

/// A supervisord with `readiness-probe listen` as its `readiness` event listener, and a probe
/// config (no serverurl: the listener finds supervisord through SUPERVISOR_SERVER_URL).
final class ListenerRig: @unchecked Sendable {
    let work: TempDir
    let probeConf: String
    let harness: SupervisordHarness
    var rundir: String { work.path + "/run" }
    var ledgerPath: String { rundir + "/readiness-probe/ledger.json" }
    var resultPath: String { rundir + "/readiness-probe/result.json" }

    /// - programs: the programs beside the listener; `{work}` in a value is the rig's folder.
    /// - work: the folder for the probe config and rundir (a new one if nil; pass another rig's
    ///   to restart "the container" with its rundir kept).
    /// - listener: more `key=value` lines for the [eventlistener:readiness] section.
    /// - wrapper: runs supervisord (see SupervisordHarness).
    init(_ programs: SupervisordConfig, probe: String, events: String = "PROCESS_STATE,TICK_5", work: TempDir? = nil,
         listener: String = "", wrapper: [String] = [], loglevel: String = "info") throws {
        self.work = work ?? TempDir("lrig")
        let work = self.work
        probeConf = try work.write("probe.conf", "[probe]\nrundir = \(work.path)/run\nhooks_dir =\nsonic_hook =\n" + probe + "\n")
        let more: [(String, String)] = listener.split(separator: "\n").compactMap { (line: Substring) -> (String, String)? in
            let kv = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return kv.count == 2 ? (String(kv[0]), String(kv[1])) : nil
        }
        let config = SupervisordConfig()
            .eventListener("readiness", command: "\(TestPaths.binary) listen --config \(probeConf)", events: events,
                           bufferSize: 1000, priority: more.contains { $0.0 == "priority" } ? nil : 1,
                           [("stderr_logfile", "{dir}/listener.err")] + more)
            .raw(programs.text.replacing("{work}", with: work.path))
        harness = try SupervisordHarness(config, loglevel: loglevel, wrapper: wrapper)
    }

    /// Starts the rig on its own thread (supervisord's start-up blocks), not on a cooperative one.
    static func start(_ programs: SupervisordConfig, probe: String, events: String = "PROCESS_STATE,TICK_5", work: TempDir? = nil,
                      listener: String = "", wrapper: [String] = [], loglevel: String = "info") async throws -> ListenerRig {
        try await Blocking.run { () -> Result<ListenerRig, any Error> in
            Result { try ListenerRig(programs, probe: probe, events: events, work: work, listener: listener, wrapper: wrapper,
                                     loglevel: loglevel) }
        }.get()
    }

    func ledger() -> Ledger? { (try? Ledger.read(path: ledgerPath)) ?? nil }
    func listenerLog() -> String { (try? Platform.readTextFile(harness.dir.file("listener.err"), limit: 16 << 20)) ?? "" }
    func processes() -> [SupervisorProcess] {
        (try? SupervisorClient(url: .unix(path: harness.socketPath)).getAllProcessInfo(deadline: .after(.seconds(3)))) ?? []
    }

    /// Every non-listener program's state in the ledger equals getAllProcessInfo's.
    func ledgerMatchesSupervisord() -> Bool {
        guard let l = ledger(), l.complete else { return false }
        let live = processes().filter { $0.group != "readiness" }
        guard !live.isEmpty, live.count == l.entries.count else { return false }
        return live.allSatisfy { p in
            guard let e = l.entries.first(where: { $0.name == p.name && $0.group == p.group }) else { return false }
            return e.state == p.state && (p.state != .running || e.pid == p.pid)
        }
    }

    func waitForLedger(timeout: Duration = .seconds(20), _ condition: (Ledger) -> Bool) async -> Bool {
        await poll(timeout: timeout) { ledger().map(condition) ?? false }
    }

    /// `program` has `state` per XML-RPC.
    func waitFor(_ program: String, _ state: ProcessState) async -> Bool {
        await poll(timeout: .seconds(20), every: .milliseconds(100)) { processes().contains { $0.name == program && $0.state == state } }
    }

    func run(_ args: [String]) -> CommandResult { Command.run([TestPaths.binary] + args) }

    func protocolBroken() -> Bool {
        harness.output().contains("will no longer receive events") || harness.output().contains("UNKNOWN")
    }
}

/// Polls `condition` until true or `timeout`, sleeping with Task.sleep so that these long live
/// tests never hold one of the (two) cooperative threads the other async tests need.
func poll(timeout: Duration = .seconds(20), every: Duration = .milliseconds(50), _ condition: () -> Bool) async -> Bool {
    let deadline = Deadline.after(timeout)
    while true {
        if condition() { return true }
        if deadline.hasPassed { return false }
        try? await Task.sleep(for: every)
    }
}

@Suite(.timeLimit(.minutes(2))) struct ListenerLiveTests {
    @Test func startRunCrashFatalSequence() async throws {
        let rig = try await ListenerRig.start(SupervisordConfig()
            .program("start", command: "/bin/sh -c 'sleep 0.3; exit 0'", autorestart: false)
            .program("flaky", command: "/bin/sh -c 'if [ -e {work}/crashed ]; then exit 1; fi; touch {work}/crashed; sleep 1.5; exit 1'",
                     startsecs: 1, autorestart: true, startretries: 1)
            .program("steady", command: "sleep 1000", startsecs: nil), probe: "[programs]\ncritical = flaky, steady\n")
        #expect(await rig.waitFor("flaky", .fatal))
        #expect(await poll(timeout: .seconds(10)) { rig.ledgerMatchesSupervisord() }, "\(rig.listenerLog())")
        let l = try #require(rig.ledger())
        #expect(l.entry("flaky")?.failure?.state == .fatal)
        #expect(l.entry("start")?.state == .exited && l.entry("start")?.expected == true && l.entry("start")?.failure == nil)
        #expect(l.entry("steady")?.failure == nil)
        // Every event of the pool arrived once, in order, and was answered (no gap in poolserial).
        #expect(l.eventsSeen == l.poolSerial + 1 && l.poolSerial > 10)
        let log = rig.listenerLog()
        let order = ["flaky STARTING", "flaky RUNNING", "flaky EXITED (unexpected)", "CRITICAL: critical program flaky exited",
                     "flaky BACKOFF", "flaky FATAL", "CRITICAL: critical program flaky entered FATAL"]
        var at = log.startIndex
        for step in order {
            let found = log[at...].firstRange(of: step)
            #expect(found != nil, "\(step) missing after the previous step in:\n\(log)")
            if let found { at = found.upperBound }
        }
        #expect(!rig.protocolBroken())
        #expect(rig.processes().first { $0.group == "readiness" }?.state == .running)
        // run answers from the ledger: flaky is FATAL -> 4.
        let r = rig.run(["run", "--config", rig.probeConf])
        #expect(r.status == 4, "\(r.stdout)")
        #expect(r.stdout.contains("flaky"))
    }

    /// #17: what a probe says about exits the listener saw. The start program's exit status (an
    /// EXITED event says only expected or not; the listener asks getProcessInfo once), and a
    /// critical program killed by SIGKILL and restarted: the signal (from supervisord's log),
    /// that supervisord restarted it, its state now, and its log file.
    @Test func exitsSayTheStatusTheSignalAndTheLog() async throws {
        let rig = try await ListenerRig.start(SupervisordConfig()
            .program("start", command: "/bin/sh -c 'exit 3'", autorestart: false)
            .program("syncd", command: "sleep 1000", stderrLog: "{work}/syncd.err"), probe: "[programs]\ncritical = syncd\n")
        #expect(await rig.waitForLedger { $0.entry("start")?.exitStatus == 3 }, "\(rig.listenerLog())")
        #expect(await rig.waitFor("syncd", .running))
        let pid = try #require(rig.processes().first { $0.name == "syncd" && $0.state == .running }?.pid)
        kill(Int32(pid), SIGKILL)
        #expect(await rig.waitForLedger { l in
            guard let e = l.entry("syncd") else { return false }
            return e.state == .running && e.pid != pid && (e.failure?.detail.contains("was killed by SIGKILL") ?? false)
        }, "\(rig.listenerLog())")
        let r = rig.run(["run", "--config", rig.probeConf])
        #expect(r.status == 2, "\(r.stdout)")
        #expect(r.stdout.hasPrefix("not ready (code 2): start: start exited 3 (+1 more failing)\n"), "\(r.stdout)")
        #expect(r.stdout.contains("program syncd was killed by SIGKILL (pid \(pid)); seen by the event listener; "
                                  + "restarted by supervisord, now RUNNING (pid "), "\(r.stdout)")
        #expect(r.stdout.contains("reported for 30s after the exit ([listener] failure_hold); log: \(rig.work.path)/syncd.err\n"), "\(r.stdout)")
        let programs = rig.run(["run", "--config", rig.probeConf, "--only", "programs"])
        #expect(programs.status == 4)
        #expect(programs.stdout.hasPrefix("not ready (code 4): programs: program syncd was killed by SIGKILL\n"), "\(programs.stdout)")
        #expect(!rig.protocolBroken())
    }

    /// The same kill with supervisord at `loglevel = warn` (no `spawned:` lines): the signal still
    /// comes from its `exited:` line; at `error` (no exit lines either) the detail says where the
    /// cause would be, and the first line stays `exited unexpectedly` (#17 verification).
    @Test(arguments: ["warn", "error"])
    func exitCauseAtQuieterLoglevels(_ loglevel: String) async throws {
        let rig = try await ListenerRig.start(SupervisordConfig().program("syncd", command: "sleep 1000", stderrLog: "{work}/syncd.err"),
                                              probe: "[programs]\ncritical = syncd\n", loglevel: loglevel)
        #expect(await rig.waitFor("syncd", .running))
        let pid = try #require(rig.processes().first { $0.name == "syncd" && $0.state == .running }?.pid)
        kill(Int32(pid), SIGKILL)
        #expect(await rig.waitForLedger { l in
            guard let e = l.entry("syncd") else { return false }
            return e.state == .running && e.pid != pid && (e.failure?.detail.contains("; log: ") ?? false)
        }, "\(rig.listenerLog())")
        let r = rig.run(["run", "--config", rig.probeConf, "--only", "programs"])
        #expect(r.status == 4)
        if loglevel == "warn" {
            #expect(r.stdout.hasPrefix("not ready (code 4): programs: program syncd was killed by SIGKILL\n"), "\(r.stdout)")
            #expect(r.stdout.contains("program syncd was killed by SIGKILL (pid \(pid)); seen by the event listener; restarted by supervisord"), "\(r.stdout)")
        } else {
            #expect(r.stdout.hasPrefix("not ready (code 4): programs: program syncd exited unexpectedly\n"), "\(r.stdout)")
            #expect(r.stdout.contains("program syncd exited unexpectedly (pid \(pid)); seen by the event listener; how it exited is not in "
                                      + "supervisord's log (its loglevel warn or lower records it); restarted by supervisord"), "\(r.stdout)")
        }
        #expect(r.stdout.contains("; log: \(rig.work.path)/syncd.err\n"), "\(r.stdout)")
        #expect(!rig.protocolBroken())
    }

    @Test func utf8LogEventsDoNotDesync() async throws {
        let work = TempDir("chat")
        let script = try work.write("chatty.py", """
            import sys, time
            i = 0
            while True:
                i += 1
                line = 'café ✓ 日本 #%d' % i
                if i % 5 == 0:
                    line += ' 🚀'
                sys.stdout.buffer.write((line + '\\n').encode('utf-8'))
                sys.stdout.buffer.flush()
                time.sleep(0.03)
            """)
        let rig = try await ListenerRig.start(SupervisordConfig()
            .program("chatty", command: "python3 \(script)", startsecs: nil, [("stdout_events_enabled", "true")]), probe: "[programs]\ncritical = chatty\n", events: "PROCESS_STATE,PROCESS_LOG,TICK_5")
        // Two TICKs after many log events: the listener is still in step.
        #expect(await rig.waitForLedger { $0.eventsSeen > 100 && $0.tickAt != nil })
        let firstTick = rig.ledger()?.tickAt ?? 0
        #expect(await rig.waitForLedger(timeout: .seconds(15)) { ($0.tickAt ?? 0) >= firstTick + 5 })
        let l = try #require(rig.ledger())
        #expect(l.eventsSeen == l.poolSerial + 1, "events \(l.eventsSeen), pool serial \(l.poolSerial)")
        #expect(l.eventsSeen > 150)
        #expect(!rig.protocolBroken(), "\(rig.harness.output())")
        #expect(rig.processes().first { $0.group == "readiness" }?.state == .running)
        #expect(!rig.listenerLog().contains("error"), "\(rig.listenerLog())")
    }

    @Test func killedListenerLosesNothing() async throws {
        let rig = try await ListenerRig.start(SupervisordConfig()
            .program("victim", command: "sleep 1000", startsecs: 1, autorestart: true)
            .program("steady", command: "sleep 1000", startsecs: nil), probe: "[programs]\ncritical = victim, steady\n")
        #expect(await rig.waitForLedger { l in l.complete && l.entry("victim")?.state == .running && l.entry("steady")?.state == .running })
        let before = try #require(rig.ledger())
        let listenerPID = Int32(before.listenerPID)
        let victimPID = Int32(try #require(rig.processes().first { $0.name == "victim" }).pid)
        // Stop the listener, crash the victim (supervisord sends the EXITED event into the
        // stopped listener's pipe and restarts the victim), then kill the listener mid-event.
        kill(listenerPID, SIGSTOP)
        kill(victimPID, SIGKILL)
        #expect(await poll(timeout: .seconds(10)) {
            rig.processes().contains { $0.name == "victim" && $0.state == .running && $0.pid != Int(victimPID) }
        })
        kill(listenerPID, SIGKILL)
        #expect(await rig.waitForLedger { $0.listenerPID != Int(listenerPID) && $0.complete }, "\(rig.listenerLog())")
        // The new listener seeds the ledger first; supervisord then re-sends the event the killed
        // one never answered (the victim's EXITED), and the ones buffered behind it.
        #expect(await rig.waitForLedger { $0.entry("victim")?.failure?.state == .exited }, "\(rig.listenerLog())")
        #expect(await poll(timeout: .seconds(10)) { rig.ledgerMatchesSupervisord() }, "\(rig.listenerLog())")
        let after = try #require(rig.ledger())
        #expect(after.entry("victim")?.failure?.state == .exited, "\(rig.listenerLog())")
        #expect(!rig.protocolBroken())
        let r = rig.run(["run", "--config", rig.probeConf])
        #expect(r.status == 4 && r.stdout.contains("victim"), "\(r.stdout)")
    }

    @Test func terminateOnCriticalExitOnly() async throws {
        let rig = try await ListenerRig.start(SupervisordConfig()
            .program("crit", command: "/bin/sh -c 'while [ ! -e {work}/stop-crit ]; do sleep 0.05; done; exit 1'", startsecs: 1, autorestart: false)
            .program("other", command: "/bin/sh -c 'while [ ! -e {work}/stop-other ]; do sleep 0.05; done; exit 1'", startsecs: 1, autorestart: false), probe: "[programs]\ncritical = crit\n[listener]\non_critical_exit = terminate\nrun_checks = false\n")
        #expect(await rig.waitForLedger { l in l.complete && l.supervisordPID != nil && l.entry("crit")?.state == .running
            && l.entry("other")?.state == .running })
        #expect(rig.ledger()?.supervisordPID == Int(rig.harness.pid))
        _ = try rig.work.write("stop-other", "")
        #expect(await rig.waitForLedger { $0.entry("other")?.state == .exited && $0.entry("other")?.expected == false })
        // A non-critical exit: supervisord keeps running.
        #expect(!(await poll(timeout: .seconds(1)) { !rig.harness.isRunning }))
        _ = try rig.work.write("stop-crit", "")
        #expect(await poll(timeout: .seconds(15)) { !rig.harness.isRunning }, "\(rig.listenerLog())")
        #expect(rig.listenerLog().contains("sending SIGTERM to supervisord (pid \(rig.ledger()?.supervisordPID ?? -1))"))
    }

    @Test func cachedResultAfterCriticalExitWithoutSupervisord() async throws {
        let rig = try await ListenerRig.start(SupervisordConfig()
            .program("start", command: "/bin/sh -c 'exit 0'", autorestart: false)
            .program("crit", command: "/bin/sh -c 'while [ ! -e {work}/stop ]; do sleep 0.05; done; rm -f {work}/stop; exit 1'",
                     startsecs: 1, autorestart: true), probe: "[programs]\ncritical = crit\n")
        #expect(await rig.waitForLedger { l in l.complete && l.entry("crit")?.state == .running && l.entry("start")?.state == .exited })
        // The cached result becomes ready on a TICK.
        let ready = await poll(timeout: .seconds(15), every: .milliseconds(100)) {
            CachedResult.read(path: rig.resultPath, maxAge: .seconds(15)).code == 0
        }
        #expect(ready, "\(rig.listenerLog())")
        _ = try rig.work.write("stop", "")
        #expect(await rig.waitForLedger { $0.entry("crit")?.failure != nil })
        let failed = await poll(timeout: .seconds(15), every: .milliseconds(100)) {
            CachedResult.read(path: rig.resultPath, maxAge: .seconds(15)).code == Codes.programNotRunning
        }
        #expect(failed, "\(rig.listenerLog())")
        // A config whose supervisord does not exist, same rundir: --cached never asks it.
        let cachedConf = try rig.work.write("cached.conf", """
            [probe]
            rundir = \(rig.rundir)
            hooks_dir =
            sonic_hook =
            [supervisor]
            serverurl = unix:///nonexistent/readiness-probe-test.sock
            source = events
            [programs]
            critical = crit
            """)
        let cached = rig.run(["run", "--cached", "--config", cachedConf])
        #expect(cached.status == 4, "\(cached.stdout)\(cached.stderr)")
        #expect(cached.stdout.contains("crit") && !cached.stdout.contains("nonexistent"))
        // source = events answers from the ledger, also without supervisord; crit is RUNNING
        // again (autorestart) but its exit stays reported for failure_hold.
        let events = rig.run(["run", "--config", cachedConf, "--format", "json"])
        #expect(events.status == 4, "\(events.stdout)")
        #expect(events.stdout.contains("now RUNNING") || events.stdout.contains("exited"))
    }
}
