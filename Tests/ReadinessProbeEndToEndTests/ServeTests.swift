import Testing
@testable import ReadinessProbe
import ProbeTestSupport
import ProbeSupport
import ProbeHTTP
import Glibc

/// Files for hooks whose results a test controls.
struct HookBench {
    let dir = TempDir("serve")

    /// A hook that appends a line to `runs` and exits with the number in `code` (0 if missing).
    func flip(_ name: String, code: Int = 0) throws -> String {
        try dir.write("\(name).code", "\(code)\n")
        return try dir.script(name, "echo run >> \(dir.file("\(name).runs"))\nexit $(cat \(dir.file("\(name).code")))\n")
    }

    func set(_ name: String, _ code: Int) throws { try dir.write("\(name).code", "\(code)\n") }

    func runs(_ name: String) -> Int {
        ((try? Platform.readTextFile(dir.file("\(name).runs"))) ?? "").split(separator: "\n").count
    }

    /// A hook that waits while the file `hold` exists (its own timeout bounds it).
    func gate(_ name: String) throws -> String {
        try dir.script(name, "while [ -e \(dir.file("hold")) ]; do sleep 0.02; done\nexit 0\n")
    }

    func hold(_ on: Bool) throws {
        if on { try dir.write("hold", "") } else { try Platform.removeFile(dir.file("hold")) }
    }

    /// A config with no default checks and these `[hook:NAME]` sections (name, path, extra lines).
    func config(_ hooks: [(String, String, String)], timeout: String = "5s", extra: String = "") throws -> String {
        // Its own rundir: the history (docs/history.md) is written there, not to the host's /run.
        var text = "[probe]\ntimeout = \(timeout)\nhooks_dir =\nsonic_hook =\nrundir = \(dir.path)/run\n[start]\nprogram =\n" + extra
        for (name, path, extra) in hooks { text += "[hook:\(name)]\ncommand = \(path)\n\(extra)\n" }
        return try dir.write("probe.conf", text)
    }
}

@Suite struct ServeTests {
    @Test func notReadyUntilTheFirstResult() async throws {
        let b = HookBench()
        try b.hold(true)
        let conf = try b.config([("slow", try b.gate("slow"), "timeout = 20s")], timeout: "30s")
        let s = try await ServeProcess.start(config: conf, extra: ["--period", "200ms"])
        let first = try s.get("/readyz")
        #expect(first.status == 503)
        #expect(first.header("X-Readiness-Code") == "11")
        #expect(first.bodyText.contains("no result yet"))
        let json = try s.get("/readyz?format=json")
        #expect(json.status == 503)
        #expect(json.bodyText.contains("\"code\": 11"))
        try b.hold(false)
        let ready = await s.waitFor("/readyz", status: 200)
        #expect(ready?.bodyText == "ok")
        #expect(ready?.header("X-Readiness-Code") == "0")
        #expect(s.process.stderr.contains("serve: ready: 1 of 1 checks passed"))
    }

    @Test func readyNotReadyAndStaleTransitions() async throws {
        let b = HookBench()
        try b.hold(false)
        let conf = try b.config([("app", try b.flip("app"), ""), ("gate", try b.gate("gate"), "timeout = 20s")], timeout: "30s")
        let s = try await ServeProcess.start(config: conf, extra: ["--period", "100ms", "--max-age", "1s"])
        #expect(await s.waitFor("/readyz", status: 200) != nil)
        try b.set("app", 40)
        let down = await s.waitFor("/readyz", status: 503, code: 40)
        #expect(down?.header("X-Readiness-Code") == "40")
        #expect(down?.bodyText.contains("[-]app failed: exited 40 (code 40)") == true)
        #expect(down?.bodyText.hasSuffix("readyz check failed\n") == true)
        try b.set("app", 0)
        #expect(await s.waitFor("/readyz", status: 200) != nil)
        // Runs now block: the cached result ages past --max-age and is refused with code 11.
        try b.hold(true)
        var stale: HTTPResponse?
        #expect(await Wait.untilAsync { stale = try? s.get("/readyz"); return stale?.header("X-Readiness-Code") == "11" })
        #expect(stale?.status == 503)
        #expect(stale?.bodyText.contains("stale result") == true)
        #expect(try s.get("/readyz/app").status == 503)
        try b.hold(false)
        #expect(await s.waitFor("/readyz", status: 200) != nil)
        let log = s.process.stderr
        #expect(log.contains("serve: not ready (code 40): app: exited 40"))
        #expect(log.contains("serve: not ready (code 11): stale result"))
        #expect(log.contains("http: GET /readyz 200"))
    }

