import Testing
@testable import ReadinessProbe
import ProbeTestSupport
import ProbeSupport
import ProbeHTTP
import Glibc

@Suite struct WaitTests {
    @Test func becomesReadyMidWait() async throws {
        let b = HookBench()
        let conf = try b.config([("app", try b.flip("app", code: 40), "")])
        let p = try BackgroundProcess([TestPaths.binary, "wait", "--config", conf, "--timeout", "20s", "--interval", "100ms"])
        #expect(await p.waitForStderr("not ready (code 40): app: exited 40"))
        try b.set("app", 0)
        #expect(await p.waitExit() == 0)
        #expect(p.stdout.hasPrefix("ready: 1 of 1 checks passed\n"))
        #expect(p.stdout.contains("CHECK"))
        #expect(p.stderr.contains("wait: ready after"))
        // Not a terminal: one progress line per change of code, not per run.
        #expect(p.stderr.split(separator: "\n").filter { $0.contains("(code 40)") }.count == 1)
        #expect(b.runs("app") >= 2)
    }

    @Test func deadlineExitsWithTheLastCode() async throws {
        let b = HookBench()
        let conf = try b.config([("app", try b.flip("app", code: 42), "")])
        let started = ContinuousClock.now
        let r = await runCommand([TestPaths.binary, "wait", "--config", conf, "--timeout", "2s", "--interval", "200ms"])
        #expect(ContinuousClock.now - started < .seconds(10), "the hook fails forever: --timeout was not kept")
        #expect(r.status == 42)
        #expect(r.stdout.hasPrefix("not ready (code 42): app: exited 42\n"))
        #expect(r.stdout.contains("app    hook  fail"))
        #expect(r.stderr.contains("wait: not ready after"))
        #expect(b.runs("app") >= 3)
    }

    @Test func runsAreCutToTheTimeLeft() async throws {
        let b = HookBench()
        try b.hold(true)
        let conf = try b.config([("slow", try b.gate("slow"), "timeout = 20s")], timeout: "30s")
        let started = ContinuousClock.now
        let r = await runCommand([TestPaths.binary, "wait", "--config", conf, "--timeout", "700ms", "--format", "json"])
        #expect(ContinuousClock.now - started < .seconds(10), "waited for the hook's own 20 s timeout")
        #expect(r.status == 9)
        let v = try JSON.parse(r.stdout)
        #expect(v["code"]?.intValue == 9)
        #expect(v["ready"]?.boolValue == false)
        try b.hold(false)
    }

    @Test func jsonOutput() async throws {
        let b = HookBench()
        let conf = try b.config([("app", try b.flip("app", code: 0), "")])
        let r = await runCommand([TestPaths.binary, "wait", "--config", conf, "--format", "json"])
        #expect(r.status == 0)
        let v = try JSON.parse(r.stdout)
        #expect(v["ready"]?.boolValue == true)
        #expect(v["checks"]?.arrayValue?.first?["name"]?.stringValue == "app")
    }

    @Test func sigtermEndsWithTheLastCode() async throws {
        let b = HookBench()
        let conf = try b.config([("app", try b.flip("app", code: 50), "")])
        let p = try BackgroundProcess([TestPaths.binary, "wait", "--config", conf, "--timeout", "60s", "--interval", "100ms"])
        #expect(await p.waitForStderr("(code 50)"))
        let started = ContinuousClock.now
        p.signal(SIGTERM)
        #expect(await p.waitExit(timeout: .seconds(20)) == 50)
        #expect(ContinuousClock.now - started < .seconds(10), "waited for --timeout 60s")
        #expect(p.stderr.contains("stopped by SIGTERM"))
    }

    @Test func sigtermBeforeAnyRunFinishedIs9() async throws {
        let b = HookBench()
        let pidFile = b.dir.file("hook.pid")
        let hook = try b.dir.script("long", "echo $$ > \(pidFile)\nexec sleep 30\n")
        let conf = try b.config([("long", hook, "timeout = 25s")], timeout: "30s")
        let p = try BackgroundProcess([TestPaths.binary, "wait", "--config", conf, "--timeout", "60s"])
        #expect(await Wait.untilAsync { Platform.exists(pidFile) })
        let hookPid = Int32(((try? Platform.readTextFile(pidFile)) ?? "").trimmingASCIIWhitespace()) ?? 0
        p.signal(SIGINT)
        #expect(await p.waitExit(timeout: .seconds(20)) == 9)
        #expect(p.stdout.contains("stopped by SIGINT before a run finished"))
        #expect(await Wait.untilAsync(timeout: .seconds(10)) { !Platform.processExists(hookPid) })
    }
}

/// The Kuberhealthy stand-in (Tests/Kuberhealthy/kh_server.py) and its request log.
final class KuberhealthyServer: @unchecked Sendable {
    let process: BackgroundProcess
    let dir: TempDir
    let port: Int

