// `serve --grpc` against the official gRPC Python client (grpcio + grpcio-health-checking, pinned in the
// Makefile's venv) and raw HTTP/2 attacks (the `h2` package's HPACK plus hand-made frames), all driven by
// Tests/GRPC/grpc_client.py, which prints one JSON object per line for these tests to check.
import Testing
@testable import ReadinessProbe
import ProbeTestSupport
import ProbeSupport
import Glibc

/// `readiness-probe serve --grpc 127.0.0.1:0` (and optionally HTTP), with the gRPC port it bound.
final class GRPCServeProcess: @unchecked Sendable {
    let process: BackgroundProcess
    let port: UInt16

    private init(process: BackgroundProcess, port: UInt16) {
        self.process = process
        self.port = port
    }

    static func start(config: String, extra: [String] = []) async throws -> GRPCServeProcess {
        let proc = try BackgroundProcess([TestPaths.binary, "serve", "--config", config, "--grpc", "127.0.0.1:0", "--quiet"] + extra)
        var found: UInt16?
        let prefix = "serve: listening on grpc://127.0.0.1:"
        _ = await Wait.untilAsync {
            guard let line = proc.stderr.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return false }
            found = UInt16(line.dropFirst(prefix.count).prefix { $0.isNumber })
            return true
        }
        guard let found else { throw SystemError("serve --grpc did not start: \(proc.stderr)", errno: 0) }
        return GRPCServeProcess(process: proc, port: found)
    }

    /// Runs grpc_client.py COMMAND PORT ARGS...; returns its JSON lines (and fails the test on a bad exit).
    func client(_ command: String, _ args: [String] = []) async throws -> [JSONValue] {
        try await GRPCClient.run(command, port: port, args)
    }

    var rssKB: Int? { GRPCClient.status("VmHWM", pid: process.pid) }
}

enum GRPCClient {
    static let python = TestPaths.packageRoot + "/.venv/bin/python"
    static let script = TestPaths.packageRoot + "/Tests/GRPC/grpc_client.py"

    static func run(_ command: String, port: UInt16, _ args: [String] = []) async throws -> [JSONValue] {
        try #require(Platform.isExecutable(python), "the venv is missing: run `make venv` (make test does)")
        let r = await runCommand(["timeout", "120", python, script, command, String(port)] + args)
        #expect(r.status == 0, "grpc_client.py \(command) exited \(r.status): \(r.stderr.suffix(2000))")
        return try r.stdout.split(separator: "\n").map { try JSON.parse(String($0)) }
    }

    /// Polls an async condition (a client run) until it holds or `timeout` passes.
    static func until(timeout: Duration = .seconds(20), _ condition: () async -> Bool) async -> Bool {
        let deadline = Deadline.after(timeout)
        while true {
            if await condition() { return true }
            if deadline.hasPassed { return false }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// A `/proc/PID/status` figure in kB.
    static func status(_ field: String, pid: pid_t) -> Int? {
        guard let text = try? Platform.readTextFile("/proc/\(pid)/status") else { return nil }
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }) else { return nil }
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    }
}