    @Test func bodiesAndStatuses() async throws {
        let b = HookBench()
        let conf = try b.config([
            ("good", try b.flip("good"), "liveness = true"),
            ("bad", try b.flip("bad", code: 42), ""),
            ("soft", try b.flip("soft", code: 3), "severity = warn"),
        ])
        let s = try await ServeProcess.start(config: conf, extra: ["--period", "10s"])
        let r = try #require(await s.waitFor("/readyz", status: 503, code: 42))
        #expect(r.header("X-Readiness-Code") == "42")
        #expect(r.bodyText == "[+]good ok\n[-]bad failed: exited 42 (code 42)\n[+]soft warn: exited 3\nreadyz check failed\n")
        #expect(try s.get("/healthz").status == 503)
        // /healthz names itself in its verdict, as kube-apiserver's does; the rows are /readyz's.
        #expect(try s.get("/healthz").bodyText == "[+]good ok\n[-]bad failed: exited 42 (code 42)\n[+]soft warn: exited 3\nhealthz check failed\n")
        #expect(try s.get("/healthz?verbose&exclude=bad").bodyText.hasSuffix("[+]bad excluded: ok\nhealthz check passed\n"))
        #expect(try s.get("/readyz").bodyText.hasSuffix("readyz check failed\n"))

        let verbose = try s.get("/readyz?verbose&exclude=bad&exclude=nope")
        #expect(verbose.status == 200)
        #expect(verbose.header("X-Readiness-Code") == "0")
        #expect(verbose.bodyText == "[+]good ok\n[+]soft warn: exited 3\n[+]bad excluded: ok\nwarn: some health checks cannot be excluded: no matches for \"nope\"\nreadyz check passed\n")
        #expect(try s.get("/readyz?exclude=bad").bodyText == "ok")

        let json = try s.get("/readyz", headers: [("Accept", "application/json")])
        #expect(json.header("Content-Type") == "application/json")
        let v = try #require(try? JSON.parse(json.bodyText))
        #expect(v["ready"]?.boolValue == false)
        #expect(v["code"]?.intValue == 42)
        #expect(v["checks"]?.arrayValue?.count == 3)
        #expect(v["checks"]?.arrayValue?[1]["name"]?.stringValue == "bad")
        let excludedJSON = try JSON.parse(try s.get("/readyz?format=json&exclude=bad").bodyText)
        #expect(excludedJSON["ready"]?.boolValue == true)
        #expect(excludedJSON["excluded"] == .array([.string("bad")]))

        let one = try s.get("/readyz/good")
        #expect(one.status == 200 && one.bodyText == "ok" && one.header("X-Readiness-Code") == "0")
        let badOne = try s.get("/readyz/bad")
        #expect(badOne.status == 503 && badOne.header("X-Readiness-Code") == "42")
        #expect(badOne.bodyText == "[-]bad failed: exited 42 (code 42)\n")
        let softOne = try s.get("/readyz/soft")
        #expect(softOne.status == 200 && softOne.bodyText.contains("warn: exited 3"))
        #expect(try s.get("/readyz/bad?format=json").bodyText.contains("\"code\": 42"))
        #expect(try s.get("/readyz/missing").status == 404)

        // /livez: only checks with liveness = true.
        let live = try s.get("/livez?verbose")
        #expect(live.status == 200)
        #expect(live.bodyText == "[+]good ok\nlivez check passed\n")
        #expect(try s.get("/livez/good").status == 200)
        #expect(try s.get("/livez/bad").status == 404)

        #expect(try s.get("/readyz", method: "POST").status == 405)
        #expect(try s.get("/readyz?format=yaml").status == 400)
        #expect(try s.get("/nothing").status == 404)
        #expect(try s.get("/readyz", method: "HEAD").header("X-Readiness-Code") == "42")
    }

    @Test func livezWithoutLivenessChecksAnswersForTheServer() async throws {
        let b = HookBench()
        try b.hold(true)
        let conf = try b.config([("slow", try b.gate("slow"), "timeout = 20s")], timeout: "30s")
        let s = try await ServeProcess.start(config: conf)
        // No result yet: /readyz refuses, /livez answers for the loop.
        #expect(try s.get("/readyz").status == 503)
        let live = try s.get("/livez?verbose")
        #expect(live.status == 200)
        #expect(live.bodyText.hasPrefix("[+]ping ok"))
        try b.hold(false)
    }

