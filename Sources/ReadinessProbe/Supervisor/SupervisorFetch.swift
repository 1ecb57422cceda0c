// A run's one supervisord fetch: started by the run when a check's work needs the snapshot (or by
// the first plugin that asks), on one plain thread, under the plan's fetch deadline. Whoever waits
// is told when it is done: the executor through its wake pipe, a plugin task by resuming it.
import ProbeSpawn
import ProbeSupport
import Synchronization

final class SupervisorFetch: Sendable {
    private struct State {
        var result: SupervisorResult?
        var finishedAt: ContinuousClock.Instant?
        var started = false
        /// Plugin tasks waiting (their continuations, as closures: docs/architecture.md, "The probe path").
        var waiters: [@Sendable (SupervisorResult) -> Void] = []
        var wakes: [WakePipe] = []
    }

    private let state: Mutex<State>
    let settings: ProbeSettings
    let deadline: Deadline
    let query: SupervisorQuery

    init(_ input: SupervisorInput, settings: ProbeSettings, deadline: Deadline, query: SupervisorQuery) {
        self.settings = settings
        self.deadline = deadline
        self.query = query
        switch input {
        case .fetch: state = Mutex(State())
        case .given(let r): state = Mutex(State(result: r, finishedAt: .now, started: true))
        }
    }

    /// Calls `body` with the result and when it came, if it has.
    func ifFinished(_ body: (SupervisorResult, ContinuousClock.Instant) -> Void) {
        var result: SupervisorResult?
        var at = ContinuousClock.now
        state.withLock { s in
            result = s.result
            if let f = s.finishedAt { at = f }
        }
        if let result { body(result, at) }
    }

    /// Starts the fetch unless it has started (or was given). The listener's ledger (`source =
    /// events`) is a local file: read on this thread; anything else on a thread of its own.
    func start() {
        let first = state.withLock { s -> Bool in
            defer { s.started = true }
            return !s.started
        }
        guard first else { return }
        let (settings, deadline, query) = (self.settings, self.deadline, self.query)
        if settings.supervisor.source == .events {
            complete(SupervisorView.fetchBlocking(settings, deadline: deadline, query: query))
            return
        }
        PlainThread.detach { [self] in complete(SupervisorView.fetchBlocking(settings, deadline: deadline, query: query)) }
    }

    /// `wake` is woken when the result comes (at once if it has).
    func notify(_ wake: WakePipe) {
        let now = state.withLock { s -> Bool in
            if s.result != nil { return true }
            s.wakes.append(wake)
            return false
        }
        if now { wake.wake() }
    }

    /// Starts the fetch if needed and waits for it.
    func value() async -> SupervisorResult {
        start()
        return await withCheckedContinuation { (c: CheckedContinuation<SupervisorResult, Never>) in
            let r = state.withLock { s -> SupervisorResult? in
                if let r = s.result { return r }
                s.waiters.append { c.resume(returning: $0) }
                return nil
            }
            if let r { c.resume(returning: r) }
        }
    }

    private func complete(_ r: SupervisorResult) {
        let (waiters, wakes) = state.withLock { s -> ([@Sendable (SupervisorResult) -> Void], [WakePipe]) in
            s.result = r
            s.finishedAt = .now
            defer { s.waiters = []; s.wakes = [] }
            return (s.waiters, s.wakes)
        }
        for w in wakes { w.wake() }
        for resume in waiters { resume(r) }
    }
}
