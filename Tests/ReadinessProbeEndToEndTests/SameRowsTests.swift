// One executor, one plan: `run`, `wait --format json`, `serve`'s JSON and the event listener's
// cached result give the same rows for the same situation — a hook past its own timeout, a hook
// past the overall deadline, and supervisord gone — with a real supervisord and real hooks.
@preconcurrency import Glibc
import Testing
import ProbeSupport
@testable import ReadinessProbe
import ProbeTestSupport

@Suite(.serialized) struct SameRowsTests {
    /// What every command must agree on: the summary line and each row but its duration.
    static func rows(_ json: JSONValue?) -> [String] {
        guard let json, let checks = json["checks"]?.arrayValue else { return [] }
        return [json["summary"]?.stringValue ?? "?"] + checks.map { c in
            ["name", "kind", "status", "code", "detail"].map { k in
                c[k].map { $0.stringValue ?? $0.intValue.map { String($0) } ?? "?" } ?? "-"
            }.joined(separator: " | ")
        }
    }

    @Test func runWaitServeAndTheListenerAgree() async throws {
        let hooks = TempDir("same")
        let ok = try hooks.script("ok", "echo fine\n")
        let hang = try hooks.script("hang", "sleep 30 &\nsleep 30\n")
        let gone = hooks.file("gone.sock")
        let rig = try await ListenerRig.start(SupervisordConfig(), probe: """
            timeout = 1500ms
            [supervisor]
            serverurl = unix://\(gone)
            source = xmlrpc
            [programs]
            critical = daemon
            [hook:ok]
            command = \(ok)
            [hook:slow]
            command = \(hang)
            timeout = 300ms
            [hook:late]
            command = \(hang)
            timeout = 10s
            """)
        defer { rig.harness.stop() }

        let run = await runCommand([TestPaths.binary, "run", "--config", rig.probeConf, "--format", "json"])
        let expected = Self.rows(try JSON.parse(run.stdout))
        #expect(run.status == 3, "\(run.stdout)\(run.stderr)")
        #expect(expected.count == 6, "\(run.stdout)")
        #expect(expected.first == "start: supervisord unreachable: no socket (+3 more failing)")
        #expect(expected.dropFirst().first?.hasPrefix("start | supervisor-start | fail | 3 | ") == true)
        #expect(expected.dropFirst().first?.contains(gone) == true)
        #expect(expected.dropFirst(2).first?.hasPrefix("programs | supervisor-programs | fail | 3 | ") == true)
        #expect(Array(expected.dropFirst(3)) == [
            "ok | hook | pass | 0 | fine",
            "slow | hook | fail | 6 | ran past its own timeout (300ms); its process group was killed",
            "late | hook | fail | 9 | did not finish before the overall deadline (1.5s); its process group was killed",
        ], "\(run.stdout)")

        let wait = await runCommand([TestPaths.binary, "wait", "--config", rig.probeConf, "--format", "json",
                                     "--timeout", "3s", "--interval", "30s"])
        #expect(Self.rows(try JSON.parse(wait.stdout)) == expected, "\(wait.stdout)\(wait.stderr)")

        let serve = try await ServeProcess.start(config: rig.probeConf, extra: ["--period", "30s"])
        let answer = await serve.waitFor("/readyz?format=json", status: 503, code: 3, timeout: .seconds(20))
        #expect(Self.rows(answer.flatMap { try? JSON.parse($0.bodyText) }) == expected, "\(answer?.bodyText ?? "no answer")")

        var cached: ProbeReport?
        #expect(await Wait.untilAsync(timeout: .seconds(20)) {
            cached = CachedResult.read(path: rig.resultPath, maxAge: .seconds(60))
            return cached?.code == 3
        }, "\(rig.listenerLog())")
        #expect(Self.rows(cached.map { try? JSON.parse(ReportJSON.text($0)) } ?? nil) == expected)
    }
}
