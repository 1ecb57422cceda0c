// What the supervisor checks see: one snapshot of every process per run, fetched once
// (one XML-RPC round trip, or one `supervisorctl status`, or the listener's ledger) and
// shared by the start and programs checks.
import SupervisorKit

public struct SupervisorSnapshot: Sendable, Equatable {
    public var processes: [SupervisorProcess]
    /// `xmlrpc`, `supervisorctl` or `events`.
    public var source: String
    /// Groups that are event-listener pools (never critical by `*`).
    public var listenerGroups: Set<String>

    public init(processes: [SupervisorProcess], source: String, listenerGroups: Set<String> = []) {
        self.processes = processes
        self.source = source
        self.listenerGroups = listenerGroups
    }

    /// A process by `group:name`, or by name.
    public func find(_ name: String) -> SupervisorProcess? {
        processes.first { $0.namespec == name } ?? processes.first { $0.name == name }
    }
}

/// Why supervisord could not be asked (code 3), or why its answer cannot be trusted.
public struct SupervisorFailure: Error, Sendable, Equatable {
    public var code: Int32
    public var detail: String
    public var summary: String

    public init(code: Int32 = Codes.supervisorUnavailable, detail: String, summary: String) {
        self.code = code
        self.detail = detail
        self.summary = summary
    }

    public var outcome: CheckOutcome { .fail(code, detail, summary: summary) }
}

public enum SupervisorView {
    /// The run's snapshot: fetched by the first check that asks, shared by the rest.
    public static func snapshot(_ context: CheckContext) async -> Result<SupervisorSnapshot, SupervisorFailure> {
        await context.services.shared("supervisor.snapshot") {
            await fetch(context.settings, deadline: context.overallDeadline)
        }
    }

    static func fetch(_ settings: ProbeSettings, deadline: Deadline) async -> Result<SupervisorSnapshot, SupervisorFailure> {
        .failure(SupervisorFailure(detail: "not implemented", summary: "not implemented"))
    }
}
