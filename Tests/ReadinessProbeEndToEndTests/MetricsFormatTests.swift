// /metrics in both exposition formats, parsed by prometheus_client's own parsers (pinned in the
// Makefile's venv): the text format 0.0.4 and OpenMetrics 1.0.0, chosen by the Accept header.
import Testing
@testable import ReadinessProbe
import ProbeTestSupport
import ProbeSupport
import ProbeHTTP
import Glibc

enum PrometheusParser {
    static let python = TestPaths.packageRoot + "/.venv/bin/python"
    static let script = TestPaths.packageRoot + "/Tests/Prometheus/parse_metrics.py"

    struct Family {
        var name: String
        var type: String
        var samples: [(name: String, labels: [String: String], value: Double)]
    }

    /// Parses `exposition` with prometheus_client's parser for `format` ("text" or "openmetrics").
    static func parse(_ exposition: String, format: String) async throws -> [Family] {
        try #require(Platform.isExecutable(python), "the venv is missing: run `make venv` (make test does)")
        let r = await Blocking.run { Command.run(["timeout", "60", python, script, format], stdin: exposition) }
        try #require(r.status == 0, "prometheus_client refused the \(format) exposition: \(r.stderr)\n\(exposition)")
        let doc = try JSON.parse(r.stdout)
        return (doc["families"]?.arrayValue ?? []).map { f in
            Family(name: f["name"]?.stringValue ?? "", type: f["type"]?.stringValue ?? "",
                   samples: (f["samples"]?.arrayValue ?? []).map { s in
                       var labels: [String: String] = [:]
                       if case .object(let pairs)? = s["labels"] { for (k, v) in pairs { labels[k] = v.stringValue ?? "" } }
                       return (s["name"]?.stringValue ?? "", labels, s["value"]?.doubleValue ?? .nan)
                   })
        }
    }
}

@Suite struct MetricsFormatTests {
    @Test func acceptNegotiation() {
        #expect(Metrics.negotiate(accept: nil) == .text)
        #expect(Metrics.negotiate(accept: "") == .text)
        #expect(Metrics.negotiate(accept: "*/*") == .text)
        #expect(Metrics.negotiate(accept: "text/plain") == .text)
        #expect(Metrics.negotiate(accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8") == .text)
        // What Prometheus 2.x/3.x sends.
        #expect(Metrics.negotiate(accept: "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1") == .openMetrics)
        #expect(Metrics.negotiate(accept: "application/openmetrics-text") == .openMetrics)
        #expect(Metrics.negotiate(accept: "Application/OpenMetrics-Text; Version=1.0.0") == .openMetrics)
        #expect(Metrics.negotiate(accept: "application/openmetrics-text;q=0") == .text)
        #expect(Metrics.negotiate(accept: "application/openmetrics-text;version=2.0.0") == .text)
        #expect(Metrics.negotiate(accept: "text/plain;q=1,application/openmetrics-text;q=0.5") == .text)
        #expect(Metrics.negotiate(accept: ";;,=,q=x;") == .text)
    }

