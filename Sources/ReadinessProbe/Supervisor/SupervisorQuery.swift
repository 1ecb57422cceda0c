// What a run's checks need to know from supervisord, so that XML-RPC can ask for only that.
// supervisord spends about 0.5 ms per process building getAllProcessInfo; when the checks name
// two or three programs, one system.multicall of getProcessInfo answers in a fraction of it.
import ProbeSupport

/// The processes a run's checks look at.
public enum SupervisorQuery: Sendable, Equatable {
    /// Every process (`getAllProcessInfo`): `*`, `group:` selectors, or a check that does not say.
    case everything
    /// Only these processes, each a plain name (no `:`, no `*`); empty: no supervisor check.
    case programs([String])

    /// A plain name can be asked for on its own; anything else needs the whole list.
    public static func program(_ name: String) -> SupervisorQuery {
        isPlainName(name) ? .programs([name]) : .everything
    }

    static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && !name.contains(":") && !name.contains("*")
    }

    /// Both queries' processes (names in first-seen order, without repeats).
    public func union(_ other: SupervisorQuery) -> SupervisorQuery {
        guard case .programs(let a) = self, case .programs(let b) = other else { return .everything }
        var names = a
        for n in b where !names.contains(n) { names.append(n) }
        return .programs(names)
    }

    /// What `entries` need together (each check's `supervisorQuery`; a check that does not
    /// say needs everything).
    static func needed(by entries: [CheckEntry]) -> SupervisorQuery {
        var q = SupervisorQuery.programs([])
        for e in entries {
            q = q.union(e.check.supervisorQuery)
            if q == .everything { return q }
        }
        return q
    }
}

extension Check {
    /// By default a check may read the snapshot in any way, so it is given every process.
    public var supervisorQuery: SupervisorQuery { .everything }
}

extension StartCheck {
    var supervisorQuery: SupervisorQuery { .program(program) }
}

extension ProgramsCheck {
    var supervisorQuery: SupervisorQuery {
        var q = SupervisorQuery.programs([])
        for sel in selectors {
            guard case .program(let n) = sel else { return .everything }
            q = q.union(.program(n))
        }
        return q
    }
}

extension HookCheck {
    var supervisorQuery: SupervisorQuery { .programs([]) }
}

extension StateCheck {
    var supervisorQuery: SupervisorQuery { .programs([]) }
}
