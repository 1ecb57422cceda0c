// serve's gRPC health service (grpc.health.v1.Health: Check, Watch, List), answered from the same
// cached result as /readyz (HealthEndpoints.view): a call never runs a check.
//
// Services: "" and "readyz" = every check (as /readyz); "livez" = the liveness checks (as /livez:
// with none marked it is SERVING while the server answers); a check's name = that check alone
// (as /readyz/NAME). SERVING when the answer's code is 0; NOT_SERVING when a check fails, before
// the first result and when the result is stale (code 11). An unknown name: NOT_FOUND for Check,
// SERVICE_UNKNOWN (stream kept open) for Watch.
import ProbeHTTP2
import ProbeSupport
import Synchronization

struct GRPCHealthService: GRPCService {
    static let checkPath = "/grpc.health.v1.Health/Check"
    static let watchPath = "/grpc.health.v1.Health/Watch"
    static let listPath = "/grpc.health.v1.Health/List"

    let endpoints: HealthEndpoints
    let allNames: Set<String>
    let livenessNames: Set<String>
    /// The answers built from the current fresh result, by service name (see `answer(_:_:)`).
    let memo = AnswerMemo()

    init(endpoints: HealthEndpoints) {
        self.endpoints = endpoints
        allNames = Set(endpoints.checks.map(\.name))
        livenessNames = Set(endpoints.checks.filter(\.liveness).map(\.name))
    }

    enum Target: Hashable {
        case readyz, livez
        case check(String)
    }

    /// The service names List reports, in order: "", readyz, livez, then each check (a check named
    /// like one of the first three is reachable only through those).
    var serviceNames: [String] {
        var names = ["", "readyz", "livez"]
        for c in endpoints.checks where !names.contains(c.name) { names.append(c.name) }
        return names
    }

    func target(_ service: String) -> Target? {
        switch service {
        case "", "readyz": return .readyz
        case "livez": return .livez
        default: return endpoints.checks.contains { $0.name == service } ? .check(service) : nil
        }
    }

    /// The answer for a service: its serving status, code and one-line detail, from the cached report.
    struct Answer: Equatable, Sendable {
        var status: GRPCHealth.ServingStatus
        var code: Int32
        var detail: String
    }

    /// The answer from the cached report. A fresh result's answers are built once per run (the
    /// memo is keyed by the run count); a missing or stale result is looked at on every call.
    func answer(_ t: Target, _ snapshot: HealthSnapshot) -> Answer {
        let fresh = snapshot.report != nil && (snapshot.age.map { $0 <= endpoints.maxAge } ?? false)
        guard fresh else { return build(t, snapshot) }
        if let hit = memo.lookup(t, generation: snapshot.runs) { return hit }
        let a = build(t, snapshot)
        memo.store(t, generation: snapshot.runs, a)
        return a
    }

    func build(_ t: Target, _ snapshot: HealthSnapshot) -> Answer {
        let report: ProbeReport
        switch t {
        case .readyz:
            report = endpoints.view(scope: .readyz, names: allNames, snapshot: snapshot)
            endpoints.cache.note(code: report.code, line: Render.firstLine(report))
        case .livez:
            guard endpoints.hasLivenessChecks else {
                return Answer(status: .serving, code: 0, detail: "the server loop answers (no check has liveness = true)")
            }
            report = endpoints.view(scope: .livez, names: livenessNames, snapshot: snapshot)
        case .check(let name):
            report = endpoints.view(scope: .readyz, names: [name], snapshot: snapshot)
        }
        if case .check(let name) = t, report.code == 0, report.results.isEmpty {
            // A result without this check's row (as /readyz/NAME: no result yet for it).
            return Answer(status: .notServing, code: Codes.noFreshResult, detail: "check \"\(name)\" has no result yet")
        }
        return Answer(status: report.code == 0 ? .serving : .notServing, code: report.code, detail: report.summary)
    }

    /// The answer for a service name, or nil when no such service exists.
    func answer(service: String) -> Answer? {
        target(service).map { answer($0, endpoints.cache.snapshot()) }
    }

    func call(path: String, request: ArraySlice<UInt8>) -> GRPCReply {
        switch path {
        case Self.checkPath, Self.watchPath:
            let service: String
            do { service = try GRPCHealth.decodeCheckRequest(request) } catch {
                return GRPCReply(.failure(.invalidArgument, "bad HealthCheckRequest: \(error)"))
            }
            if path == Self.watchPath { return GRPCReply(.stream(key: service), subject: service) }
            guard let t = target(service) else {
                let names = serviceNames.map { "\"\($0)\"" }.joined(separator: ", ")
                return GRPCReply(.failure(.notFound, "unknown service \"\(Self.printable(service, limit: 100))\" (services: \(names))"),
                                 subject: service)
            }
            let a = answer(t, endpoints.cache.snapshot())
            if a.status == .serving && a.code == 0 {
                return GRPCReply(.message(Self.servingMessage), trailers: Self.servingTrailers, subject: service, note: "SERVING")
            }
            let trailers = [("readiness-code", String(a.code)), ("readiness-detail", Self.printable(a.detail, limit: 512))]
            return GRPCReply(.message(GRPCHealth.encodeCheckResponse(a.status)), trailers: trailers, subject: service,
                             note: a.status.name)
        case Self.listPath:
            do { try GRPCHealth.decodeListRequest(request) } catch {
                return GRPCReply(.failure(.invalidArgument, "bad HealthListRequest: \(error)"))
            }
            let snapshot = endpoints.cache.snapshot()
            let statuses = serviceNames.compactMap { name in target(name).map { (name, answer($0, snapshot).status) } }
            return GRPCReply(.message(GRPCHealth.encodeListResponse(statuses)), note: "\(statuses.count) services")
        default:
            return GRPCReply(.failure(.unimplemented, "unknown method \(Self.printable(path, limit: 200)) (this server has grpc.health.v1.Health: Check, Watch, List)"))
        }
    }

    static let servingMessage = GRPCHealth.encodeCheckResponse(.serving)
    static let servingTrailers = [("readiness-code", "0")]

    /// Watch's message: the current status, SERVICE_UNKNOWN for an unknown name.
    func streamMessage(key: String) -> [UInt8] {
        guard let t = target(key) else { return GRPCHealth.encodeCheckResponse(.serviceUnknown) }
        return GRPCHealth.encodeCheckResponse(answer(t, endpoints.cache.snapshot()).status)
    }

    static func printable(_ s: String, limit: Int) -> String { GRPCServer.printable(s, limit: limit) }
}

/// GRPCHealthService's answers for one result (generation = the cache's run count).
final class AnswerMemo: Sendable {
    private struct State {
        var generation = -1
        var answers: [GRPCHealthService.Target: GRPCHealthService.Answer] = [:]
    }

    private let state = Mutex(State())

    func lookup(_ t: GRPCHealthService.Target, generation: Int) -> GRPCHealthService.Answer? {
        state.withLock { s in s.generation == generation ? s.answers[t] : nil }
    }

    func store(_ t: GRPCHealthService.Target, generation: Int, _ a: GRPCHealthService.Answer) {
        state.withLock { s in
            if generation < s.generation { return }
            if generation > s.generation {
                s.generation = generation
                s.answers = [:]
            }
            s.answers[t] = a
        }
    }
}
