// serve's gRPC health service (grpc.health.v1.Health: Check, Watch, List), answered from the same
// cached result as /readyz (HealthEndpoints.view): a call never runs a check.
//
// Services: "" and "readyz" = every check (as /readyz); "livez" = the liveness checks (as /livez:
// with none marked it is SERVING while the server answers); a check's name = that check alone
// (as /readyz/NAME). SERVING when the answer's code is 0; NOT_SERVING when a check fails, before
// the first result and when the result is stale (code 11). An unknown name: NOT_FOUND for Check,
// SERVICE_UNKNOWN (stream kept open) for Watch.
import ProbeHTTP2

public struct GRPCHealthService: GRPCService {
    public static let checkPath = "/grpc.health.v1.Health/Check"
    public static let watchPath = "/grpc.health.v1.Health/Watch"
    public static let listPath = "/grpc.health.v1.Health/List"

    public let endpoints: HealthEndpoints

    public init(endpoints: HealthEndpoints) {
        self.endpoints = endpoints
    }

    enum Target: Equatable {
        case readyz, livez
        case check(String)
    }

    /// The service names List reports, in order: "", readyz, livez, then each check (a check named
    /// like one of the first three is reachable only through those).
    public var serviceNames: [String] {
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
    public struct Answer: Equatable, Sendable {
        public var status: GRPCHealth.ServingStatus
        public var code: Int32
        public var detail: String
    }

    func answer(_ t: Target, _ snapshot: HealthSnapshot) -> Answer {
        let report: ProbeReport
        switch t {
        case .readyz:
            report = endpoints.view(scope: .readyz, names: Set(endpoints.checks.map(\.name)), snapshot: snapshot)
            endpoints.cache.note(code: report.code, line: Render.firstLine(report))
        case .livez:
            guard endpoints.hasLivenessChecks else {
                return Answer(status: .serving, code: 0, detail: "the server loop answers (no check has liveness = true)")
            }
            report = endpoints.view(scope: .livez, names: Set(endpoints.checks.filter(\.liveness).map(\.name)), snapshot: snapshot)
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
    public func answer(service: String) -> Answer? {
        target(service).map { answer($0, endpoints.cache.snapshot()) }
    }

    public func call(path: String, request: ArraySlice<UInt8>) -> GRPCReply {
        switch path {
        case Self.checkPath, Self.watchPath:
            let service: String
            do { service = try GRPCHealth.decodeCheckRequest(request) } catch {
                return GRPCReply(.failure(.invalidArgument, "bad HealthCheckRequest: \(error)"), note: "\(methodName(path)) -")
            }
            let note = "\(methodName(path)) \"\(Self.printable(service, limit: 100))\""
            if path == Self.watchPath { return GRPCReply(.stream(key: service), note: note) }
            guard let t = target(service) else {
                return GRPCReply(.failure(.notFound, "unknown service \"\(Self.printable(service, limit: 100))\" (services: \(serviceNames.map { "\"\($0)\"" }.joined(separator: ", ")))"),
                                 note: note)
            }
            let a = answer(t, endpoints.cache.snapshot())
            var trailers = [("readiness-code", String(a.code))]
            if a.status != .serving { trailers.append(("readiness-detail", Self.printable(a.detail, limit: 512))) }
            return GRPCReply(.message(GRPCHealth.encodeCheckResponse(a.status)), trailers: trailers, note: note + " " + a.status.name)
        case Self.listPath:
            do { try GRPCHealth.decodeListRequest(request) } catch {
                return GRPCReply(.failure(.invalidArgument, "bad HealthListRequest: \(error)"), note: "List")
            }
            let snapshot = endpoints.cache.snapshot()
            let statuses = serviceNames.compactMap { name in target(name).map { (name, answer($0, snapshot).status) } }
            return GRPCReply(.message(GRPCHealth.encodeListResponse(statuses)), note: "List \(statuses.count) services")
        default:
            return GRPCReply(.failure(.unimplemented, "unknown method \(Self.printable(path, limit: 200)) (this server has grpc.health.v1.Health: Check, Watch, List)"),
                             note: Self.printable(path, limit: 200))
        }
    }

    /// Watch's message: the current status, SERVICE_UNKNOWN for an unknown name.
    public func streamMessage(key: String) -> [UInt8] {
        guard let t = target(key) else { return GRPCHealth.encodeCheckResponse(.serviceUnknown) }
        return GRPCHealth.encodeCheckResponse(answer(t, endpoints.cache.snapshot()).status)
    }

    func methodName(_ path: String) -> String { String(path.split(separator: "/").last ?? "") }

    /// Printable ASCII (metadata values and log lines): other bytes become `?`, cut at `limit` bytes.
    static func printable(_ s: String, limit: Int) -> String {
        var out = ""
        for b in s.utf8.prefix(limit) {
            out.unicodeScalars.append(Unicode.Scalar(b >= 0x20 && b <= 0x7e ? b : UInt8(ascii: "?")))
        }
        return s.utf8.count > limit ? out + "..." : out
    }
}
