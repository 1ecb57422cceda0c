// serve's endpoints: /readyz, /livez, /healthz, /readyz/NAME, /livez/NAME, /metrics.
// Every answer is built from the cached report (HealthCache); a request never runs a check.
import ProbeHTTP
import ProbeSupport
import Synchronization

struct HealthEndpoints: Sendable {
    /// One check as configured (table order).
    struct CheckInfo: Sendable {
        var name: String
        var kind: String
        var liveness: Bool
        init(name: String, kind: String, liveness: Bool) {
            self.name = name
            self.kind = kind
            self.liveness = liveness
        }
    }

    enum Scope: String, Sendable {
        case readyz, livez
    }

    let cache: HealthCache
    let checks: [CheckInfo]
    /// A result older than this is served as not ready (code 11).
    let maxAge: Duration
    /// The aggregate answers already built for the current result (see `ResponseMemo`).
    let memo = ResponseMemo()
    /// The flight recorder's file for /readyz/history (nil: `[history] enabled = false`).
    var history: HistoryFile? = nil

    init(cache: HealthCache, checks: [CheckInfo], maxAge: Duration) {
        self.cache = cache
        self.checks = checks
        self.maxAge = maxAge
    }

    init(cache: HealthCache, entries: [CheckEntry], maxAge: Duration) {
        self.init(cache: cache, checks: entries.map { CheckInfo(name: $0.name, kind: $0.kind, liveness: $0.liveness) },
                  maxAge: maxAge)
    }

    /// Whether /livez has checks of its own; with none, it answers for the server loop alone.
    var hasLivenessChecks: Bool { checks.contains { $0.liveness } }

    static let codeHeader = "X-Readiness-Code"

