// /metrics in the Prometheus text exposition format (0.0.4) or OpenMetrics 1.0.0, chosen by the
// request's Accept header. Names and labels are listed in docs/serve.md.
import ProbeSupport

enum Metrics {
    /// The two exposition formats.
    enum Format: Sendable, Equatable {
        /// Prometheus text format 0.0.4 (`text/plain; version=0.0.4`).
        case text
        /// OpenMetrics 1.0.0 (`application/openmetrics-text; version=1.0.0`): counters' families
        /// without `_total`, `build_info` as an `info` family, and a final `# EOF`.
        case openMetrics

        var contentType: String {
            switch self {
            case .text: return "text/plain; version=0.0.4; charset=utf-8"
            case .openMetrics: return "application/openmetrics-text; version=1.0.0; charset=utf-8"
            }
        }
    }

    /// The format an `Accept` header asks for: OpenMetrics when it accepts
    /// `application/openmetrics-text` (version 1.0.0, 0.0.1 or none) with a q-value at least that
    /// of the text format (`text/plain`, `text/*`, `*/*`); else the text format. What Prometheus
    /// sends (`application/openmetrics-text;version=1.0.0,...,text/plain;version=0.0.4;q=0.5,*/*;q=0.1`)
    /// gets OpenMetrics; a browser's or curl's Accept, or none, gets text.
    static func negotiate(accept: String?) -> Format {
        guard let accept, !accept.isEmpty else { return .text }
        var openMetricsQ = -1.0, textQ = -1.0
        for range in accept.split(separator: ",") {
            let parts = range.split(separator: ";").map { $0.trimmingASCIIWhitespace().lowercased() }
            guard let type = parts.first else { continue }
            var q = 1.0
            var version: String?
            for p in parts.dropFirst() {
                let kv = p.split(separator: "=", maxSplits: 1).map { String($0).trimmingASCIIWhitespace() }
                guard kv.count == 2 else { continue }
                if kv[0] == "q" { q = Double(kv[1]).map { min(max($0, 0), 1) } ?? 0 }
                if kv[0] == "version" { version = kv[1] }
            }
            switch type {
            case "application/openmetrics-text":
                if version == nil || version == "1.0.0" || version == "0.0.1" { openMetricsQ = max(openMetricsQ, q) }
            case "text/plain", "text/*", "*/*":
                textQ = max(textQ, q)
            default:
                break
            }
        }
        return openMetricsQ > 0 && openMetricsQ >= textQ ? .openMetrics : .text
    }