    private init(process: BackgroundProcess, dir: TempDir, port: Int) {
        self.process = process
        self.dir = dir
        self.port = port
    }

    static func start(uuid: String = "run-1", deadline: Double = 0, statuses: [Int] = []) async throws -> KuberhealthyServer {
        let dir = TempDir("kh")
        let script = TestPaths.packageRoot + "/Tests/Kuberhealthy/kh_server.py"
        var argv = ["python3", script, "--port-file", dir.file("port"), "--log", dir.file("log"), "--uuid", uuid]
        if deadline > 0 { argv += ["--deadline", String(deadline)] }
        if !statuses.isEmpty { argv += ["--statuses", statuses.map(String.init).joined(separator: ",")] }
        let proc = try BackgroundProcess(argv)
        let portFile = dir.file("port")
        var p = 0
        _ = await Wait.untilAsync { p = Int((try? Platform.readTextFile(portFile)) ?? "") ?? 0; return p > 0 }
        guard p > 0 else { throw SystemError("kh_server did not start: \(proc.stderr)", errno: 0) }
        return KuberhealthyServer(process: proc, dir: dir, port: p)
    }

    var url: String { "http://127.0.0.1:\(port)/check" }

    var requests: [JSONValue] {
        ((try? Platform.readTextFile(dir.file("log"))) ?? "").split(separator: "\n").compactMap { try? JSON.parse(String($0)) }
    }

    func env(uuid: String = "run-1", deadline: Double? = nil) -> [String: String] {
        var e = ["KH_REPORTING_URL": url, "KH_RUN_UUID": uuid]
        if let deadline { e["KH_CHECK_RUN_DEADLINE"] = String(Int(deadline)) }
        return e
    }
}

@Suite struct KuberhealthyTests {
    func run(_ conf: String, _ env: [String: String], _ extra: [String] = []) async -> CommandResult {
        await runCommand([TestPaths.binary, "report", "kuberhealthy", "--config", conf] + extra, environment: env)
    }

    @Test func successReport() async throws {
        let b = HookBench()
        let conf = try b.config([("app", try b.flip("app"), "")])
        let kh = try await KuberhealthyServer.start()
        let r = await run(conf, kh.env(deadline: Platform.epochSeconds() + 30))
        #expect(r.status == 0, "\(r.stderr)")
        let reqs = kh.requests
        #expect(reqs.count == 1)
        #expect(reqs.first?["method"]?.stringValue == "POST")
        #expect(reqs.first?["path"]?.stringValue == "/check")
        #expect(reqs.first?["headers"]?["kh-run-uuid"]?.stringValue == "run-1")
        #expect(reqs.first?["headers"]?["content-type"]?.stringValue == "application/json")
        // The one version (ProbeSupport/Version.swift) reaches Kuberhealthy in the User-Agent.
        #expect(reqs.first?["headers"]?["user-agent"]?.stringValue == "readiness-probe/\(ProbeVersion.string)")
        let body = try JSON.parse(reqs.first?["body"]?.stringValue ?? "")
        #expect(body == .object([("OK", .bool(true)), ("Errors", .array([]))]))
        #expect(r.stderr.contains("accepted (HTTP 200)"))
    }

    @Test func failureBodyListsFailingChecksOnly() async throws {
        let b = HookBench()
        let conf = try b.config([("good", try b.flip("good"), ""), ("bad", try b.flip("bad", code: 42), ""),
                                 ("soft", try b.flip("soft", code: 3), "severity = warn")])
        let kh = try await KuberhealthyServer.start()
        let r = await run(conf, kh.env())
        #expect(r.status == 0, "a delivered failure report is a success of the reporter: \(r.stderr)")
        #expect(r.stdout.hasPrefix("not ready (code 42)"))
        let body = try JSON.parse(kh.requests.first?["body"]?.stringValue ?? "")
        #expect(body == .object([("OK", .bool(false)), ("Errors", .array([.string("bad: exited 42 (code 42)")]))]))
    }

    @Test func goneIsNotRetried() async throws {
        let b = HookBench()
        let conf = try b.config([("app", try b.flip("app"), "")])
        let kh = try await KuberhealthyServer.start(deadline: Platform.epochSeconds() - 5)
        let r = await run(conf, kh.env(deadline: Platform.epochSeconds() + 20))
        #expect(r.status == 10)
        #expect(kh.requests.count == 1)
        #expect(r.stderr.contains("HTTP 410"))
        #expect(r.stderr.contains("not retried"))
    }

    @Test func badRequestIsNotRetried() async throws {
        let b = HookBench()
        let conf = try b.config([("app", try b.flip("app"), "")])
        let kh = try await KuberhealthyServer.start(uuid: "expected")
        let r = await run(conf, kh.env(uuid: "other"))
        #expect(r.status == 10)
        #expect(kh.requests.count == 1)
        #expect(r.stderr.contains("HTTP 400"))
    }

