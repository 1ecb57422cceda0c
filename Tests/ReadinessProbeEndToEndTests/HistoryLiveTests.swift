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
        let rig = try await ListenerRig.start(SupervisordConfig().program("crit", command: "sleep 1000", autorestart: true), probe: "[start]\nprogram =\n[programs]\ncritical = crit\n")
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
        // The exit status from supervisord's log (its events carry none): 128 + 9, as a shell says it.
        #expect(exited["exit_status"]?.intValue == 137, "\(exited)")
        #expect(exited["detail"]?.stringValue?.contains("was killed by SIGKILL") == true, "\(exited)")
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
        #expect(table.stdout.contains("program crit EXITED (pid \(pid), exit 137, unexpected)"), "\(table.stdout)")
    }

    /// #15: every program record of an exit carries its exit status: EXITED with a status outside
    /// exitcodes (3), an expected one (0), a death by signal (SIGTERM sent by hand: 143), BACKOFF
    /// (an exit before startsecs: its status, from supervisord's log), and FATAL (no exit: null).
    @Test func exitStatusOfEachKindOfExit() async throws {
        let rig = try await ListenerRig.start(SupervisordConfig()
            .program("three", command: "/bin/sh -c 'sleep 0.3; exit 3'", autorestart: false)
            .program("zero", command: "/bin/sh -c 'sleep 0.3; exit 0'", autorestart: false)
            .program("termed", command: "sleep 1000", autorestart: false)
            .program("early", command: "/bin/sh -c 'exit 4'", startsecs: 1, autorestart: false, startretries: 1),
            probe: "[start]\nprogram =\n[programs]\ncritical = three\n")
        defer { rig.harness.stop() }
        #expect(await rig.waitFor("termed", .running))
        let pid = try #require(rig.processes().first { $0.name == "termed" }?.pid)
        #expect(kill(Int32(pid), SIGTERM) == 0)
        var all: [JSONValue] = []
        func record(_ program: String, _ state: String) -> JSONValue? {
            all.first { $0["program"]?.stringValue == program && $0["state"]?.stringValue == state }
        }
        #expect(await poll(timeout: .seconds(20)) {
            all = (try? records(rig)) ?? []
            return ["three", "zero", "termed"].allSatisfy { record($0, "EXITED") != nil } && record("early", "FATAL") != nil
        }, "\(all)\n\(rig.listenerLog())")
        #expect(record("three", "EXITED")?["exit_status"]?.intValue == 3, "\(all)")
        #expect(record("three", "EXITED")?["expected"] == .bool(false))
        #expect(record("three", "EXITED")?["detail"]?.stringValue?.contains("exited with status 3") == true, "\(all)")
        #expect(record("zero", "EXITED")?["exit_status"]?.intValue == 0, "\(all)")
        #expect(record("zero", "EXITED")?["expected"] == .bool(true))
        #expect(record("termed", "EXITED")?["exit_status"]?.intValue == 143, "\(all)")
        #expect(record("termed", "EXITED")?["pid"]?.intValue == pid)
        let backoffs = all.filter { $0["program"]?.stringValue == "early" && $0["state"]?.stringValue == "BACKOFF" }
        #expect(backoffs.count == 2 && backoffs.allSatisfy { $0["exit_status"]?.intValue == 4 }, "\(backoffs)")
        #expect(record("early", "FATAL")?["exit_status"] == .null)
        #expect(record("early", "STARTING")?["exit_status"] == .null)
        // Each record is written once, in the order of the events, and the table says it.
        let early = all.filter { $0["program"]?.stringValue == "early" }.compactMap { $0["state"]?.stringValue }
        #expect(early == ["STARTING", "BACKOFF", "STARTING", "BACKOFF", "FATAL"], "\(early)")
        let table = rig.run(["history", "--config", rig.probeConf, "--check", "three"])
        #expect(table.stdout.contains("program three EXITED (pid "), "\(table.stdout)")
        #expect(table.stdout.contains(", exit 3, unexpected): critical program three exited with status 3"), "\(table.stdout)")
        #expect(!rig.protocolBroken())
    }
}

