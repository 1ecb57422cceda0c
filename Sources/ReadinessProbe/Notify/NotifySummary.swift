// The notify programs' state for `serve`: /readyz's JSON (`notify`) and /metrics
// (`readiness_probe_notify_*`). Taken from the listener's ledger after each background run
// (never on a request), for the programs `[programs] notify` names. docs/notify.md, docs/serve.md.
import ProbeSupport

struct NotifySummary: Sendable, Equatable {
    struct Program: Sendable, Equatable {
        var name: String
        var ready: Bool
        var readyAt: Double?
        var status: String?
        var watchdogAt: Double?
        var runningSince: Double?
        var detail: String
    }

    var socket: String?
    /// Why there is no notify state (no ledger, stale ledger, no socket), or nil.
    var error: String?
    var programs: [Program]
    /// When it was taken (epoch seconds).
    var at: Double

    /// nil when the configuration has no notify programs.
    static func take(settings: ProbeSettings, entries: [CheckEntry], now: Double = Platform.epochSeconds()) -> NotifySummary? {
        let check = WatchedPrograms.of(entries)
        if check.notify.isEmpty { return nil }
        var out = NotifySummary(socket: nil, error: nil, programs: [], at: now)
        let snapshot: SupervisorSnapshot
        switch LedgerSource.snapshot(settings, now: now) {
        case .failure(let f):
            out.error = f.detail
            return out
        case .success(let s): snapshot = s
        }
        out.socket = snapshot.notify?.socket
        out.error = snapshot.notify?.socketError
        for p in snapshot.processes where check.notify.contains(where: {
            $0.matches(name: p.name, group: p.group, namespec: p.namespec, startProgram: nil, isListenerGroup: { _ in false })
        }) {
            guard p.state == .running, let view = snapshot.notify?.programs[p.namespec] else {
                out.programs.append(Program(name: p.namespec, ready: false, readyAt: nil, status: nil, watchdogAt: nil,
                                            runningSince: nil, detail: "program \(p.namespec) is \(p.state.name)"))
                continue
            }
            let v = view.verdict(name: p.namespec, now: now, watchdog: check.watchdog(for: p))
            out.programs.append(Program(name: p.namespec, ready: v.ready && out.error == nil, readyAt: view.state?.readyAt,
                                        status: view.state?.status, watchdogAt: view.state?.watchdogAt,
                                        runningSince: view.runningSince, detail: v.detail))
        }
        return out
    }

    func json(now: Double = Platform.epochSeconds()) -> JSONValue {
        func num(_ d: Double?) -> JSONValue { d.map { .real(($0 * 1000).rounded() / 1000) } ?? .null }
        return .object([
            ("socket", socket.map { .string($0) } ?? .null), ("error", error.map { .string($0) } ?? .null),
            ("at", num(at)),
            ("programs", .array(programs.map { p in
                .object([("name", .string(p.name)), ("ready", .bool(p.ready)), ("ready_since", num(p.readyAt)),
                         ("status", p.status.map { .string($0) } ?? .null),
                         ("watchdog_age_seconds", num(p.watchdogAt.map { max(0, now - $0) })),
                         ("running_since", num(p.runningSince)), ("detail", .string(p.detail))])
            })),
        ])
    }
}