    @Test func serverErrorsAreRetriedUntilAccepted() async throws {
        let b = HookBench()
        let conf = try b.config([("app", try b.flip("app"), "")])
        let kh = try await KuberhealthyServer.start(statuses: [503, 502])
        let r = await run(conf, kh.env(deadline: Platform.epochSeconds() + 30))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(kh.requests.map { $0["status"]?.intValue } == [503, 502, 200])
        #expect(r.stderr.contains("attempt 1 failed (HTTP 503"))
    }

    @Test func unreachableUntilTheDeadline() async throws {
        let b = HookBench()
        let conf = try b.config([("app", try b.flip("app"), "")])
        let kh = try await KuberhealthyServer.start()
        let closed = kh.port
        kh.process.signal(SIGKILL)
        _ = await kh.process.waitExit()
        let started = ContinuousClock.now
        let r = await run(conf, ["KH_REPORTING_URL": "http://127.0.0.1:\(closed)/check", "KH_RUN_UUID": "x",
                           "KH_CHECK_RUN_DEADLINE": String(Int(Platform.epochSeconds()) + 3)])
        #expect(ContinuousClock.now - started < .seconds(15), "the deadline (3 s) was not kept")
        #expect(r.status == 10)
        #expect(r.stderr.contains("not delivered before the deadline"))
        #expect(r.stderr.contains("connection refused"))
    }

    @Test func environmentErrors() async throws {
        let b = HookBench()
        let conf = try b.config([("app", try b.flip("app"), "")])
        let missing = await run(conf, ["KH_REPORTING_URL": "", "KH_RUN_UUID": "x"])
        #expect(missing.status == 8)
        #expect(missing.stderr.contains("KH_REPORTING_URL is not set"))
        let noUUID = await run(conf, ["KH_REPORTING_URL": "http://127.0.0.1:1/", "KH_RUN_UUID": ""])
        #expect(noUUID.status == 8)
        #expect(noUUID.stderr.contains("KH_RUN_UUID is not set"))
        let tls = await run(conf, ["KH_REPORTING_URL": "https://kh.example/check", "KH_RUN_UUID": "x"])
        #expect(tls.status == 8)
        #expect(tls.stderr.contains("https"))
        let past = await run(conf, ["KH_REPORTING_URL": "http://127.0.0.1:1/", "KH_RUN_UUID": "x",
                              "KH_CHECK_RUN_DEADLINE": String(Int(Platform.epochSeconds()) - 10)])
        #expect(past.status == 10)
        #expect(past.stderr.contains("already passed"))
        #expect(b.runs("app") == 0)
        let dry = await run(conf, [:], ["--dry-run"])
        #expect(dry.status == 0)
        #expect(dry.stdout == "{\"OK\": true, \"Errors\": []}\n")
    }

    @Test func bodyRules() {
        let warnOnly = ProbeReport.aggregate([CheckResult(name: "w", kind: "hook", status: .warn, code: 3, detail: "meh", durationMs: 1)], durationMs: 1)
        #expect(Kuberhealthy.body(warnOnly) == .object([("OK", .bool(true)), ("Errors", .array([]))]))
        let blank = ProbeReport.aggregate([CheckResult(name: "x", kind: "hook", status: .fail, code: 6, detail: "", summary: "", durationMs: 1)], durationMs: 1)
        #expect(Kuberhealthy.body(blank) == .object([("OK", .bool(false)), ("Errors", .array([.string("x: failed (code 6)")]))]))
        let noRows = ProbeReport(code: 11, summary: "", durationMs: 0, results: [], finishedAt: 0)
        #expect(Kuberhealthy.body(noRows)["Errors"]?.arrayValue?.first?.stringValue == "not ready (code 11)")
    }

    @Test func urls() throws {
        let t = try Kuberhealthy.parseURL("http://kuberhealthy.kuberhealthy.svc:8080/check")
        #expect(t.endpoint == .tcp(host: "kuberhealthy.kuberhealthy.svc", port: 8080))
        #expect(t.target == "/check")
        #expect(try Kuberhealthy.parseURL("http://kh").target == "/")
        #expect(try Kuberhealthy.parseURL("http://kh").endpoint == .tcp(host: "kh", port: 80))
        #expect(try Kuberhealthy.parseURL("http://[::1]:9/x?y=1").endpoint == .tcp(host: "::1", port: 9))
        #expect(throws: Kuberhealthy.URLError.self) { try Kuberhealthy.parseURL("https://kh/check") }
        #expect(throws: Kuberhealthy.URLError.self) { try Kuberhealthy.parseURL("ftp://kh/") }
        #expect(throws: Kuberhealthy.URLError.self) { try Kuberhealthy.parseURL("http://kh:99999/") }
    }
}