    /// A real serve with a passing, a failing and a warning check; /metrics fetched both ways and
    /// parsed by prometheus_client. The same families, types and label names in both formats.
    @Test func bothFormatsParseWithPrometheusClient() async throws {
        let b = HookBench()
        let conf = try b.config([
            ("good", try b.flip("good"), "liveness = true"),
            ("bad", try b.flip("bad", code: 40), ""),
            ("soft", try b.flip("soft", code: 3), "severity = warn"),
            ("we\"ird\\name", try b.flip("weird"), ""),
        ])
        let s = try await ServeProcess.start(config: conf, extra: ["--period", "100ms", "--quiet"])
        #expect(await Wait.untilAsync { b.runs("bad") >= 3 })

        let text = try s.get("/metrics")
        #expect(text.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
        #expect(text.header("Vary") == "Accept")
        let om = try s.get("/metrics", headers: [("Accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")])
        #expect(om.header("Content-Type") == "application/openmetrics-text; version=1.0.0; charset=utf-8")
        #expect(om.bodyText.hasSuffix("# EOF\n"))
        #expect(!text.bodyText.contains("# EOF"))

        let textFamilies = try await PrometheusParser.parse(text.bodyText, format: "text")
        let omFamilies = try await PrometheusParser.parse(om.bodyText, format: "openmetrics")
        for (format, families) in [("text", textFamilies), ("openmetrics", omFamilies)] {
            func family(_ name: String) -> PrometheusParser.Family? { families.first { $0.name == name } }
            // prometheus_client names counter families without _total and info families without _info.
            #expect(family("readiness_probe_runs")?.type == "counter", "\(format)")
            #expect(family("readiness_probe_check_runs")?.type == "counter", "\(format)")
            #expect(family("readiness_probe_ready")?.type == "gauge", "\(format)")
            let build = family(format == "openmetrics" ? "readiness_probe_build" : "readiness_probe_build_info")
            #expect(build?.type == (format == "openmetrics" ? "info" : "gauge"), "\(format)")
            #expect(build?.samples.first?.labels["version"] == ProbeVersion.string, "\(format)")
            #expect(build?.samples.first?.value == 1, "\(format)")
            #expect(family("readiness_probe_code")?.samples.first?.value == 40, "\(format)")
            #expect(family("readiness_probe_ready")?.samples.first?.value == 0, "\(format)")

            // check_status: one sample per status for every check, exactly one of them 1.
            let status = try #require(family("readiness_probe_check_status"), "\(format)")
            for (check, expected) in [("good", "pass"), ("bad", "fail"), ("soft", "warn"), ("we\"ird\\name", "pass")] {
                let mine = status.samples.filter { $0.labels["check"] == check }
                #expect(Set(mine.map { $0.labels["status"] ?? "" }) == ["pass", "fail", "warn", "skip"], "\(format) \(check)")
                #expect(mine.filter { $0.value == 1 }.map { $0.labels["status"] } == [expected], "\(format) \(check)")
                #expect(mine.allSatisfy { $0.labels["kind"] == "hook" }, "\(format) \(check)")
            }
            // The same label names on every per-check family.
            for name in ["readiness_probe_check_code", "readiness_probe_check_duration_seconds"] {
                let f = try #require(family(name), "\(format) \(name)")
                #expect(f.samples.count == 4 && f.samples.allSatisfy { Set($0.labels.keys) == ["check", "kind"] }, "\(format) \(name)")
            }
            for name in ["readiness_probe_check_status", "readiness_probe_check_runs"] {
                let f = try #require(family(name), "\(format) \(name)")
                #expect(f.samples.allSatisfy { Set($0.labels.keys) == ["check", "kind", "status"] }, "\(format) \(name)")
            }
            let badFails = family("readiness_probe_check_runs")?.samples.first {
                $0.name == "readiness_probe_check_runs_total" && $0.labels["check"] == "bad" && $0.labels["status"] == "fail"
            }
            #expect((badFails?.value ?? 0) >= 2, "\(format)")
        }
        // Both formats carry the same families.
        #expect(Set(textFamilies.map(\.name)).subtracting(["readiness_probe_build_info"])
                == Set(omFamilies.map(\.name)).subtracting(["readiness_probe_build"]))
    }

    /// Before the first result: no per-check samples, code 11, and both formats still parse.
    @Test func beforeTheFirstResultBothFormatsParse() async throws {
        let b = HookBench()
        try b.hold(true)
        let conf = try b.config([("slow", try b.gate("slow"), "timeout = 20s")], timeout: "30s")
        let s = try await ServeProcess.start(config: conf, extra: ["--quiet"])
        for (accept, format) in [("text/plain", "text"), ("application/openmetrics-text", "openmetrics")] {
            let r = try s.get("/metrics", headers: [("Accept", accept)])
            let families = try await PrometheusParser.parse(r.bodyText, format: format)
            #expect(families.first { $0.name == "readiness_probe_code" }?.samples.first?.value == 11, "\(format)")
            #expect(families.first { $0.name == "readiness_probe_check_status" }?.samples.isEmpty == true, "\(format)")
        }
        try b.hold(false)
    }
}
