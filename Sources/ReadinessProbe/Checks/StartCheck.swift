// The start program's exit status: passes only when the one-shot start program has
// EXITED with a status in its exitcodes. Code 2 otherwise (SONiC's code for the same cause).
import ProbeSupport
import SupervisorKit

struct StartCheck: Check, Equatable {
    var program: String
    var required: Bool
    /// The statuses that count as success (a list: docs/architecture.md, "The probe path").
    var exitCodes: [Int]

    init(program: String = "start", required: Bool = false, exitCodes: [Int] = [0]) {
        self.program = program
        self.required = required
        self.exitCodes = exitCodes
    }

    static let kind = CheckKind(
        section: "start", resultKind: "supervisor-start", order: 10, instance: .forbidden,
        keys: ["program", "required", "exitcodes"],
        codes: [0, Codes.startNotDone, Codes.supervisorUnavailable, Codes.checkTimedOut, Codes.deadlineExceeded, Codes.noFreshResult],
        about: "the one-shot start program must have EXITED with a status in exitcodes (default 0)",
        make: { (input) throws(ConfigError) -> [CheckEntry] in
            let s = input.sections.first
            var check = StartCheck()
            if let e = s?.entry("program") { check.program = e.value }
            if check.program.isEmpty { return [] }
            if let e = s?.entry("required") { check.required = try ConfigValue.bool(e) }
            if let e = s?.entry("exitcodes") {
                var codes: [Int] = []
                for item in ConfigValue.list(e) {
                    guard let n = Int(item), (0...255).contains(n) else {
                        throw ConfigError("exitcodes must be numbers from 0 to 255, not \"\(item)\"", at: e.location)
                    }
                    if !codes.contains(n) { codes.append(n) }
                }
                if codes.isEmpty { throw ConfigError("exitcodes is empty", at: e.location) }
                check.exitCodes = codes
            }
            let common = try CommonCheckOptions(s)
            return [CheckEntry(name: "start", kind: "supervisor-start", severity: common.severity, timeout: common.timeout,
                               liveness: common.liveness, origin: s?.location.description ?? "built-in default",
                               check: check)]
        })

    func check(_ context: CheckContext) async -> CheckOutcome { await ProbeRunner.outcome(of: self, context) }

    /// The verdict on the run's supervisord snapshot.
    func work(_ settings: ProbeSettings) -> CheckWork { .supervisor { self.verdict($0) } }

    var watchedPrograms: WatchedPrograms { WatchedPrograms(startProgram: program, start: self) }

    /// The verdict on the run's supervisord snapshot (or the failure to get one).
    func verdict(_ fetched: SupervisorResult) -> CheckOutcome {
        let snapshot: SupervisorSnapshot
        switch fetched {
        case .failure(let f): return f.outcome
        case .success(let s): snapshot = s
        }
        guard let p = snapshot.find(program) else {
            if required {
                return .fail(Codes.startNotDone, "program \(program) is not known to supervisord (required = true)",
                             summary: "start program \(program) missing")
            }
            return .pass("no program \(program) in supervisord (not required)")
        }
        return evaluate(p, source: snapshot.source)
    }

    /// `; log: PATH` when the source names the program's log (XML-RPC does): where to read why it failed.
    static func log(_ p: SupervisorProcess) -> String { p.logFile.isEmpty ? "" : "; log: \(p.logFile)" }

    /// The verdict for one process, kept pure for tests.
    func evaluate(_ p: SupervisorProcess, source: String) -> CheckOutcome {
        let name = p.namespec
        switch p.state {
        case .exited:
            if let status = p.exitStatus {
                if exitCodes.contains(status) { return .pass("\(name) exited \(status)") }
                return .fail(Codes.startNotDone, "\(name) exited \(status)" + Self.log(p), summary: "\(name) exited \(status)")
            }
            if let expected = p.exitExpected {
                if expected { return .pass("\(name) exited with an expected status (event listener)") }
                return .fail(Codes.startNotDone, "\(name) exited with an unexpected status (event listener)",
                             summary: "\(name) exited with an unexpected status")
            }
            return .warn("EXITED; exit status unknown from \(source) output", summary: "\(name) EXITED, exit status unknown")
        case .starting, .running:
            var detail = "\(name) still running"
            var facts: [String] = []
            if p.pid > 0 { facts.append("pid \(p.pid)") }
            if p.startTime > 0 && p.now >= p.startTime { facts.append("up \(p.now - p.startTime)s") }
            if p.state == .starting { facts.append("STARTING") }
            if !facts.isEmpty { detail += " (\(facts.joined(separator: ", ")))" }
            return .fail(Codes.startNotDone, detail, summary: "\(name) is still running")
        case .backoff, .fatal:
            let why = p.spawnError.isEmpty ? p.description : p.spawnError
            return .fail(Codes.startNotDone, "\(name) is \(p.state.name)" + (why.isEmpty ? "" : ": \(why)") + Self.log(p),
                         summary: "\(name) is \(p.state.name)")
        case .stopped:
            let never = p.description == "Not started"
            return .fail(Codes.startNotDone, "\(name) is STOPPED " + (never ? "(never started)" : "before it finished"),
                         summary: "\(name) is STOPPED")
        case .stopping, .unknown:
            return .fail(Codes.startNotDone, "\(name) is \(p.state.name)", summary: "\(name) is \(p.state.name)")
        }
    }
}