@Suite(.serialized) struct GRPCHealthTests {
    @Test func checkEveryServiceKindAndList() async throws {
        let b = HookBench()
        let conf = try b.config([("app", try b.flip("app"), "liveness = true"), ("db", try b.flip("db", code: 42), "")])
        let s = try await GRPCServeProcess.start(config: conf, extra: ["--period", "200ms"])
        // Before the first run finished nothing is SERVING; wait for a result.
        #expect(await Wait.untilAsync { b.runs("db") >= 1 })
        var lines: [JSONValue] = []
        _ = await GRPCClient.until {
            lines = (try? await s.client("check", ["", "readyz", "livez", "app", "db", "nope"])) ?? []
            return lines.first?["trailers"]?["readiness-code"]?.stringValue == "42"
        }
        let by = Dictionary(uniqueKeysWithValues: lines.map { ($0["service"]?.stringValue ?? "?", $0) })
        #expect(by[""]?["status"]?.stringValue == "NOT_SERVING")
        #expect(by[""]?["trailers"]?["readiness-detail"]?.stringValue?.contains("db") == true)
        #expect(by["readyz"]?["status"]?.stringValue == "NOT_SERVING")
        #expect(by["livez"]?["status"]?.stringValue == "SERVING")
        #expect(by["livez"]?["trailers"]?["readiness-code"]?.stringValue == "0")
        #expect(by["app"]?["status"]?.stringValue == "SERVING")
        #expect(by["db"]?["status"]?.stringValue == "NOT_SERVING")
        #expect(by["db"]?["trailers"]?["readiness-code"]?.stringValue == "42")
        #expect(by["nope"]?["error"]?.stringValue == "NOT_FOUND")
        let list = try await s.client("list")
        let statuses = list.first?["statuses"]
        #expect(statuses?[""]?.stringValue == "NOT_SERVING")
        #expect(statuses?["livez"]?.stringValue == "SERVING")
        #expect(statuses?["app"]?.stringValue == "SERVING")
        #expect(statuses?["db"]?.stringValue == "NOT_SERVING")
        // The same answer as /readyz: fix the hook, and "" turns SERVING.
        try b.set("db", 0)
        #expect(await GRPCClient.until {
            (try? await s.client("check", [""]))?.first?["status"]?.stringValue == "SERVING"
        })
        s.process.signal(SIGTERM)
        #expect(await s.process.waitExit(timeout: .seconds(5)) == 0)
    }

    @Test func notServingBeforeTheFirstResult() async throws {
        let b = HookBench()
        try b.hold(true)
        let conf = try b.config([("slow", try b.gate("slow"), "timeout = 20s")], timeout: "30s")
        let s = try await GRPCServeProcess.start(config: conf, extra: ["--period", "200ms", "--max-age", "1s"])
        let lines = try await s.client("check", ["", "slow", "livez"])
        // No check has liveness = true: livez answers for the server loop, as /livez does.
        #expect(lines.map { $0["status"]?.stringValue } == ["NOT_SERVING", "NOT_SERVING", "SERVING"])
        #expect(lines.first?["trailers"]?["readiness-code"]?.stringValue == "11")
        #expect(lines.first?["trailers"]?["readiness-detail"]?.stringValue?.contains("no result yet") == true)
        try b.hold(false)
        #expect(await GRPCClient.until {
            (try? await s.client("check", [""]))?.first?["status"]?.stringValue == "SERVING"
        })
        // Runs block again: the result ages past --max-age and is NOT_SERVING, code 11 (stale).
        try b.hold(true)
        var stale: JSONValue?
        #expect(await GRPCClient.until {
            stale = (try? await s.client("check", [""]))?.first
            return stale?["trailers"]?["readiness-code"]?.stringValue == "11"
        })
        #expect(stale?["status"]?.stringValue == "NOT_SERVING")
        #expect(stale?["trailers"]?["readiness-detail"]?.stringValue?.contains("stale result") == true)
        try b.hold(false)
    }

    @Test func watchSeesTheFlipWithinOnePeriod() async throws {
        let b = HookBench()
        let conf = try b.config([("app", try b.flip("app", code: 3), "")])
        let s = try await GRPCServeProcess.start(config: conf, extra: ["--period", "1s"])
        #expect(await Wait.untilAsync { b.runs("app") >= 1 })
        let lines = try await s.client("watch", ["", b.dir.file("app.code")])
        let seen = lines.first?["seen"]?.arrayValue ?? []
        #expect(seen.count == 2, "\(lines)")
        #expect(seen.first?["status"]?.stringValue == "NOT_SERVING")
        #expect(seen.last?["status"]?.stringValue == "SERVING")
        // The flip shows within one period plus the run itself (a loaded machine: allow one more period).
        if let flipped = lines.first?["flipped_at"]?.doubleValue, let at = seen.last?["at"]?.doubleValue {
            #expect(at - flipped < 3.0, "\(lines)")
        }
        // Unknown service: SERVICE_UNKNOWN, and the stream stays open (the client ends it at its deadline).
        let unknown = try await s.client("watch", ["nope", b.dir.file("other.code"), "1.5"])
        let events = unknown.first?["seen"]?.arrayValue ?? []
        #expect(events.first?["status"]?.stringValue == "SERVICE_UNKNOWN", "\(unknown)")
        #expect(events.last?["error"]?.stringValue == "DEADLINE_EXCEEDED", "\(unknown)")
    }

    @Test func fiveHundredConcurrentChecks() async throws {
        let b = HookBench()
        let conf = try b.config([("app", try b.flip("app"), "")])
        let s = try await GRPCServeProcess.start(config: conf, extra: ["--period", "1s"])
        #expect(await Wait.untilAsync { b.runs("app") >= 1 })
        for channels in ["1", "50"] {
            let r = try await s.client("concurrent", ["500", channels]).first
            #expect(r?["serving"]?.intValue == 500, "\(String(describing: r))")
        }
    }

    @Test func attacksLeaveTheServerUpAndAnswering() async throws {
        let b = HookBench()
        let conf = try b.config([("app", try b.flip("app"), "")])
        let s = try await GRPCServeProcess.start(config: conf, extra: ["--period", "1s"])
        #expect(await Wait.untilAsync { b.runs("app") >= 1 })
        let results = try await s.client("attacks")
        #expect(results.count == 10)
        for r in results {
            let name = r["attack"]?.stringValue ?? "?"
            #expect(r["check_failures"]?.arrayValue?.isEmpty == true, "\(name): \(r)")
            #expect((r["check_ms_max"]?.doubleValue ?? 9999) < 1000, "\(name): a legitimate Check took too long: \(r)")
            #expect(r["attack_finished"]?.boolValue == true, "\(name)")
            switch name {
            case "wrong_preface": #expect(r["goaway"]?.stringValue == "PROTOCOL_ERROR")
            case "settings_flood", "ping_flood", "continuation_without_end", "rapid_reset":
                #expect(r["goaway"]?.stringValue == "ENHANCE_YOUR_CALM", "\(name): \(r)")
            case "hpack_table_size": #expect(r["goaway"]?.stringValue == "COMPRESSION_ERROR")
            case "data_16mib": #expect(r["goaway"]?.stringValue == "FRAME_SIZE_ERROR")
            case "never_closed": #expect(r["refused"]?.intValue == 72, "\(r)")   // 200 opened, 128 taken
            case "window_exhaustion":
                #expect(r["data_before"]?.intValue == 0)
                #expect(r["finished_after"]?.intValue == 100, "\(r)")
            case "goaway":
                #expect(r["answered"]?.intValue == 1)
                #expect(r["closed"]?.boolValue == true)
            default: Issue.record("unexpected attack \(name)")
            }
        }
        // Still up, memory bounded.
        #expect(try await s.client("check", [""]).first?["status"]?.stringValue == "SERVING")
        let hwm = try #require(s.rssKB)
        #expect(hwm < 64 * 1024, "serve's peak RSS after the attacks: \(hwm) kB")
    }

    @Test func sigtermEndsWatchWithUnavailableAndExitsInTime() async throws {
        let b = HookBench()
        let conf = try b.config([("app", try b.flip("app"), "")])
        let s = try await GRPCServeProcess.start(config: conf, extra: ["--period", "1s", "--listen", "127.0.0.1:0"])
        #expect(await Wait.untilAsync { b.runs("app") >= 1 })
        let python = GRPCClient.python
        try #require(Platform.isExecutable(python))
        let client = try BackgroundProcess([python, GRPCClient.script, "term", String(s.port)])
        #expect(await Wait.untilAsync(timeout: .seconds(20)) { client.stdout.contains("\"ready\"") }, "\(client.stderr)")
        let sent = ContinuousClock.now
        s.process.signal(SIGTERM)
        #expect(await s.process.waitExit(timeout: .seconds(20)) == 0)
        let took = ContinuousClock.now - sent
        #expect(took < .seconds(10), "serve took \(took) to exit after SIGTERM")
        #expect(await client.waitExit(timeout: .seconds(10)) == 0)
        #expect(client.stdout.contains("\"watch_end\": \"UNAVAILABLE\""), "\(client.stdout) \(client.stderr)")
        #expect(s.process.stderr.contains("serve: stopped"))
    }

    @Test func badGRPCAddressIsAUsageError() async throws {
        let dir = TempDir("grpc")
        let r = await runCommand([TestPaths.binary, "serve", "--grpc", "nonsense"], environment: ["READINESS_PROBE_CONFIG": try RundirGuard.ownConfig(dir)])
        #expect(r.status == 8, "\(r.stderr)")
        #expect(r.stderr.contains("--grpc"))
    }
}
