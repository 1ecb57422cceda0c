// The plugin model: a Sendable protocol, the work a check describes, the entry the runner
// schedules, and the context a check runs in.
import ProbeSpawn
import ProbeSupport

/// A readiness check: look, and say what you saw.
///
/// A plugin implements `check(_:)` (and nothing else); it runs as a task, and must return by
/// `context.deadline`: the runner writes its row anyway when its own timeout (code 6) or the
/// overall deadline (code 9) passes first. The built-in kinds also describe their work as data
/// (`work(_:)`), so that the runner runs them on its own poll loop without tasks.
public protocol Check: Sendable {
    /// Runs the check once, on its own.
    func check(_ context: CheckContext) async -> CheckOutcome
    /// What running this check takes, for the runner. Optional: the default is
    /// `.task { await self.check($0) }`.
    func work(_ settings: ProbeSettings) -> CheckWork
    /// The supervisord processes this check reads (from `CheckWork.supervisor`, or
    /// `CheckContext.supervisorSnapshot()`), so that a run asks supervisord for only those
    /// (`.programs([])`: none). Optional: the default, `.everything`, is always correct.
    var supervisorQuery: SupervisorQuery { get }
    /// What this check says about supervisord's programs, for the commands that watch them
    /// instead of running the check (the event listener, `await`, `serve`'s notify summary):
    /// critical programs, the start rule, notify programs. Optional: the default watches nothing.
    var watchedPrograms: WatchedPrograms { get }
    /// What `validate` (and `checks`) should say about this check beyond its section's syntax:
    /// problems that make it fail on every run (errors: `validate` exits 8) and ones worth a
    /// warning. Called by those commands only, never by a run. Optional: the default finds nothing.
    func review(_ settings: ProbeSettings) -> CheckReview
}

extension Check {
    /// The default: run `check(_:)` as a task.
    public func work(_ settings: ProbeSettings) -> CheckWork { .task { await self.check($0) } }
    /// The default: the check watches no supervisord program.
    public var watchedPrograms: WatchedPrograms { .none }
    /// The default: nothing to say.
    public func review(_ settings: ProbeSettings) -> CheckReview { CheckReview() }
}

/// What `validate` says about one check beyond its config section's syntax (`Check.review`).
/// Each text follows "`origin`: KIND NAME ", e.g. `cannot run: /usr/bin/x does not exist`.
public struct CheckReview: Sendable, Equatable {
    /// Problems that make the check fail on every run: `validate` prints them and exits 8.
    public var errors: [String]
    /// Things worth knowing that do not make the configuration invalid.
    public var warnings: [String]

    /// A review with these errors and warnings (none: nothing to say).
    public init(errors: [String] = [], warnings: [String] = []) {
        self.errors = errors
        self.warnings = warnings
    }
}

/// How a check's work runs. The runner runs every kind of work of one run at once, on one poll
/// loop on one thread (Runner/Executor.swift); only `.task` work uses Swift tasks.
public enum CheckWork: Sendable {
    /// Known already (a state check's two file reads; a hook that cannot be started).
    case answer(CheckOutcome)
    /// One child process in its own process group, on the run's poll loop, killed (with its group)
    /// at its timeout or the overall deadline; `interpret` reads how it ended (exit status,
    /// signal, spawn failure). The runner writes the row of a process it killed.
    case process(ProcessSpec, interpret: @Sendable (ProcessOutcome) -> CheckOutcome)
    /// A verdict on the run's one supervisord snapshot (fetched once per run, or given).
    case supervisor(@Sendable (SupervisorResult) -> CheckOutcome)
    /// Any async work: a plugin's `check(_:)`.
    case task(@Sendable (CheckContext) async -> CheckOutcome)
}

/// A check built from a closure, for quick plugins and tests.
struct ClosureCheck: Check {
    let body: @Sendable (CheckContext) async -> CheckOutcome
    init(_ body: @escaping @Sendable (CheckContext) async -> CheckOutcome) { self.body = body }
    func check(_ context: CheckContext) async -> CheckOutcome { await body(context) }
}

/// Whether a failing check fails the probe (`severity = fail | warn` in its section).
public enum Severity: String, Sendable {
    /// A failure fails the probe.
    case fail
    /// A failure is shown as `warn` and never fails the probe.
    case warn
}

/// A check as registered: its identity, table position and limits.
public struct CheckEntry: Sendable {
    /// The check's name: unique in a run; the `CHECK` column and `--only`/`--exclude` use it.
    public var name: String
    /// The `KIND` column (the kind's `resultKind`).
    public var kind: String
    /// `fail` (default) or `warn` (a failure shows as `warn` and never fails the probe).
    public var severity: Severity
    /// The check's own time limit; nil means only the overall deadline applies.
    public var timeout: Duration?
    /// Whether `serve`'s /livez includes it.
    public var liveness: Bool
    /// Where it was registered: `file:line`, a path, or `built-in default`.
    public var origin: String
    /// What runs.
    public var check: any Check
    /// `failure_threshold` / `success_threshold` of its section (Runner/Thresholds.swift): set by
    /// the registry for every entry whose origin is a section; used by serve, listen and wait.
    var thresholds = CheckThresholds.none

    /// An entry; `origin` says where it was registered (`file:line`, a path, `built-in default`).
    public init(name: String, kind: String, severity: Severity = .fail, timeout: Duration? = nil,
                liveness: Bool = false, origin: String, check: any Check) {
        self.name = name
        self.kind = kind
        self.severity = severity
        self.timeout = timeout
        self.liveness = liveness
        self.origin = origin
        self.check = check
    }
}

/// What a running check can see: its deadline, the settings, the run's supervisord snapshot,
/// and services shared by every check of one run.
public final class CheckContext: Sendable {
    /// When this check must be done (its own timeout, capped by the overall deadline).
    public let deadline: Deadline
    /// The run's overall deadline.
    public let overallDeadline: Deadline
    /// The run's settings.
    public let settings: ProbeSettings
    /// Work shared by the checks of one run (`shared(_:_:)`).
    public let services: RunServices
    /// The supervisord processes the run's checks read (the runner works it out from the entries).
    public let supervisorQuery: SupervisorQuery
    /// The run's one supervisord fetch.
    let supervisor: SupervisorFetch

    /// A context for running a check on its own (tests, a check that runs another): the
    /// snapshot, when asked for, is fetched from the configured supervisord source.
    public init(deadline: Deadline, overallDeadline: Deadline, settings: ProbeSettings, services: RunServices = RunServices(),
                supervisorQuery: SupervisorQuery = .everything) {
        self.deadline = deadline
        self.overallDeadline = overallDeadline
        self.settings = settings
        self.services = services
        self.supervisorQuery = supervisorQuery
        supervisor = SupervisorFetch(.fetch, settings: settings, deadline: RunPlan.fetchDeadline(overallDeadline),
                                     query: supervisorQuery)
    }

    init(deadline: Deadline, overallDeadline: Deadline, settings: ProbeSettings, services: RunServices,
         supervisorQuery: SupervisorQuery, supervisor: SupervisorFetch) {
        self.deadline = deadline
        self.overallDeadline = overallDeadline
        self.settings = settings
        self.services = services
        self.supervisorQuery = supervisorQuery
        self.supervisor = supervisor
    }

    /// The run's supervisord snapshot: fetched once per run (by the first check that asks),
    /// or the one the caller gave the run.
    public func supervisorSnapshot() async -> SupervisorResult { await supervisor.value() }

    /// True when this check's own timeout (not the overall deadline) is what ran out.
    public var ownTimeoutIsEarlier: Bool { deadline < overallDeadline }
}
