// /metrics in the Prometheus text exposition format (version 0.0.4). Names are listed in docs/serve.md.

public enum Metrics {
    /// Label values: backslash, double quote and newline escaped as the format requires.
    public static func escapeLabel(_ value: String) -> String {
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

    public static func render(_ snapshot: HealthSnapshot, checks: [HealthEndpoints.CheckInfo], maxAge: Duration) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
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

        let rows = report?.results ?? []
        func row(_ name: String) -> CheckResult? { rows.first { $0.name == name } }
        family("readiness_probe_check_status", "gauge",
               "Per check in the last run: 1 when it does not fail the probe (pass, warn, skip), 0 when it fails.")
        for c in checks { if let r = row(c.name) { sample("readiness_probe_check_status", [("check", c.name), ("kind", c.kind)], r.status == .fail ? 0 : 1) } }
        family("readiness_probe_check_code", "gauge", "Per check in the last run: its code (see `readiness-probe codes`).")
        for c in checks { if let r = row(c.name) { sample("readiness_probe_check_code", [("check", c.name), ("kind", c.kind)], Double(r.code)) } }
        family("readiness_probe_check_duration_seconds", "gauge", "Per check in the last run: how long it took.")
        for c in checks { if let r = row(c.name) { sample("readiness_probe_check_duration_seconds", [("check", c.name), ("kind", c.kind)], r.durationMs / 1000) } }
        family("readiness_probe_check_runs_total", "counter", "Per check: finished runs by status (pass, fail, warn, skip).")
        for c in checks {
            for status in CheckStatus.allCases {
                let n = snapshot.checkRuns[c.name]?[status] ?? 0
                sample("readiness_probe_check_runs_total", [("check", c.name), ("status", status.rawValue)], Double(n))
            }
        }
        return out
    }
}
