// The plugin model: a one-method Sendable protocol, the entry the runner schedules,
// and the context a check runs in.

/// A readiness check. One method: look, and say what you saw. It must return by
/// `context.deadline`; the runner marks it code 9 if the overall deadline passes first.
public protocol Check: Sendable {
    func check(_ context: CheckContext) async -> CheckOutcome
    /// The supervisord processes this check reads through `SupervisorView.snapshot`, so that a
    /// run asks supervisord for only those (`.programs([])`: none). Optional: the default,
    /// `.everything`, is always correct.
    var supervisorQuery: SupervisorQuery { get }
}

/// A check built from a closure, for quick plugins and tests.
public struct ClosureCheck: Check {
    let body: @Sendable (CheckContext) async -> CheckOutcome
    public init(_ body: @escaping @Sendable (CheckContext) async -> CheckOutcome) { self.body = body }
    public func check(_ context: CheckContext) async -> CheckOutcome { await body(context) }
}

public enum Severity: String, Sendable {
    /// A failure fails the probe.
    case fail
    /// A failure is shown as `warn` and never fails the probe.
    case warn
}

/// A check as registered: its identity, table position and limits.
public struct CheckEntry: Sendable {
    public var name: String
    public var kind: String
    public var severity: Severity
    /// The check's own time limit; nil means only the overall deadline applies.
    public var timeout: Duration?
    /// Whether `serve`'s /livez includes it.
    public var liveness: Bool
    /// Where it was registered: `file:line`, a path, or `built-in default`.
    public var origin: String
    public var check: any Check

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

/// What a running check can see: its deadline, the settings, and services shared by
/// every check of one run (one supervisord round trip serves them all).
public final class CheckContext: Sendable {
    /// When this check must be done (its own timeout, capped by the overall deadline).
    public let deadline: Deadline
    /// The run's overall deadline.
    public let overallDeadline: Deadline
    public let settings: ProbeSettings
    public let services: RunServices
    /// The supervisord processes the run's checks read (the runner works it out from the entries).
    public let supervisorQuery: SupervisorQuery

    public init(deadline: Deadline, overallDeadline: Deadline, settings: ProbeSettings, services: RunServices,
                supervisorQuery: SupervisorQuery = .everything) {
        self.deadline = deadline
        self.overallDeadline = overallDeadline
        self.settings = settings
        self.services = services
        self.supervisorQuery = supervisorQuery
    }

    /// True when this check's own timeout (not the overall deadline) is what ran out.
    public var ownTimeoutIsEarlier: Bool { deadline < overallDeadline }
}