    func respond(_ request: HTTPRequest) -> HTTPServerResponse {
        var path = request.path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        if path == "/metrics" {
            let format = Metrics.negotiate(accept: request.header("Accept"))
            return .text(200, Metrics.render(cache.snapshot(), checks: checks, maxAge: maxAge, format: format),
                         contentType: format.contentType, headers: [("Vary", "Accept")])
        }
        if path == "/readyz/history" { return historyResponse(request) }
        let parts = path.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: true)
        let scope: Scope
        switch parts.first {
        case "readyz", "healthz": scope = .readyz
        case "livez": scope = .livez
        default:
            return .text(404, "404 Not Found: \(path)\nendpoints: /readyz, /livez, /healthz, /readyz/NAME, /livez/NAME, /readyz/history, /metrics\n")
        }
        let json: Bool
        switch request.query("format") {
        case nil: json = (request.header("Accept") ?? "").contains("application/json")
        case "json": json = true
        case "text", "": json = false
        case let other?:
            return .text(400, "400 Bad Request: format must be json or text, not \"\(other)\"\n")
        }
        let verbose = request.query("verbose") != nil
        if parts.count == 2 {
            return single(String(parts[1]), scope: scope, json: json, verbose: verbose)
        }
        let excludes = request.queryValues("exclude").flatMap { $0.split(separator: ",").map(String.init) }.filter { !$0.isEmpty }
        let response = aggregate(scope: scope, excludes: excludes, json: json, verbose: verbose)
        return parts.first == "healthz" ? Self.healthzVerdict(response) : response
    }

    /// /healthz answers as /readyz does, but its verbose verdict names itself, as kube-apiserver's
    /// does (`healthz check passed`). The /readyz answer is built (and memoized) once; only the
    /// last line differs.
    static func healthzVerdict(_ response: HTTPServerResponse) -> HTTPServerResponse {
        var r = response
        for verdict in ["readyz check passed\n", "readyz check failed\n"] {
            let tail = Array(verdict.utf8)
            guard r.body.count >= tail.count, r.body.suffix(tail.count).elementsEqual(tail) else { continue }
            r.body.removeLast(tail.count)
            r.body += Array(("healthz" + verdict.dropFirst(6)).utf8)
        }
        return r
    }

    /// /readyz/history: the history file as `history --format json` prints it (?since=10m or a
    /// timestamp, ?check=NAME). 404 when the history is disabled, 500 when the file is refused.
    func historyResponse(_ request: HTTPRequest) -> HTTPServerResponse {
        guard let history else {
            return .text(404, "404 Not Found: the history is disabled ([history] enabled = false)\n")
        }
        var since: Double? = nil
        if let text = request.query("since"), !text.isEmpty {
            guard let t = HistoryQuery.parseSince(text, now: Platform.epochSeconds()) else {
                return .text(400, "400 Bad Request: since must be a duration such as 10m or a time such as 2026-12-01T03:12:05Z, not \"\(text)\"\n")
            }
            since = t
        }
        switch history.read() {
        case .failure(let e):
            return .text(500, JSON.serialize(.object([("error", .string(e.message))])) + "\n", contentType: "application/json")
        case .success(let log):
            let q = HistoryQuery(since: since, check: request.query("check"))
            return .text(200, HistoryQuery.json(q.filter(log.records), warnings: log.warnings), contentType: "application/json")
        }
    }

    // MARK: - Views

    /// The report an endpoint serves: the cached rows of its checks, re-aggregated, or code 11
    /// when there is no result yet or it is too old.
    func view(scope: Scope, names: Set<String>, snapshot: HealthSnapshot) -> ProbeReport {
        guard let last = snapshot.report, let age = snapshot.age else {
            return ProbeReport(code: Codes.noFreshResult,
                               summary: "no result yet: the first check run has not finished (started \(seconds(snapshot.uptime)) ago)",
                               durationMs: 0, results: [], finishedAt: 0)
        }
        let rows = last.results.filter { names.contains($0.name) }
        var report = ProbeReport.aggregate(rows, durationMs: last.durationMs, finishedAt: last.finishedAt)
        if age > maxAge {
            report.code = Codes.noFreshResult
            report.summary = "stale result: the last check run finished \(seconds(age)) ago (max age \(DurationText.format(maxAge)))"
        }
        return report
    }

    func seconds(_ d: Duration) -> String { Decimal1.format(Double(d.milliseconds) / 1000, digits: 1, fixed: true) + "s" }

    func aggregate(scope: Scope, excludes: [String], json: Bool, verbose: Bool) -> HTTPServerResponse {
        let snapshot = cache.snapshot()
        // The same result gives the same answer until the next run: build each variant once.
        // Only a fresh result is memoized (a stale or missing one is built on every request).
        let slot = ResponseMemo.slot(scope: scope, json: json, verbose: verbose)
        let memoizable = excludes.isEmpty && snapshot.report != nil && (snapshot.age.map { $0 <= maxAge } ?? false)
        if memoizable, let hit = memo.lookup(slot, generation: snapshot.runs) {
            if scope == .readyz { cache.note(code: hit.code, line: hit.line) }
            return hit.response
        }
        let inScope = checks.filter { scope == .readyz || $0.liveness }.map(\.name)
        let excluded = inScope.filter { excludes.contains($0) }
        var unknown: [String] = []
        for name in excludes where !inScope.contains(name) && !unknown.contains(name) { unknown.append(name) }
        var report: ProbeReport
        if scope == .livez && !hasLivenessChecks {
            let ping = CheckResult(name: "ping", kind: "server", status: .pass, code: 0,
                                   detail: "the server loop answers (no check has liveness = true)", durationMs: 0)
            report = ProbeReport.aggregate([ping], durationMs: 0, finishedAt: snapshot.report?.finishedAt ?? 0)
        } else {
            report = view(scope: scope, names: Set(inScope).subtracting(excluded), snapshot: snapshot)
        }
        let line = Render.firstLine(report)
        if scope == .readyz && excludes.isEmpty {
            cache.note(code: report.code, line: line)
        }
        let status = report.ready ? 200 : 503
        let headers = [(Self.codeHeader, String(report.code))]
        let response: HTTPServerResponse
        if json {
            var value = ReportJSON.value(report)
            if case .object(var pairs) = value {
                if !excluded.isEmpty { pairs.append(("excluded", .array(excluded.map { .string($0) }))) }
                if !unknown.isEmpty { pairs.append(("unknown_excludes", .array(unknown.map { .string($0) }))) }
                if scope == .readyz, let notify = snapshot.notify { pairs.append(("notify", notify.json())) }
                value = .object(pairs)
            }
            response = .text(status, JSON.serialize(value) + "\n", contentType: "application/json", headers: headers)
        } else if report.ready && !verbose {
            response = .text(status, "ok", headers: headers)
        } else {
            var body = Render.verbose(report, excluded: excluded, unknownExcludes: unknown, verdictPrefix: scope.rawValue)
            if report.code == Codes.noFreshResult { body = line + "\n" + body }
            response = .text(status, body, headers: headers)
        }
        if memoizable {
            memo.store(slot, generation: snapshot.runs, ResponseMemo.Entry(response: response, code: report.code, line: line))
        }
        return response
    }

    func single(_ name: String, scope: Scope, json: Bool, verbose: Bool) -> HTTPServerResponse {
        guard let info = checks.first(where: { $0.name == name }) else {
            let names = checks.filter { scope == .readyz || $0.liveness }.map(\.name)
            return .text(404, "404 Not Found: no check named \"\(name)\" (checks: \(names.isEmpty ? "none" : names.joined(separator: ", ")))\n")
        }
        if scope == .livez && !info.liveness {
            return .text(404, "404 Not Found: check \"\(name)\" is not a liveness check (set liveness = true in its section)\n")
        }
        let report = view(scope: scope, names: [name], snapshot: cache.snapshot())
        let status = report.ready ? 200 : 503
        let headers = [(Self.codeHeader, String(report.code))]
        if json {
            return .text(status, ReportJSON.text(report) + "\n", contentType: "application/json", headers: headers)
        }
        if report.code == Codes.noFreshResult {
            var body = Render.firstLine(report) + "\n"
            if let row = report.results.first { body += "last result: " + Render.verboseLine(row) + "\n" }
            return .text(status, body, headers: headers)
        }
        guard let row = report.results.first else {
            return .text(503, "not ready (code \(Codes.noFreshResult)): check \"\(name)\" has no result yet\n",
                         headers: [(Self.codeHeader, String(Codes.noFreshResult))])
        }
        let text = row.status == .pass && !verbose ? "ok" : Render.verboseLine(row) + "\n"
        return .text(status, text, headers: headers)
    }
}

/// The aggregate answers (scope x format x verbose, no excludes) built from one result, so that a
/// burst of probes costs a lookup each instead of a render. `generation` is the cache's run count:
/// a new result empties the memo. Staleness is checked before every lookup, by the caller.
final class ResponseMemo: Sendable {
    struct Entry: Sendable {
        var response: HTTPServerResponse
        var code: Int32
        var line: String
    }

    private struct State {
        var generation = -1
        var entries = [Entry?](repeating: nil, count: 8)
    }

    private let state = Mutex(State())

    static func slot(scope: HealthEndpoints.Scope, json: Bool, verbose: Bool) -> Int {
        (scope == .readyz ? 0 : 4) + (json ? 2 : 0) + (verbose ? 1 : 0)
    }

    func lookup(_ slot: Int, generation: Int) -> Entry? {
        state.withLock { s in s.generation == generation ? s.entries[slot] : nil }
    }

    func store(_ slot: Int, generation: Int, _ entry: Entry) {
        state.withLock { s in
            if generation < s.generation { return } // built from an older result than the memo's
            if generation > s.generation {
                s.generation = generation
                s.entries = [Entry?](repeating: nil, count: 8)
            }
            s.entries[slot] = entry
        }
    }
}