/// serve's writer, /readyz/history and the transition metrics (parsed by prometheus_client).
@Suite struct HistoryServeTests {
    @Test func serveRecordsChangesAndServesThem() async throws {
        let b = HookBench()
        let conf = try b.config([("db", try b.flip("db"), ""), ("cache", try b.flip("cache"), "")])
        let s = try await ServeProcess.start(config: conf, extra: ["--period", "100ms", "--quiet"])
        #expect(await Wait.untilAsync { b.runs("db") >= 2 })
        try b.set("db", 40)
        #expect(await s.waitFor("/readyz", status: 503, code: 40) != nil)
        let before = Platform.epochSeconds()
        try b.set("db", 0)
        #expect(await s.waitFor("/readyz", status: 200) != nil)

        let r = try s.get("/readyz/history")
        #expect(r.status == 200)
        #expect(r.header("Content-Type") == "application/json")
        let records = try #require(try JSON.parse(r.bodyText)["records"]?.arrayValue)
        let summary = records.map { "\($0["check"]?.stringValue ?? "?"):\($0["from"]?.intValue.map(String.init) ?? "null")->\($0["to"]?.intValue ?? -1)" }
        #expect(summary == ["db:null->0", "cache:null->0", ":null->0", "db:0->40", ":0->40", "db:40->0", ":40->0"], "\(summary)")
        #expect(records.allSatisfy { $0["by"]?.stringValue == "serve" })
        let dbOnly = try #require(try JSON.parse(try s.get("/readyz/history?check=db&since=1h").bodyText)["records"]?.arrayValue)
        #expect(dbOnly.count == 3 && dbOnly.allSatisfy { $0["check"]?.stringValue == "db" })
        #expect(try s.get("/readyz/history?since=tomorrow").status == 400)
        // The command reads the same file.
        let cli = Command.run([TestPaths.binary, "history", "--config", conf, "--format", "json"])
        #expect(cli.stdout == r.bodyText)

        let m = try s.get("/metrics")
        let families = try await PrometheusParser.parse(m.bodyText, format: "text")
        let transitions = try #require(families.first { $0.name == "readiness_probe_transitions" })
        #expect(transitions.type == "counter")
        func count(_ check: String, _ to: String) -> Double? {
            transitions.samples.first { $0.name == "readiness_probe_transitions_total" && $0.labels == ["check": check, "to": to] }?.value
        }
        #expect(count("db", "40") == 1)
        #expect(count("db", "0") == 2)  // its first result, and the recovery
        #expect(count("", "40") == 1)
        #expect(count("cache", "0") == 1)
        let last = try #require(families.first { $0.name == "readiness_probe_last_transition_timestamp_seconds" })
        #expect(last.type == "gauge")
        let dbAt = try #require(last.samples.first { $0.labels == ["check": "db"] }?.value)
        #expect(dbAt >= before - 1 && dbAt <= Platform.epochSeconds() + 1)
        let om = try s.get("/metrics", headers: [("Accept", "application/openmetrics-text")])
        let omFamilies = try await PrometheusParser.parse(om.bodyText, format: "openmetrics")
        #expect(omFamilies.first { $0.name == "readiness_probe_transitions" }?.samples.contains { $0.labels == ["check": "", "to": "40"] } == true)
    }

    /// A hook that fails on every other run, with `failure_threshold = 3`: serve's answer is damped
    /// (200 all along), but the flapping is visible in the history and the transition metrics, which
    /// record what the checks said (issue #15: "visible in history and metrics; damped in results").
    /// No record is a damped row ("failed 1 of the 3 times ..." as a change to 0).
    @Test func aDampedFlappingHookIsVisibleInHistoryAndMetrics() async throws {
        let b = HookBench()
        let flag = b.dir.file("flap.flag")
        let hook = try b.dir.script("flap", "echo run >> \(b.dir.file("flap.runs"))\nif [ -e \(flag) ]; then rm -f \(flag); exit 40; else touch \(flag); exit 0; fi\n")
        let conf = try b.config([("flap", hook, "failure_threshold = 3")])
        let s = try await ServeProcess.start(config: conf, extra: ["--period", "100ms", "--quiet"])
        #expect(await Wait.untilAsync { b.runs("flap") >= 8 })
        #expect(try s.get("/readyz").status == 200)  // damped: never two failures in a row
        let records = try #require(try JSON.parse(try s.get("/readyz/history?check=flap").bodyText)["records"]?.arrayValue)
        #expect(records.contains { $0["to"]?.intValue == 40 }, "\(records)")
        #expect(records.contains { $0["from"]?.intValue == 40 && $0["to"]?.intValue == 0 }, "\(records)")
        #expect(!records.contains { $0["detail"]?.stringValue?.contains("failure_threshold needs") == true }, "\(records)")
        let families = try await PrometheusParser.parse(try s.get("/metrics").bodyText, format: "text")
        let transitions = try #require(families.first { $0.name == "readiness_probe_transitions" })
        let to40 = transitions.samples.first { $0.labels == ["check": "flap", "to": "40"] }?.value ?? 0
        #expect(to40 >= 1, "\(transitions.samples)")
    }

    @Test func historyDisabledIs404() async throws {
        let b = HookBench()
        let conf = try b.config([("db", try b.flip("db"), "")], extra: "[history]\nenabled = false\n")
        let s = try await ServeProcess.start(config: conf, extra: ["--period", "100ms", "--quiet"])
        #expect(await s.waitFor("/readyz", status: 200) != nil)
        #expect(try s.get("/readyz/history").status == 404)
        #expect(!Platform.exists(b.dir.path + "/run/readiness-probe/history"))
    }
}