    @Test func metrics() async throws {
        let b = HookBench()
        let conf = try b.config([("good", try b.flip("good"), ""), ("bad", try b.flip("bad", code: 40), "")])
        let s = try await ServeProcess.start(config: conf, extra: ["--period", "100ms"])
        #expect(await Wait.untilAsync { b.runs("bad") >= 3 }) // runs are sequential: two have been stored
        let m = try #require(await s.waitFor("/metrics", status: 200))
        #expect(m.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
        let text = m.bodyText
        #expect(text.contains("readiness_probe_ready 0\n"))
        #expect(text.contains("readiness_probe_code 40\n"))
        #expect(text.contains("readiness_probe_check_status{check=\"good\",kind=\"hook\",status=\"pass\"} 1\n"))
        #expect(text.contains("readiness_probe_check_status{check=\"good\",kind=\"hook\",status=\"fail\"} 0\n"))
        #expect(text.contains("readiness_probe_check_status{check=\"bad\",kind=\"hook\",status=\"fail\"} 1\n"))
        #expect(text.contains("readiness_probe_check_status{check=\"bad\",kind=\"hook\",status=\"pass\"} 0\n"))
        #expect(text.contains("readiness_probe_check_code{check=\"bad\",kind=\"hook\"} 40\n"))
        #expect(text.contains("readiness_probe_check_runs_total{check=\"good\",kind=\"hook\",status=\"fail\"} 0\n"))
        #expect(text.contains("# TYPE readiness_probe_check_runs_total counter"))
        #expect(text.contains("readiness_probe_run_duration_seconds "))
        #expect(text.contains("readiness_probe_last_run_timestamp_seconds "))
        // Every sample line is `name{labels} value` or `name value`.
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            #expect(parts.count == 2 && Double(parts[1]) != nil, "bad sample line: \(line)")
        }
        let passes = text.split(separator: "\n").first { $0.hasPrefix("readiness_probe_check_runs_total{check=\"good\",kind=\"hook\",status=\"pass\"}") }
        #expect((passes.flatMap { Int($0.split(separator: " ")[1]) } ?? 0) >= 2)
    }

    @Test func labelValuesAreEscaped() {
        #expect(Metrics.escapeLabel("a\"b\\c\nd") == "a\\\"b\\\\c\\nd")
        let cache = HealthCache(log: { _ in })
        cache.store(ProbeReport.aggregate([CheckResult(name: "we\"ird\\", kind: "hook", status: .pass, code: 0, detail: "", durationMs: 1)],
                                          durationMs: 1))
        let text = Metrics.render(cache.snapshot(), checks: [.init(name: "we\"ird\\", kind: "hook", liveness: false)], maxAge: .seconds(5))
        #expect(text.contains("readiness_probe_check_status{check=\"we\\\"ird\\\\\",kind=\"hook\",status=\"pass\"} 1\n"))
    }

    @Test func requestsNeverRunChecks() async throws {
        let b = HookBench()
        let conf = try b.config([("counted", try b.flip("counted"), "")])
        let s = try await ServeProcess.start(config: conf, extra: ["--period", "1h", "--quiet"])
        #expect(await s.waitFor("/readyz", status: 200) != nil)
        let port = s.port
        let oks = Counter()
        await withTaskGroupBlocking(threads: 8) {
            for _ in 0..<25 {
                if let r = try? HTTPClient.send(HTTPClientRequest(target: "/readyz?verbose"), to: .tcp(host: "127.0.0.1", port: port),
                                                deadline: .after(.seconds(5))), r.status == 200 { _ = oks.increment() }
            }
        }
        #expect(oks.increment() == 201)
        #expect(b.runs("counted") == 1)
        #expect(!s.process.stderr.contains("http: GET"))
    }

    @Test func sigtermStopsPromptlyAndKillsTheRunningHook() async throws {
        let b = HookBench()
        let pidFile = b.dir.file("hook.pid")
        let hook = try b.dir.script("long", "echo $$ > \(pidFile)\nexec sleep 30\n")
        let conf = try b.config([("long", hook, "timeout = 25s")], timeout: "30s")
        let s = try await ServeProcess.start(config: conf)
        #expect(await Wait.untilAsync { Platform.exists(pidFile) })
        let hookPid = Int32(((try? Platform.readTextFile(pidFile)) ?? "").trimmingASCIIWhitespace()) ?? 0
        #expect(Platform.processExists(hookPid))
        // A kept-alive connection that just got its answer, and a request on the wire as the signal lands.
        let first = try s.get("/livez")
        #expect(first.status == 200)
        let started = ContinuousClock.now
        s.process.signal(SIGTERM)
        let late = try? s.get("/livez")
        // Promptly: well before the hook's 25 s timeout and its 30 s sleep, which serve must not wait
        // for (the bounds leave room for a loaded machine; `make bench` measures the real figure).
        let status = await s.process.waitExit(timeout: .seconds(20))
        #expect(status == 0)
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(late == nil || late?.status == 200)
        #expect(s.process.stderr.contains("serve: SIGTERM: stopping"))
        #expect(await Wait.untilAsync(timeout: .seconds(10)) { !Platform.processExists(hookPid) })
    }

    @Test func badListenAddressIsACommandLineError() async throws {
        let dir = TempDir("listen")
        let r = await runCommand([TestPaths.binary, "serve", "--listen", "nowhere", "--config", try RundirGuard.ownConfig(dir)])
        #expect(r.status == 8)
        #expect(r.stderr.contains("invalid listen address"))
    }
}

/// Runs `body` on `threads` OS threads at once and waits for all of them.
func withTaskGroupBlocking(threads: Int, _ body: @escaping @Sendable () -> Void) async {
    await withTaskGroup(of: Void.self) { group in
        for _ in 0..<threads { group.addTask { await Blocking.run(body) } }
    }
}
