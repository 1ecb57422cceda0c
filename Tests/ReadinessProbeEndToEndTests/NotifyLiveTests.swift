// sd_notify against the real thing: a real supervisord with `readiness-probe listen` as its event
// listener (ListenerRig), and real senders: redis-server (Debian's, `--supervised systemd`),
// systemd-notify (Debian's systemd package; it sends from a child and waits on BARRIER=1), a
// Python program using sdnotify (pinned in .venv), and `readiness-probe notify`. Tests/deps.sh
// installs the Debian packages.
@preconcurrency import Glibc
import Testing
import ProbeSupport
@testable import ReadinessProbe
import ProbeTestSupport
import SupervisorKit

extension ListenerRig {
    var notifySocket: String { rundir + "/readiness-probe/notify.sock" }

    /// The programs check for `name` alone as a notify program, on the listener's ledger.
    func notifyVerdict(_ name: String, watchdog: Duration? = .seconds(30)) -> CheckOutcome {
        var settings = ProbeSettings()
        settings.rundir = rundir
        settings.supervisor.source = .events
        return ProgramsCheck(selectors: [.program(name)], notify: [.program(name)], watchdog: watchdog)
            .verdict(LedgerSource.snapshot(settings), settings: settings)
    }

    func waitForVerdict(_ name: String, code: Int32, containing text: String = "", watchdog: Duration? = .seconds(30),
                        timeout: Duration = .seconds(30)) async -> Bool {
        await poll(timeout: timeout) {
            let v = notifyVerdict(name, watchdog: watchdog)
            return v.code == code && (text.isEmpty || v.detail.contains(text))
        }
    }

    func touch(_ name: String) { _ = try? work.write(name, "") }
}

func requireTool(_ path: String) throws {
    guard Platform.isExecutable(path) else {
        throw SupervisordHarnessError("\(path) is missing: run Tests/deps.sh (as root) or `make test`, which installs it")
    }
}

let venvPython = TestPaths.packageRoot + "/.venv/bin/python"

/// A program's `environment` that points sd_notify senders at the rig's listener socket.
let notifyEnvironment = "NOTIFY_SOCKET=\"{work}/run/readiness-probe/notify.sock\""