@Suite(.timeLimit(.minutes(3))) struct TimelineLiveTests {
    /// A start program and three daemons (one RUNNING only after startsecs=1): every program's
    /// times are supervisord's own (from its log), ordered (STARTING <= RUNNING <= EXITED),
    /// plausible (within the test's minute): the start program's EXITED is its 0.5 s of sleep after
    /// its STARTING (the listener receives an EXITED up to a second late, and its first events in a
    /// burst after its seed: its own times had the start program EXITED 110 ms before RUNNING once),
    /// and the critical chain ends at the container's first ready result. Without supervisord's log
    /// the times are the listener's, still ordered.
    @Test func startProgramAndThreeDaemons() async throws {
        let rig = try await ListenerRig.start(SupervisordConfig()
            .program("start", command: "/bin/sh -c 'sleep 0.5; exit 0'", autorestart: false)
            .program("alpha", command: "sleep 1000")
            .program("beta", command: "sleep 1000", startsecs: 1)
            .program("gamma", command: "/bin/sh -c 'sleep 0.3; exec sleep 1000'"), probe: "[programs]\ncritical = alpha, beta, gamma\n")
        defer { rig.harness.stop() }
        #expect(await rig.waitFor("beta", .running))
        #expect(await rig.waitFor("start", .exited))
        #expect(await poll(timeout: .seconds(20)) { rig.run(["run", "--config", rig.probeConf]).status == 0 })
        let env = ["SUPERVISOR_SERVER_URL": rig.harness.serverURL]
        let r = Command.run([TestPaths.binary, "timeline", "--config", rig.probeConf, "--format", "json"], environment: env)
        #expect(r.status == 0, "\(r.stderr)")
        let v = try JSON.parse(r.stdout)
        #expect(v["times"]?.stringValue == "supervisord-log", "\(r.stdout)")
        let programs = try #require(v["programs"]?.arrayValue)
        func program(_ name: String) -> JSONValue? { programs.first { $0["program"]?.stringValue == name } }
        for name in ["start", "alpha", "beta", "gamma"] {
            let p = try #require(program(name), "\(name) in \(r.stdout)")
            let starting = try #require(p["starting"]?.doubleValue, "\(name)")
            let running = try #require(p["running"]?.doubleValue, "\(name)")
            #expect(starting >= 0 && starting < 60, "\(name) \(starting)")
            #expect(running >= starting && running < 60, "\(name) \(starting) \(running)")
            #expect(p["critical"]?.boolValue == (name != "start"))
        }
        let start = try #require(program("start"))
        #expect(start["start_program"]?.boolValue == true)
        let exited = try #require(start["exited"]?.doubleValue)
        let file = (try? Platform.readTextFile(rig.rundir + "/readiness-probe/history", limit: 1 << 22)) ?? ""
        let log = (try? Platform.readTextFile(rig.harness.dir.file("supervisord.log"), limit: 1 << 22)) ?? ""
        // It slept 0.5 s after supervisord spawned it (supervisord logs the spawn right after the
        // fork: 0.3 s leaves room for a loaded machine); RUNNING (startsecs=0) comes on supervisord's
        // next pass, at the latest together with the EXITED.
        #expect(exited >= (start["starting"]?.doubleValue ?? 99) + 0.3, "\(r.stdout)\n\(log)\n\(file)")
        #expect(exited >= (start["running"]?.doubleValue ?? 99), "\(r.stdout)\n\(log)\n\(file)")
        let beta = try #require(program("beta"))
        // startsecs=1: beta is RUNNING only after alpha (startsecs=0), spawned in the same second.
        #expect((beta["running"]?.doubleValue ?? 0) > (program("alpha")?["running"]?.doubleValue ?? 99))
        let readyAt = try #require(v["ready_at"]?.doubleValue)
        let chain = try #require(v["critical_chain"]?.arrayValue)
        #expect(chain.count == 4)
        let times = chain.compactMap { $0["at"]?.doubleValue }
        #expect(times.count == 4 && times == times.sorted(), "\(chain)")
        #expect(readyAt >= times.last ?? 99, "\(readyAt) \(times)")
        #expect(chain.first { $0["program"]?.stringValue == "start" }?["state"]?.stringValue == "EXITED")
        let table = Command.run([TestPaths.binary, "timeline", "--config", rig.probeConf], environment: env)
        #expect(table.stdout.contains("from supervisord's log"), "\(table.stdout)")
        #expect(table.stdout.contains("critical chain"))
        #expect(table.stdout.contains("container ready +"))
        #expect(table.stdout.contains("beta RUNNING @"), "\(table.stdout)")
        // Without supervisord (no server URL to find): the listener's times, still ordered.
        let own = rig.run(["timeline", "--config", rig.probeConf, "--format", "json"])
        let ownPrograms = try #require(try JSON.parse(own.stdout)["programs"]?.arrayValue, "\(own.stderr)")
        #expect(try JSON.parse(own.stdout)["times"]?.stringValue == "listener")
        for p in ownPrograms {
            let times = [p["starting"], p["running"], p["exited"]].compactMap { $0?.doubleValue }
            #expect(times == times.sorted(), "\(p)")
        }
    }

    @Test func withoutAListenerItSaysSo() throws {
        let rig = try HistoryRig()
        let r = Command.run([TestPaths.binary, "timeline", "--config", rig.conf])
        #expect(r.status == 11 && r.stderr.contains("no event listener ledger"), "\(r.stderr)")
    }
}
