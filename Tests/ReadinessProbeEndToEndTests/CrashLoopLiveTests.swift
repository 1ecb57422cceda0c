// Code 13 and latching under a real supervisord with `readiness-probe listen` as its event
// listener: a startsecs=0 loop, BACKOFF -> FATAL, and a critical program killed and restarted
// between two probes. Every wait is a condition with a deadline.
@preconcurrency import Glibc
import Testing
@testable import ReadinessProbe
import ProbeTestSupport
import ProbeSupport
import SupervisorKit

@Suite(.timeLimit(.minutes(2))) struct CrashLoopLiveTests {
    @Test func startsecsZeroLoopIs13() async throws {
        let rig = try await ListenerRig.start(SupervisordConfig()
            .program("looper", command: "/bin/sh -c 'sleep 0.2; exit 0'", autorestart: true)
            .program("steady", command: "sleep 1000", startsecs: nil), probe: "[programs]\ncritical = looper, steady\n")
        // supervisord never reaches FATAL here (startsecs=0: every start is a success); the listener counts the exits.
        var last = rig.run(["run", "--config", rig.probeConf])
        let seen = await poll(timeout: .seconds(30), every: .milliseconds(100)) {
            last = rig.run(["run", "--config", rig.probeConf])
            return last.status == 13
        }
        #expect(seen, "last: \(last.status) \(last.stdout)\n\(String(rig.listenerLog().suffix(2000)))")
        #expect(last.stdout.hasPrefix("not ready (code 13): programs: program looper is crash-looping\n"), "\(last.stdout)")
        #expect(last.stdout.contains("(crash_loop = 3/1m; seen by the event listener)"))
        #expect((rig.ledger()?.entry("looper")?.exits.count ?? 0) >= 3)
        #expect(rig.ledger()?.entry("steady")?.exits == [])
        // The listener's cached result says the same on a later TICK.
        #expect(await poll(timeout: .seconds(20), every: .milliseconds(200)) {
            rig.run(["run", "--cached", "--config", rig.probeConf]).status == 13
        })
        // With crash_loop = off the same program is still not ready: its exits are latched (code 4).
        let off = try rig.work.write("off.conf", (try Platform.readTextFile(rig.probeConf)) + "crash_loop = off\n")
        let r = rig.run(["run", "--config", off])
        #expect(r.status == 4, "\(r.stdout)")
        #expect(!rig.protocolBroken())
    }

    @Test func backoffThenFatal() async throws {
        // Exits at once: STARTING -> BACKOFF five times (1+2+3+4 s apart), then FATAL. No EXITED event at all.
        let rig = try await ListenerRig.start(SupervisordConfig()
            .program("broken", command: "/bin/sh -c 'exit 1'", startsecs: 1, autorestart: true, startretries: 4)
            .program("steady", command: "sleep 1000", startsecs: nil), probe: "[programs]\ncritical = broken, steady\n")
        var during = rig.run(["run", "--config", rig.probeConf])
        let looped = await poll(timeout: .seconds(30), every: .milliseconds(100)) {
            during = rig.run(["run", "--config", rig.probeConf])
            return during.status == 13
        }
        #expect(looped, "\(during.status) \(during.stdout)\n\(String(rig.listenerLog().suffix(2000)))")
        #expect(during.stdout.contains("program broken is crash-looping: it exited"), "\(during.stdout)")
        // Once supervisord gives up the state says it: FATAL is code 4 (documented in docs/codes.md).
        #expect(await rig.waitFor("broken", .fatal))
        var after = rig.run(["run", "--config", rig.probeConf])
        #expect(await poll(timeout: .seconds(20), every: .milliseconds(100)) {
            after = rig.run(["run", "--config", rig.probeConf])
            return after.status == 4
        }, "\(after.status) \(after.stdout)")
        #expect(after.stdout.hasPrefix("not ready (code 4): programs: program broken entered FATAL"), "\(after.stdout)")
        #expect((rig.ledger()?.entry("broken")?.exits.count ?? 0) >= 5)
    }

    /// A critical program's pid per XML-RPC when it is RUNNING.
    func runningPID(_ rig: ListenerRig, _ name: String) -> Int? {
        rig.processes().first { $0.name == name && $0.state == .running }.map(\.pid)
    }

    @Test func killedAndRestartedBetweenTwoProbesIsReported() async throws {
        let rig = try await ListenerRig.start(SupervisordConfig()
            .program("daemon", command: "sleep 1000", autorestart: true)
            .program("polite", command: "/bin/sh -c 'trap \"exit 0\" USR1; while :; do sleep 0.1; done'", autorestart: true), probe: "[programs]\ncritical = daemon, polite\n")
        var r = rig.run(["run", "--config", rig.probeConf])
        #expect(await poll(timeout: .seconds(20), every: .milliseconds(100)) {
            r = rig.run(["run", "--config", rig.probeConf])
            return r.status == 0
        }, "\(r.stdout)")
        // SIGKILL: supervisord restarts it at once (startsecs=0); no probe runs in between.
        let old = try #require(runningPID(rig, "daemon"))
        kill(pid_t(old), SIGKILL)
        #expect(await poll(timeout: .seconds(20)) { (runningPID(rig, "daemon") ?? old) != old })
        r = rig.run(["run", "--config", rig.probeConf])
        #expect(r.status == 4, "\(r.stdout)")
        #expect(r.stdout.hasPrefix("not ready (code 4): programs: program daemon "), "\(r.stdout)")
        #expect(r.stdout.contains("now RUNNING (pid \(runningPID(rig, "daemon") ?? 0)); reported for 30s after the exit"), "\(r.stdout)")
        // An expected exit (status 0, in exitcodes) between two probes is latched as well.
        let politeOld = try #require(runningPID(rig, "polite"))
        kill(pid_t(politeOld), SIGUSR1)
        #expect(await poll(timeout: .seconds(20)) { (runningPID(rig, "polite") ?? politeOld) != politeOld })
        r = rig.run(["run", "--config", rig.probeConf, "--format", "json"])
        #expect(r.status == 4)
        #expect(r.stdout.contains("also program polite exited (an expected exit s"), "\(r.stdout)")  // the detail is capped
        #expect(rig.ledger()?.entry("polite")?.failure?.detail.hasPrefix("critical program polite exited (an expected exit status) (pid \(politeOld)); seen by the event listener") == true)
        #expect(!rig.protocolBroken())
    }

    /// supervisord hands an event to its listener on its next loop turn, up to 1 s after the exit
    /// when nothing else wakes it (nothing does here: no client talks to it after the kill). A
    /// probe in that second read the ledger's RUNNING and said ready (measured: 0 for 0.93 s);
    /// the pid is gone once supervisord has reaped it, so the probe says 4 at once.
    @Test func aCriticalProgramThatDiedIsReportedBeforeItsEventArrives() async throws {
        let rig = try await ListenerRig.start(SupervisordConfig()
            .program("daemon", command: "sleep 1000", autorestart: false), probe: "[programs]\ncritical = daemon\n")
        var r = rig.run(["run", "--config", rig.probeConf])
        #expect(await poll(timeout: .seconds(20), every: .milliseconds(100)) {
            r = rig.run(["run", "--config", rig.probeConf])
            return r.status == 0
        }, "\(r.stdout)")
        let pid = try #require(runningPID(rig, "daemon"))
        #expect(rig.ledger()?.entry("daemon")?.pid == pid)
        kill(pid_t(pid), SIGKILL)
        // Reaped by supervisord (a zombie still answers kill 0); no supervisord call in between.
        #expect(await poll(timeout: .seconds(20), every: .milliseconds(1)) { kill(pid_t(pid), 0) != 0 })
        r = rig.run(["run", "--config", rig.probeConf])
        #expect(r.status == 4, "\(r.stdout)")
        #expect(r.stdout.hasPrefix("not ready (code 4): programs: program daemon "), "\(r.stdout)")
        #expect(!rig.protocolBroken())
    }

    @Test func badValueIsCode8WithFileAndLine() throws {
        let dir = TempDir("cl")
        let path = try dir.write("rp.conf", "[probe]\nhooks_dir =\nsonic_hook =\n[programs]\ncritical = a\ncrash_loop = 3 per minute\n")
        let r = Command.run([TestPaths.binary, "validate", "--config", path])
        #expect(r.status == 8)
        #expect(r.stderr.contains("\(path):6"), "\(r.stderr)")
        #expect(r.stderr.contains("crash_loop must be COUNT/WINDOW"), "\(r.stderr)")
    }
}
