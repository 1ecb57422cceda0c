// The cached result: the listener runs the checks on every TICK and writes the report to
// <rundir>/readiness-probe/result.json; `run --cached` (and `serve`) answer from it without
// running anything. A missing, untrusted or stale result is code 11 (3 when the supervisord
// it was written for is gone or shutting down), never ready.
//
// File: {"schema": "readiness-probe/cached-result/1", "format": "readiness-probe-result/1", "finished_at": EPOCH,
//        "boot_id": "...", "listener_pid": N, "listener_start": T, "supervisord_pid": N, "supervisord_start": T,
//        "closed": false, "supervisord_state": "RUNNING",
//        "result": <the contract JSON of `run --format json`>}
// When the listener stops (or supervisord starts shutting down) it rewrites the file with
// `closed: true` (or `supervisord_state: STOPPING`) and no `result`. Unknown keys are ignored.
import ProbeSupport

enum CachedResult {
    static let format = "readiness-probe-result/1"
    /// The version id of the file's shape: docs/schema/cached-result.schema.json. `format` stays
    /// for readers older than the schemas (it is what `read` checks).
    static let schema = "readiness-probe/cached-result/1"

    static func path(_ settings: ProbeSettings) -> String { Ledger.folder(settings) + "/result.json" }

    /// The file's bytes. `report` nil writes a marker without a result (with `closed` or
    /// `supervisordState` saying why).
    static func encode(_ report: ProbeReport?, writer: WriterIdentity, closed: Bool = false,
                              supervisordState: String = "RUNNING", now: Double = Platform.epochSeconds()) -> [UInt8] {
        var fields: [(String, JSONValue)] = [
            ("schema", .string(schema)),
            ("format", .string(format)),
            ("finished_at", .real(((report?.finishedAt ?? now) * 1000).rounded() / 1000)),
        ]
        fields += writer.jsonFields
        fields += [("closed", .bool(closed)), ("supervisord_state", .string(supervisordState))]
        if let report { fields.append(("result", ReportJSON.value(report))) }
        return Array((JSON.serialize(.object(fields)) + "\n").utf8)
    }

    /// Writes the report atomically (mode 0644).
    static func write(_ report: ProbeReport?, path: String, writer: WriterIdentity, closed: Bool = false,
                             supervisordState: String = "RUNNING") throws(SystemError) {
        try Platform.writeFileAtomically(path, encode(report, writer: writer, closed: closed, supervisordState: supervisordState))
    }

    /// The cached report if it may be trusted (WriterTrust: folder, file, writer alive) and
    /// finished within `maxAge`; otherwise a one-row report with code 11 (or 3) that says why.
    static func read(_ settings: ProbeSettings, maxAge: Duration, now: Double = Platform.epochSeconds()) -> ProbeReport {
        read(path: path(settings), maxAge: maxAge, now: now)
    }

    static func read(path: String, maxAge: Duration, now: Double = Platform.epochSeconds()) -> ProbeReport {
        func noResult(_ detail: String, _ summary: String, code: Int32 = Codes.noFreshResult) -> ProbeReport {
            let row = CheckResult(name: "cached-result", kind: "cached-result", status: .fail, code: code,
                                  detail: detail, summary: summary, durationMs: 0)
            return ProbeReport.aggregate([row], durationMs: 0, finishedAt: now)
        }
        func untrusted(_ f: TrustFailure) -> ProbeReport { noResult(f.detail, f.summary, code: f.code) }
        let slash = path.lastIndex(of: "/") ?? path.startIndex
        let bytes: [UInt8]
        switch WriterTrust.read(folder: String(path[..<slash]), name: String(path[path.index(after: slash)...])) {
        case .missing:
            return noResult("no cached result at \(path) yet (the event listener writes it on every TICK when [listener] run_checks = true)",
                            "no cached result yet")
        case .untrusted(let why):
            return noResult("cached result not trusted: \(why)", "cached result not trusted")
        case .bytes(let b):
            bytes = b
        }
        guard let v = try? JSON.parse(bytes), v["format"]?.stringValue == format, let finished = v["finished_at"]?.doubleValue else {
            return noResult("cached result \(path) is not a \(format) file", "cached result unreadable")
        }
        let what = "cached result \(path)"
        let writer = WriterIdentity(json: v)
        if let f = WriterTrust.verifySupervisord(writer, what: what) { return untrusted(f) }
        if v["supervisord_state"]?.stringValue == "STOPPING" {
            return noResult("supervisord is shutting down (SUPERVISOR_STATE_CHANGE_STOPPING seen by the event listener)",
                            "supervisord is shutting down", code: Codes.supervisorUnavailable)
        }
        if v["closed"]?.boolValue != false {
            return noResult("the event listener has stopped and no longer keeps \(path)", "event listener stopped")
        }
        if let f = WriterTrust.verifyListener(writer, what: what) { return untrusted(f) }
        if let f = WriterTrust.freshness(writtenAt: finished, now: now, maxAge: maxAge, what: what) {
            return untrusted(f.summary.hasSuffix("stale") ? TrustFailure(f.detail, summary: "cached result is stale") : f)
        }
        guard let body = v["result"] else {
            return noResult("no cached result in \(path) yet", "no cached result yet")
        }
        guard let report = ReportJSON.report(from: body, finishedAt: finished) else {
            return noResult("cached result \(path) is not a \(format) file", "cached result unreadable")
        }
        return report
    }
}