@Suite(.serialized, .timeLimit(.minutes(3))) struct NotifyLiveTests {
    /// redis-server: 12 while it has not sent READY=1, 0 once it has, 12 again after a restart until it re-notifies.
    @Test func redisReadyAfterLoadAndAgainAfterRestart() async throws {
        try requireTool("/usr/bin/redis-server")
        let work = TempDir("nredis")
        let rig = try await ListenerRig.start(SupervisordConfig()
            .program("redis", command: "sh -c 'while [ ! -e {work}/go ]; do sleep 0.05; done; exec /usr/bin/redis-server --port 0 "
                        + "--unixsocket \(work.path)/redis.sock --save \"\" --dir \(work.path) --supervised systemd --loglevel notice'",
                     startsecs: 1, stopwaitsecs: 10, environment: notifyEnvironment), probe: "[supervisor]\nsource = events\n[programs]\nnotify = redis\n")
        #expect(await rig.waitFor("redis", .running))
        // RUNNING (startsecs passed) but redis has not even started: 12, with how long it has waited.
        #expect(await rig.waitForVerdict("redis", code: Codes.programNotReady, containing: "has not reported ready"))
        var r12 = rig.run(["run", "--config", rig.probeConf])
        #expect(await poll { r12 = rig.run(["run", "--config", rig.probeConf]); return r12.status == 12 && r12.stdout.contains("redis") },
                "\(r12.stdout)")
        rig.touch("go")
        #expect(await rig.waitForVerdict("redis", code: 0, containing: "Ready to accept connections"), "\(rig.notifyVerdict("redis").detail)\n\(rig.listenerLog())")
        var r0 = rig.run(["run", "--config", rig.probeConf, "--format", "json"])
        #expect(await poll { r0 = rig.run(["run", "--config", rig.probeConf, "--format", "json"]); return r0.status == 0 }, "\(r0.stdout)")
        let pid1 = rig.ledger()?.entry("redis")?.notify?.pid
        #expect(pid1 != nil && pid1 == rig.ledger()?.entry("redis")?.pid, "the sender was redis itself (exec'd, same pid)")
        // A restart: READY is cleared; redis (gated again) is 12 until it re-notifies.
        try Platform.removeFile(rig.work.file("go"))
        _ = rig.harness.supervisorctl(["restart", "redis"])
        #expect(await rig.waitForLedger { l in l.entry("redis").map { $0.state == .running && $0.pid != pid1 } ?? false })
        #expect(await rig.waitForVerdict("redis", code: Codes.programNotReady, containing: "has not reported ready"))
        // The old redis said STOPPING=1 on SIGTERM; the log shows it (supervisord copies the
        // listener's stderr to the file in its own time: polled), and it did not leak into the new start.
        #expect(await poll { rig.listenerLog().contains("redis STOPPING=1") }, "\(rig.listenerLog())")
        rig.touch("go")
        #expect(await rig.waitForVerdict("redis", code: 0))
        #expect(!rig.protocolBroken())
        rig.harness.stop()
    }

    /// A program that says READY=1 at once, before the listener has read its STARTING event
    /// (supervisord queues events while the listener seeds; redis with startsecs=0 does this at
    /// boot): the stale STARTING must not clear what the running pid said. The listener starts
    /// after 120 programs, so their 240 queued events come before x's; x sends as soon as the
    /// seeded ledger names it. Before the fix x stayed at 12 for good (about 4 starts in 5).
    @Test func readyBeforeItsQueuedStartEventsIsKept() async throws {
        try requireTool("/usr/bin/systemd-notify")
        let work = TempDir("nseed")
        let dummies = (1...120).reduce(SupervisordConfig()) { $0.program("d\($1)", command: "sleep 1000", priority: 5) }
        let x = try work.write("x.sh", """
            #!/bin/sh
            until grep -qs '"name": "x"' \(work.path)/run/readiness-probe/ledger.json; do sleep 0.005; done
            systemd-notify --ready --status=x-ready
            exec sleep 1000
            """)
        chmod(x, 0o755)
        let rig = try await ListenerRig.start(dummies
            .program("x", command: x, environment: notifyEnvironment, priority: 50), probe: "[supervisor]\nsource = events\n[programs]\nnotify = x\n", work: work, listener: "priority=900")
        #expect(await rig.waitForLedger { l in l.complete && l.entry("x")?.state == .running && l.entry("x")?.pid ?? 0 > 0
            && l.entry("d120")?.state == .running && l.entries.allSatisfy { $0.state == .running } })
        #expect(await rig.waitForVerdict("x", code: 0, containing: "x-ready", timeout: .seconds(15)),
                "\(rig.notifyVerdict("x").detail)\n\(rig.listenerLog().split(separator: "\n").filter { $0.contains(" x ") }.joined(separator: "\n"))")
        #expect(!rig.protocolBroken())
        rig.harness.stop()
    }

    /// `[program:NAME] watchdog` overrides `[programs] watchdog` for one program, and
    /// `on_watchdog = restart` makes the listener restart it through supervisord (XML-RPC
    /// stopProcess + startProcess, recorded in the ledger), never more often than once per
    /// period, even for a program that triggers its watchdog right after every start.
    @Test func perProgramWatchdogAndRestart() async throws {
        let bin = TestPaths.binary
        let rig = try await ListenerRig.start(SupervisordConfig()
            .program("dog", command: "sh -c 'echo \"start $$ $(date +%%s.%%N)\" >> {work}/dog.log; \(bin) notify --ready; "
                        + "for i in 1 2 3; do \(bin) notify WATCHDOG=1; sleep 0.2; done; exec sleep 1000'",
                     environment: notifyEnvironment)
            .program("trigger", command: "sh -c 'echo \"$(date +%%s.%%N)\" >> {work}/trigger.log; \(bin) notify --ready; "
                        + "\(bin) notify WATCHDOG=trigger; exec sleep 1000'",
                     environment: notifyEnvironment)
            .program("quiet", command: "sh -c '\(bin) notify --ready; echo \"notify exit $?\" > {work}/quiet.out; \(bin) notify WATCHDOG=1; exec sleep 1000'",
                     environment: notifyEnvironment), probe: """
            [supervisor]
            source = events
            [programs]
            notify = dog, trigger, quiet
            watchdog = 30s
            [program:dog]
            watchdog = 1s
            on_watchdog = restart
            [program:trigger]
            watchdog = 2s
            on_watchdog = restart
            [program:quiet]
            watchdog = 1s
            """)
        for p in ["dog", "trigger", "quiet"] { #expect(await rig.waitFor(p, .running)) }
        // quiet reports the moment it starts, often before the listener has bound the socket:
        // `notify` waits for it (up to 5 s) rather than losing READY=1.
        #expect(await poll { ((try? Platform.readTextFile(rig.work.file("quiet.out"))) ?? "").contains("notify exit 0") },
                "\((try? Platform.readTextFile(rig.work.file("quiet.out"))) ?? "")")
        // quiet: its own 1 s period (not [programs]' 30 s) expires: 12; nobody restarts it.
        let conf = try ProbeConfiguration.load(explicitPath: rig.probeConf, environment: [:])
        var quiet = try #require(conf.entries.compactMap { $0.check as? ProgramsCheck }.first)
        quiet.selectors = [.program("quiet")]
        quiet.notify = [.program("quiet")]
        #expect(await poll(timeout: .seconds(20)) {
            let v = quiet.verdict(LedgerSource.snapshot(conf.settings), settings: conf.settings)
            return v.code == Codes.programNotReady && v.detail.contains("quiet: watchdog expired") && v.detail.contains("period 1s")
        }, "\(quiet.verdict(LedgerSource.snapshot(conf.settings), settings: conf.settings).detail)\n\(rig.listenerLog())")
        // dog: fed 3 times, then quiet for its 1 s period: restarted (a new pid), and recorded.
        let firstDog = rig.ledger()?.watchdogRestarts.first { $0.program == "dog" }?.pid ?? rig.ledger()?.entry("dog")?.pid
        #expect(await rig.waitForLedger { l in
            l.watchdogRestarts.contains { $0.program == "dog" && $0.result == "restarted" && $0.reason.contains("watchdog expired") }
        }, "\(rig.listenerLog())")
        #expect(await poll { ((try? Platform.readTextFile(rig.work.file("dog.log"))) ?? "").split(separator: "\n").count >= 2 })
        #expect(await rig.waitForLedger { l in l.entry("dog").map { $0.state == .running && $0.pid != firstDog } ?? false })
        // trigger: WATCHDOG=trigger right after each start; restarted, but starts are at least
        // about its 2 s period apart (the listener asks at most once per period), never a tight loop.
        #expect(await poll(timeout: .seconds(30)) {
            ((try? Platform.readTextFile(rig.work.file("trigger.log"))) ?? "").split(separator: "\n").count >= 4
        })
        let starts = ((try? Platform.readTextFile(rig.work.file("trigger.log"))) ?? "").split(separator: "\n").compactMap { Double($0) }
        // The first restart comes at once (no earlier one); each later one a period after the previous.
        let gaps = zip(starts.dropFirst(), starts).map { $0 - $1 }.dropFirst()
        #expect(gaps.count >= 2 && gaps.allSatisfy { $0 >= 1.5 }, "starts \(starts), gaps \(Array(gaps))")
        let l = try #require(rig.ledger())
        let t = try #require(l.watchdogRestarts.first { $0.program == "trigger" })
        #expect(t.count >= 3 && t.reason.contains("WATCHDOG=trigger"), "\(t)")
        #expect(!l.watchdogRestarts.contains { $0.program == "quiet" })
        #expect(!rig.protocolBroken())
        rig.harness.stop()
    }

    /// systemd-notify (from a child, with BARRIER=1), readiness-probe notify, Python sdnotify; a
    /// watchdog that stops being fed; STOPPING=1.
    @Test func realSendersWatchdogAndStopping() async throws {
        try requireTool("/usr/bin/systemd-notify")
        try requireTool(venvPython)
        let bin = TestPaths.binary
        let gate = "while [ ! -e {work}/go ]; do sleep 0.05; done"
        let rig = try await ListenerRig.start(SupervisordConfig()
            .program("shelly", command: "sh -c '\(gate); /usr/bin/systemd-notify --ready --status=\"shell ready\"; echo \"systemd-notify exit $?\"; exec sleep 1000'",
                     environment: notifyEnvironment, stdoutLog: "{work}/shelly.out")
            .program("rpnotify", command: "sh -c '\(gate); \(bin) notify --ready --status=\"rp ready\"; echo \"notify exit $?\"; exec sleep 1000'",
                     environment: notifyEnvironment, stdoutLog: "{work}/rpnotify.out")
            .program("py", command: "\(venvPython) -c 'import os, time, sdnotify; [time.sleep(0.05) for _ in iter(lambda: os.path.exists(\"{work}/go\"), True)]; "
                        + "n = sdnotify.SystemdNotifier(); n.notify(\"STATUS=python ready\\nREADY=1\"); time.sleep(1000)'",
                     environment: notifyEnvironment)
            .program("dog", command: "sh -c '\(gate); \(bin) notify --ready; for i in 1 2 3; do \(bin) notify WATCHDOG=1; sleep 0.3; done; "
                        + "touch {work}/dog.quiet; exec sleep 1000'",
                     environment: notifyEnvironment)
            .program("stopper", command: "sh -c '\(gate); \(bin) notify --ready; sleep 0.5; \(bin) notify --stopping --status=draining; exec sleep 1000'",
                     environment: notifyEnvironment), probe: "[supervisor]\nsource = events\n[programs]\nnotify = shelly, rpnotify, py, dog, stopper\nwatchdog = 2s\n")
        for p in ["shelly", "rpnotify", "py", "dog", "stopper"] { #expect(await rig.waitFor(p, .running)) }
        for p in ["shelly", "rpnotify", "py"] {
            #expect(await rig.waitForVerdict(p, code: Codes.programNotReady, containing: "has not reported ready"), "\(p)")
        }
        rig.touch("go")
        #expect(await rig.waitForVerdict("shelly", code: 0, containing: "shell ready"), "\(rig.notifyVerdict("shelly").detail)\n\(rig.listenerLog())")
        #expect(await rig.waitForVerdict("rpnotify", code: 0, containing: "rp ready"))
        #expect(await rig.waitForVerdict("py", code: 0, containing: "python ready"))
        // Both helpers exited 0: the barrier fd was closed by the listener (else systemd-notify fails after 5 s).
        #expect(await poll { ((try? Platform.readTextFile(rig.work.file("shelly.out"))) ?? "").contains("systemd-notify exit 0") })
        #expect(await poll { ((try? Platform.readTextFile(rig.work.file("rpnotify.out"))) ?? "").contains("notify exit 0") })
        // The listener writes its counters to the ledger file a moment after it closed the fds: wait for them.
        #expect(await rig.waitForLedger { ($0.notify?.fdsClosed ?? 0) >= 2 }, "\(String(describing: rig.ledger()?.notify))")
        let l = try #require(rig.ledger())
        #expect((l.notify?.fdsClosed ?? 0) >= 2 && l.notify?.unattributed == 0, "\(String(describing: l.notify))")
        // The senders were children of the programs; the state belongs to the program's pid.
        #expect(l.entry("shelly")?.notify?.pid == l.entry("shelly")?.pid)
        // STOPPING=1: 12. The watchdog: fed three times, then quiet: 12 once 2 s have passed.
        #expect(await rig.waitForVerdict("stopper", code: Codes.programNotReady, containing: "is stopping"))
        #expect(await rig.waitForVerdict("dog", code: Codes.programNotReady, containing: "watchdog expired", watchdog: .seconds(2)),
                "\(rig.notifyVerdict("dog", watchdog: .seconds(2)).detail)")
        var r = rig.run(["run", "--config", rig.probeConf])
        #expect(await poll { r = rig.run(["run", "--config", rig.probeConf]); return r.status == 12 }, "\(r.stdout)")
        // serve: /readyz JSON and /metrics carry each notify program's state.
        let serve = try await ServeProcess.start(config: rig.probeConf, extra: ["--period", "200ms"])
        let json = try #require(await serve.waitFor("/readyz?format=json", status: 503, code: 12))
        let body = try JSON.parse(json.body)
        let programs = try #require(body["notify"]?["programs"]?.arrayValue)
        let shelly = try #require(programs.first { $0["name"]?.stringValue == "shelly" })
        #expect(shelly["ready"]?.boolValue == true && shelly["status"]?.stringValue == "shell ready" && shelly["ready_since"]?.doubleValue != nil)
        #expect(programs.first { $0["name"]?.stringValue == "dog" }?["watchdog_age_seconds"]?.doubleValue ?? 0 > 2)
        #expect(programs.first { $0["name"]?.stringValue == "stopper" }?["ready"]?.boolValue == false)
        let metrics = try serve.get("/metrics").bodyText
        #expect(metrics.contains("readiness_probe_notify_ready{program=\"shelly\"} 1"), "\(metrics)")
        #expect(metrics.contains("readiness_probe_notify_ready{program=\"stopper\"} 0"))
        #expect(metrics.contains("readiness_probe_notify_watchdog_age_seconds{program=\"dog\"}"))
        #expect(metrics.contains("readiness_probe_notify_ready_since_timestamp_seconds{program=\"py\"}"))
        let om = try serve.get("/metrics", headers: [("Accept", "application/openmetrics-text; version=1.0.0")]).bodyText
        for (text, format) in [(metrics, "text"), (om, "openmetrics")] {
            let families = try await PrometheusParser.parse(text, format: format)
            #expect(families.contains { $0.name == "readiness_probe_notify_ready" && $0.samples.count == 5 }, "\(format)")
        }
        #expect(!rig.protocolBroken())
        rig.harness.stop()
    }

    /// await: the dependent program starts (execs) only after its dependency's READY=1; a dependency
    /// that never becomes ready makes await exit 9 without running its command.
    @Test func awaitOrdersStartUpAndTimesOut() async throws {
        let bin = TestPaths.binary
        let probe = "{work}/probe.conf"  // the rig's own probe config: same rundir and notify list
        let rig = try await ListenerRig.start(SupervisordConfig()
            .program("dep", command: "sh -c 'while [ ! -e {work}/go ]; do sleep 0.05; done; date +%%s.%%N > {work}/dep.ready; "
                        + "\(bin) notify --ready; exec sleep 1000'",
                     environment: notifyEnvironment)
            .program("user", command: "\(bin) await --config \(probe) --timeout 60s dep -- sh -c 'date +%%s.%%N > {work}/user.started; exec sleep 1000'",
                     stdoutLog: "{work}/user.log", redirectStderr: true)
            .program("never", command: "sleep 1000")
            .program("init", command: "sh -c 'sleep 0.2; exit 0'", autorestart: false)
            .program("early", command: "\(bin) await --config \(probe) --timeout 30s init:exited never:running -- touch {work}/early.ran",
                     autorestart: false)
            .program("impatient", command: "\(bin) await --config \(probe) --timeout 1s never -- touch {work}/impatient.ran",
                     autorestart: false, stdoutLog: "{work}/impatient.log", redirectStderr: true), probe: "[supervisor]\nsource = events\n[programs]\nnotify = dep, never\n")
        #expect(await rig.waitFor("user", .running))
        #expect(await rig.waitFor("dep", .running))
        // Give await time to look at a ledger where dep is RUNNING but not ready: it must not start.
        #expect(await poll { ((try? Platform.readTextFile(rig.work.file("user.log"))) ?? "").contains("has not reported ready") })
        #expect(!Platform.exists(rig.work.file("user.started")))
        rig.touch("go")
        #expect(await poll { Platform.exists(rig.work.file("user.started")) }, "\((try? Platform.readTextFile(rig.work.file("user.log"))) ?? "")")
        let depReady = try #require(Double(try Platform.readTextFile(rig.work.file("dep.ready")).trimmingASCIIWhitespace()))
        #expect(await poll { ((try? Platform.readTextFile(rig.work.file("user.started"))) ?? "").hasSuffix("\n") })
        let userStarted = try #require(Double(try Platform.readTextFile(rig.work.file("user.started")).trimmingASCIIWhitespace()))
        #expect(userStarted >= depReady, "user started at \(userStarted), dep was ready at \(depReady)")
        // exec: the program supervisord tracks is now the command itself (same pid).
        let userPID = try #require(rig.processes().first { $0.name == "user" }?.pid)
        #expect(await poll { ((try? Platform.readTextFile("/proc/\(userPID)/cmdline")) ?? "").hasPrefix("sleep") })
        // The impatient one: 9 at its deadline, its command never ran.
        #expect(await rig.waitFor("impatient", .exited))
        let imp = try #require(rig.processes().first { $0.name == "impatient" })
        #expect(imp.exitStatus == 9)
        #expect(!Platform.exists(rig.work.file("impatient.ran")))
        #expect(((try? Platform.readTextFile(rig.work.file("impatient.log"))) ?? "").contains("not ready after 1s"))
        // supervisord-dependent-startup's states: init:exited and never:running (READY=1 not needed) are met.
        #expect(await poll { Platform.exists(rig.work.file("early.ran")) })
        rig.harness.stop()
    }

    /// Bad input: an unrelated sender, 64 KiB datagrams, garbage, and a flood while supervisord's
    /// events keep coming; the listener applies none of them, answers every event, and a real
    /// READY=1 sent during the flood still gets through.
    @Test func badInputAndFlood() async throws {
        try requireTool(venvPython)
        let bin = TestPaths.binary
        let rig = try await ListenerRig.start(SupervisordConfig()
            .program("target", command: "sh -c 'while [ ! -e {work}/go ]; do sleep 0.05; done; \(bin) notify --ready; exec sleep 1000'",
                     environment: notifyEnvironment)
            .program("blinker", command: "sh -c 'sleep 0.1; exit 0'", autorestart: true), probe: "[supervisor]\nsource = events\n[programs]\nnotify = target\n")
        #expect(await rig.waitFor("target", .running))
        #expect(await poll { Platform.exists(rig.notifySocket) })
        let address = try #require(NotifyAddress(rig.notifySocket))
        // The test process is no program's descendant.
        try NotifySocket.send(Array("READY=1".utf8), to: address)
        try NotifySocket.send([UInt8](repeating: 0x52, count: 65536), to: address)
        try NotifySocket.send([0xFF, 0x00, 0x01, 0x3D, 0x0A, 0xC3], to: address)
        // (and the ledger has target RUNNING: under load its event can come after the datagrams)
        #expect(await rig.waitForLedger { ($0.notify?.unattributed ?? 0) >= 1 && ($0.notify?.oversized ?? 0) >= 1 && ($0.notify?.malformed ?? 0) >= 1
            && $0.entry("target")?.state == .running })
        #expect(rig.notifyVerdict("target").code == Codes.programNotReady)
        // The flood: one Python process sends as fast as the socket takes them for 3 s.
        let eventsBefore = rig.ledger()?.eventsSeen ?? 0
        let flood = try rig.work.write("flood.py", """
            import socket, sys, time
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.connect(sys.argv[1])
            n, end = 0, time.time() + 3
            while time.time() < end:
                for _ in range(100):
                    s.send(b"READY=1\\nSTATUS=flood")
                n += 100
            print(n)
            """)
        let floodTask = Task.detached { Command.run([venvPython, flood, address.text]) }
        try? await Task.sleep(for: .milliseconds(500))
        rig.touch("go")  // target's real READY=1 arrives in the middle of the flood
        let sent = await floodTask.value
        #expect(sent.status == 0, "\(sent.stderr)")
        let count = Int(sent.stdout.trimmingASCIIWhitespace()) ?? 0
        #expect(count > 1000, "flood sent \(count)")
        #expect(await rig.waitForVerdict("target", code: 0), "\(rig.notifyVerdict("target").detail)")
        #expect(await rig.waitForLedger { ($0.notify?.unattributed ?? 0) >= count })
        let l = try #require(rig.ledger())
        #expect(l.eventsSeen > eventsBefore + 5, "blinker's events kept being answered during the flood")
        #expect(!rig.protocolBroken(), "\(rig.harness.output())")
        #expect(await poll { rig.ledgerMatchesSupervisord() })
        #expect(l.entry("target")?.notify?.status != "flood")
        rig.harness.stop()
    }

    /// The socket path already exists as a regular file: refused with a clear error, the file is
    /// untouched, the listener keeps serving supervisord, and notify programs are 12.
    @Test func existingFileAtSocketPathIsRefused() async throws {
        let work = TempDir("nfile")
        try Platform.makeDirectories(work.path + "/run/readiness-probe")
        _ = try work.write("run/readiness-probe/notify.sock", "mine")
        let rig = try await ListenerRig.start(SupervisordConfig().program("prog", command: "sleep 1000"), probe: "[programs]\nnotify = prog\n[notify]\nsocket = \(work.path)/run/readiness-probe/notify.sock\n")
        #expect(await rig.waitForLedger { $0.entry("prog")?.state == .running && $0.notify?.error != nil })
        #expect(await poll { rig.listenerLog().contains("exists and is a regular file; refusing to replace it") }, "\(rig.listenerLog())")
        #expect(try Platform.readTextFile(work.file("run/readiness-probe/notify.sock")) == "mine")
        var r = rig.run(["run", "--config", rig.probeConf])
        #expect(await poll { r = rig.run(["run", "--config", rig.probeConf]); return r.status == 12 && r.stdout.contains("no notify socket") },
                "\(r.status): \(r.stdout)")
        let before = rig.ledger()?.entry("prog")?.pid
        _ = rig.harness.supervisorctl(["restart", "prog"])
        #expect(await rig.waitForLedger { $0.entry("prog")?.state == .running && $0.entry("prog")?.pid != before })
        #expect(!rig.protocolBroken())
        rig.harness.stop()
    }

    /// A rundir the listener cannot write (it runs as nobody): a clear error, events still answered.
    @Test func unwritableRundir() async throws {
        let work = TempDir("nrodir")
        try Platform.makeDirectories(work.path + "/ro/readiness-probe")  // as a root listener left it
        try Platform.changeMode(work.path + "/ro", 0o755)
        try Platform.changeMode(work.path + "/ro/readiness-probe", 0o755)
        try Platform.changeMode(work.path, 0o755)
        let conf = try work.write("probe.conf", "[probe]\nrundir = \(work.path)/ro\nhooks_dir =\nsonic_hook =\n[programs]\nnotify = prog\n", mode: 0o644)
        let harness = try await Blocking.run { () -> Result<SupervisordHarness, any Error> in
            Result { try SupervisordHarness(SupervisordConfig()
                .eventListener("readiness", command: "\(TestPaths.binary) listen --config \(conf)", events: "PROCESS_STATE,TICK_5",
                               bufferSize: 1000, priority: 1, [("user", "nobody"), ("stderr_logfile", "{dir}/listener.err")])
                .program("prog", command: "sh -c 'sleep 0.3; exit 0'", autorestart: true)) }
        }.get()
        let log = { (try? Platform.readTextFile(harness.dir.file("listener.err"))) ?? "" }
        #expect(await poll { log().contains("cannot create the notify socket") }, "\(log())")
        #expect(log().contains("Permission denied") || log().contains("the folder was refused"))
        // prog restarts every 0.3 s: the listener stays RUNNING and in step (no UNKNOWN).
        try? await Task.sleep(for: .seconds(2))
        #expect(harness.state(of: "readiness") == "RUNNING")
        #expect(!harness.output().contains("UNKNOWN") && !harness.output().contains("will no longer receive events"))
        harness.stop()
    }
}
