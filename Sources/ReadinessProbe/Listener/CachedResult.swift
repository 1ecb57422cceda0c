// The cached result: the listener runs the checks on every TICK and writes the report to
// <rundir>/readiness-probe/result.json; `run --cached` (and `serve`) answer from it without
// running anything. A missing, unreadable or stale result is code 11, never ready.
//
// File: {"format": "readiness-probe-result/1", "finished_at": EPOCH, "listener_pid": N,
//        "result": <the contract JSON of `run --format json`>}

public enum CachedResult {
    public static let format = "readiness-probe-result/1"

    public static func path(_ settings: ProbeSettings) -> String { Ledger.folder(settings) + "/result.json" }

    public static func encode(_ report: ProbeReport, listenerPID: Int) -> [UInt8] {
        let v = JSONValue.object([
            ("format", .string(format)),
            ("finished_at", .number((report.finishedAt * 1000).rounded() / 1000)),
            ("listener_pid", .number(Double(listenerPID))),
            ("result", ReportJSON.value(report)),
        ])
        return Array((JSON.serialize(v) + "\n").utf8)
    }

    /// Writes the report atomically.
    public static func write(_ report: ProbeReport, path: String, listenerPID: Int = Int(Platform.processID)) throws(SystemError) {
        try Platform.writeFileAtomically(path, encode(report, listenerPID: listenerPID))
    }

    /// The cached report if it exists, parses and finished within `maxAge`; otherwise a
    /// one-row report with code 11 that says why.
    public static func read(_ settings: ProbeSettings, maxAge: Duration, now: Double = Platform.epochSeconds()) -> ProbeReport {
        read(path: path(settings), maxAge: maxAge, now: now)
    }

    public static func read(path: String, maxAge: Duration, now: Double = Platform.epochSeconds()) -> ProbeReport {
        func noResult(_ detail: String, _ summary: String) -> ProbeReport {
            let row = CheckResult(name: "cached-result", kind: "cached-result", status: .fail, code: Codes.noFreshResult,
                                  detail: detail, summary: summary, durationMs: 0)
            return ProbeReport.aggregate([row], durationMs: 0, finishedAt: now)
        }
        let bytes: [UInt8]
        do { bytes = try Platform.readFile(path, limit: 4 << 20) } catch {
            if error.errno == 2 {
                return noResult("no cached result at \(path) yet (the event listener writes it on every TICK when [listener] run_checks = true)",
                                "no cached result yet")
            }
            return noResult("cannot read cached result \(path): \(error.message)", "cached result unreadable")
        }
        guard let v = try? JSON.parse(bytes), v["format"]?.stringValue == format,
              let finished = v["finished_at"]?.doubleValue, let body = v["result"],
              let report = ReportJSON.report(from: body, finishedAt: finished) else {
            return noResult("cached result \(path) is not a \(format) file", "cached result unreadable")
        }
        let age = now - finished
        let limit = maxAge.secondsDouble
        if age > limit || age < -limit {
            return noResult("cached result \(path) is \(Decimal1.format(age, digits: 1))s old (max age \(DurationText.format(maxAge)))",
                            "cached result is stale")
        }
        return report
    }
}