    /// Label values: backslash, double quote and newline escaped as both formats require.
    static func escapeLabel(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for ch in value.unicodeScalars {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.rounded() == v && abs(v) < 1e15 { return String(Int64(v)) }
        return Decimal1.format(v, digits: 6)
    }

    /// The `arch` label of build_info.
    static var architecture: String {
        #if arch(x86_64)
        return "x86_64"
        #elseif arch(arm64)
        return "aarch64"
        #else
        return "other"
        #endif
    }

    static func render(_ snapshot: HealthSnapshot, checks: [HealthEndpoints.CheckInfo], maxAge: Duration,
                              format: Format = .text) -> String {
        let om = format == .openMetrics
        var out = ""
        /// A family's HELP and TYPE. In OpenMetrics a counter's family drops `_total` and an
        /// `_info` gauge is an `info` family without the suffix; the samples keep the full name.
        func family(_ name: String, _ type: String, _ help: String) {
            var familyName = name, familyType = type
            if om && type == "counter" && name.hasSuffix("_total") { familyName = String(name.dropLast(6)) }
            if om && type == "info" { familyName = String(name.dropLast(5)) }
            if !om && type == "info" { familyType = "gauge" }
            out += "# HELP \(familyName) \(help)\n# TYPE \(familyName) \(familyType)\n"
        }
        func sample(_ name: String, _ labels: [(String, String)], _ value: Double) {
            out += name
            if !labels.isEmpty {
                out += "{" + labels.map { "\($0.0)=\"\(escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
            }
            out += " " + number(value) + "\n"
        }
        let report = snapshot.report
        let fresh = snapshot.age.map { $0 <= maxAge } ?? false
        let served: Int32 = report == nil || !fresh ? Codes.noFreshResult : report!.code

        family("readiness_probe_build_info", "info", "The readiness-probe build serving these metrics (value 1).")
        sample("readiness_probe_build_info", [("version", ProbeVersion.string), ("arch", architecture)], 1)
        family("readiness_probe_ready", "gauge", "1 when /readyz answers 200 (a fresh result with code 0), else 0.")
        sample("readiness_probe_ready", [], served == 0 ? 1 : 0)
        family("readiness_probe_code", "gauge", "The code /readyz answers with (11: no result yet, or stale).")
        sample("readiness_probe_code", [], Double(served))
        family("readiness_probe_result_age_seconds", "gauge", "Age of the last result; absent before the first run finished.")
        if let age = snapshot.age { sample("readiness_probe_result_age_seconds", [], Double(age.milliseconds) / 1000) }
        family("readiness_probe_runs_total", "counter", "Background check runs finished.")
        sample("readiness_probe_runs_total", [], Double(snapshot.runs))
        family("readiness_probe_run_duration_seconds", "gauge", "Duration of the last background run.")
        if let report { sample("readiness_probe_run_duration_seconds", [], report.durationMs / 1000) }
        family("readiness_probe_last_run_timestamp_seconds", "gauge", "When the last background run finished (Unix seconds).")
        if let report { sample("readiness_probe_last_run_timestamp_seconds", [], (report.finishedAt * 1000).rounded() / 1000) }

        // Every per-check family has the labels `check` and `kind`; the status families add `status`.
        let rows = report?.results ?? []
        func row(_ name: String) -> CheckResult? { rows.first { $0.name == name } }
        family("readiness_probe_check_status", "gauge",
               "Per check in the last run: 1 for its status (pass, fail, warn, skip), 0 for the others.")
        for c in checks {
            guard let r = row(c.name) else { continue }
            for status in CheckStatus.allCases {
                sample("readiness_probe_check_status", [("check", c.name), ("kind", c.kind), ("status", status.rawValue)],
                       r.status == status ? 1 : 0)
            }
        }
        family("readiness_probe_check_code", "gauge", "Per check in the last run: its code (see `readiness-probe codes`).")
        for c in checks { if let r = row(c.name) { sample("readiness_probe_check_code", [("check", c.name), ("kind", c.kind)], Double(r.code)) } }
        family("readiness_probe_check_duration_seconds", "gauge", "Per check in the last run: how long it took.")
        for c in checks { if let r = row(c.name) { sample("readiness_probe_check_duration_seconds", [("check", c.name), ("kind", c.kind)], r.durationMs / 1000) } }
        family("readiness_probe_check_runs_total", "counter", "Per check: finished runs by status (pass, fail, warn, skip).")
        for c in checks {
            for status in CheckStatus.allCases {
                let n = snapshot.checkRuns[c.name]?[status] ?? 0
                sample("readiness_probe_check_runs_total", [("check", c.name), ("kind", c.kind), ("status", status.rawValue)], Double(n))
            }
        }
        family("readiness_probe_transitions_total", "counter",
               "Changes of a check's code (check=\"\" is the overall result) seen by this server's runs, by the new code; the first result counts as one.")
        for t in snapshot.transitions {
            sample("readiness_probe_transitions_total", [("check", t.check), ("to", String(t.to))], Double(t.count))
        }
        family("readiness_probe_last_transition_timestamp_seconds", "gauge",
               "When a check's code (check=\"\": the overall result) last changed in this server's runs (Unix seconds).")
        for t in snapshot.lastTransition {
            sample("readiness_probe_last_transition_timestamp_seconds", [("check", t.check)], (t.at * 1000).rounded() / 1000)
        }
        if let notify = snapshot.notify {
            let now = Platform.epochSeconds()
            family("readiness_probe_notify_ready", "gauge",
                   "Per notify program ([programs] notify): 1 when it is ready (RUNNING, READY=1 since its start, not reloading or stopping, watchdog fed), else 0.")
            for p in notify.programs { sample("readiness_probe_notify_ready", [("program", p.name)], p.ready ? 1 : 0) }
            family("readiness_probe_notify_ready_since_timestamp_seconds", "gauge", "Per notify program: when its current READY=1 arrived (Unix seconds).")
            for p in notify.programs { if let t = p.readyAt { sample("readiness_probe_notify_ready_since_timestamp_seconds", [("program", p.name)], (t * 1000).rounded() / 1000) } }
            family("readiness_probe_notify_watchdog_age_seconds", "gauge", "Per notify program: seconds since its last WATCHDOG=1 (absent before the first).")
            for p in notify.programs { if let t = p.watchdogAt { sample("readiness_probe_notify_watchdog_age_seconds", [("program", p.name)], (max(0, now - t) * 1000).rounded() / 1000) } }
        }
        if om { out += "# EOF\n" }
        return out
    }
}
