// Application state: `[state:UNIT]` checks the pid/error files of a unit, written by the
// `liveness` Python module or by `readiness-probe state`. Every unhealthy reason is code 5.
import ProbeState
import ProbeSupport

struct StateCheck: Check {
    var unit: String
    var rundir: String

    init(unit: String, rundir: String) {
        self.unit = unit
        self.rundir = rundir
    }

    static let kind = CheckKind(
        section: "state", resultKind: "app-state", order: 30, instance: .required,
        keys: ["rundir"],
        codes: [0, Codes.appStateBad],
        about: "an application's pid file names a live process and its error file holds exactly 0",
        make: { (input) throws(ConfigError) -> [CheckEntry] in
            try input.sections.map { (s) throws(ConfigError) -> CheckEntry in
                let unit = s.instance!.trimmingASCIIWhitespace()
                if let problem = AppStateStore.unitProblem(unit) {
                    throw ConfigError("invalid unit name \"\(unit)\": \(problem)", at: s.location)
                }
                var rundir = input.settings.rundir
                if let e = s.entry("rundir") {
                    guard e.value.hasPrefix("/") else { throw ConfigError("rundir must be an absolute path", at: e.location) }
                    rundir = e.value
                }
                let common = try CommonCheckOptions(s)
                return CheckEntry(name: "state:\(unit)", kind: "app-state", severity: common.severity, timeout: common.timeout,
                                  liveness: common.liveness, origin: s.location.description,
                                  check: StateCheck(unit: unit, rundir: rundir))
            }
        })

    func check(_ context: CheckContext) async -> CheckOutcome { verdict() }

    /// Two small file reads: answered when the run starts, no waiting.
    func work(_ settings: ProbeSettings) -> CheckWork { .answer(verdict()) }

    /// Reads the unit's state files now (no waiting: two small reads).
    func verdict() -> CheckOutcome {
        let store: AppStateStore
        do { store = try AppStateStore(unit: unit, rundir: rundir, environment: [:]) } catch {
            return .fail(Codes.appStateBad, error.description, summary: "invalid state unit")
        }
        let health = store.evaluate()
        if health.isHealthy { return .pass(health.detail) }
        return .fail(Codes.appStateBad, "\(unit): \(health.detail)", summary: "\(unit): \(health.reason.rawValue)")
    }
}
