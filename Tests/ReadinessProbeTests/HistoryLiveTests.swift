// The flight recorder under a real supervisord with `readiness-probe listen` (docs/history.md).
@preconcurrency import Glibc
import Testing
@testable import ReadinessProbe
import ProbeTestSupport
import ProbeSupport
import SupervisorKit

@Suite(.timeLimit(.minutes(3))) struct HistoryLiveTests {
    func records(_ rig: ListenerRig, _ args: [String] = []) throws -> [JSONValue] {
        let r = rig.run(["history", "--config", rig.probeConf, "--format", "json"] + args)
        #expect(r.status == 0, "\(r.stderr)")
        return try #require(try JSON.parse(r.stdout)["records"]?.arrayValue)
    }

    /// A critical program SIGKILLed and restarted by supervisord between two probes: the history
    /// shows the exit (the listener's transitions), and the next probe's failure (latched by the
    /// listener's failure_hold) is recorded with the program's name in its detail.
    @Test func aCriticalProgramKilledBetweenTwoProbesShowsInHistory() async throws {
        let rig = try await ListenerRig.start(programs: """
            [program:crit]
            command=sleep 1000
            startsecs=0
            autorestart=true
            """, probe: "[start]\nprogram =\n[programs]\ncritical = crit\n")
        defer { rig.harness.stop() }
        #expect(await rig.waitFor("crit", .running))
        #expect(await poll(timeout: .seconds(15)) { rig.ledgerMatchesSupervisord() }, "\(rig.listenerLog())")
        #expect(rig.run(["run", "--config", rig.probeConf]).status == 0)
        let pid = try #require(rig.processes().first { $0.name == "crit" }?.pid)
        #expect(kill(Int32(pid), SIGKILL) == 0)
        #expect(await poll(timeout: .seconds(15)) { rig.processes().contains { $0.name == "crit" && $0.state == .running && $0.pid != pid } })
        // The next probe: RUNNING again, but the exit is still reported (code 4).
        let probe = rig.run(["run", "--config", rig.probeConf])
        #expect(probe.status == 4, "\(probe.stdout)")
        var found: [JSONValue] = []
        #expect(await poll(timeout: .seconds(10)) {
            found = (try? records(rig, ["--check", "crit"])) ?? []
            return found.contains { $0["state"]?.stringValue == "RUNNING" && $0["pid"]?.intValue != pid }
        }, "\(found)")
        let exited = try #require(found.first { $0["state"]?.stringValue == "EXITED" }, "\(found)")
        #expect(exited["expected"] == .bool(false))
        #expect(exited["pid"]?.intValue == pid)
        #expect(exited["by"]?.stringValue == "listen")
        #expect(exited["exit_status"] == .null)
        #expect(exited["detail"]?.stringValue?.contains("exited unexpectedly") == true)
        let states = found.compactMap { $0["state"]?.stringValue }
        #expect(states.suffix(3) == ["EXITED", "STARTING", "RUNNING"], "\(states)")
        // The programs check went 0 -> 4 (by the probe above, or the listener's TICK run).
        let all = try records(rig)
        let change = try #require(all.first { $0["check"]?.stringValue == "programs" && $0["to"]?.intValue == 4 }, "\(all)")
        #expect(change["from"]?.intValue == 0)
        #expect(change["detail"]?.stringValue?.contains("crit") == true)
        let overall = try #require(all.first { $0["check"]?.stringValue == "" && $0["to"]?.intValue == 4 })
        #expect(overall["from"]?.intValue == 0)
        // The table says how long it lasted.
        let table = rig.run(["history", "--config", rig.probeConf])
        #expect(table.stdout.contains("not ready (code 4) for "), "\(table.stdout)")
        #expect(table.stdout.contains("program crit EXITED (pid \(pid), unexpected)"), "\(table.stdout)")
    }
}
