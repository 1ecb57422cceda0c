// The one executor: every check of a run at once, on one poll loop on the calling thread.
// Processes run on the loop; the supervisord fetch runs on one plain thread and plugin checks as
// tasks, and both wake the loop through its wake pipe when they are done; a stop (cancellation,
// or a signal `run` watches) is one more wake. The poll timeout is the plan's next deadline. What
// each row then says is the plan's (RunPlan.swift).
import ProbeSpawn
import CShim
import ProbeSupport
@preconcurrency import Glibc
import Synchronization

/// Stops a run from another thread, or on a signal. One per run.
final class RunControl: Sendable {
    let wake = WakePipe()
    /// 0 running, -1 stopped, > 0 stopped by that signal.
    private let stopState = Atomic<Int32>(0)
    /// A signalfd for the signals that stop the run (-1: none).
    let signalFD: Int32

    /// A control for cancellation only.
    init() { signalFD = -1 }

    /// Also stops the run on any of `signals` (e.g. SIGTERM, SIGINT, SIGHUP for `run`): blocks
    /// them in the calling thread (call it before starting other threads) and watches a signalfd.
    init(stopOn signals: [Int32]) {
        signalFD = signals.withUnsafeBufferPointer { cshim_signalfd_block($0.baseAddress, Int32($0.count)) }
    }

    deinit { if signalFD >= 0 { close(signalFD) } }

    /// Stops the run: its processes are killed (with their groups) and reaped, its tasks are
    /// cancelled, and every unfinished row is code 9. Safe from any thread, any number of times.
    func stop() {
        _ = stopState.compareExchange(expected: 0, desired: -1, ordering: .sequentiallyConsistent)
        wake.wake()
    }

    var isStopped: Bool { stopState.load(ordering: .sequentiallyConsistent) != 0 }

    /// The signal that stopped the run, if one did.
    var signal: Int32? {
        let s = stopState.load(ordering: .sequentiallyConsistent)
        return s > 0 ? s : nil
    }

    /// After a wake: takes pending signals (the first one stops the run).
    func takeSignals() {
        guard signalFD >= 0 else { return }
        while true {
            let s = cshim_signalfd_take(signalFD)
            if s <= 0 { return }
            _ = stopState.compareExchange(expected: 0, desired: s, ordering: .sequentiallyConsistent)
        }
    }
}

/// Results of plugin tasks, handed to the executor's thread (made only when a run has a task).
private final class TaskInbox: Sendable {
    struct Arrived {
        var index: Int
        var outcome: CheckOutcome
        var at: ContinuousClock.Instant
    }
    private let items = Mutex<[Arrived]>([])
    func put(_ index: Int, _ outcome: CheckOutcome) { items.withLock { $0.append(Arrived(index: index, outcome: outcome, at: .now)) } }
    func take() -> [Arrived] {
        items.withLock { i in
            defer { i = [] }
            return i
        }
    }
}

/// Where a run's supervisord snapshot comes from: the caller's choice, or a fetch already under
/// way (a built-in check's `check(_:)` runs with its context's).
enum SnapshotSource {
    case input(SupervisorInput)
    case shared(SupervisorFetch)
}

enum Executor {
    /// A check still waiting: for the snapshot (`verdict`), or for its task (`cancel`). One array
    /// of one plain struct: docs/architecture.md, "The probe path".
    private struct Waiting {
        var index: Int
        var verdict: (@Sendable (SupervisorResult) -> CheckOutcome)?
        var cancel: (@Sendable () -> Void)?
    }

    static func run(_ entries: [CheckEntry], plan: RunPlan, settings: ProbeSettings, supervisor source: SnapshotSource,
                    services: RunServices?, control: RunControl) -> ProbeReport {
        var rows = [CheckResult?](repeating: nil, count: entries.count)
        var waiting: [Waiting] = []
        var inbox: TaskInbox?
        let loop = SpawnLoop()
        let wake = control.wake
        // Made when first needed: a run of hooks and state checks needs neither.
        var fetch: SupervisorFetch?
        func theFetch() -> SupervisorFetch {
            if let fetch { return fetch }
            let made: SupervisorFetch
            switch source {
            case .shared(let f): made = f
            case .input(let input):
                made = SupervisorFetch(input, settings: settings, deadline: plan.fetchDeadline, query: plan.supervisorQuery)
            }
            fetch = made
            return made
        }
        var sharedServices = services
        var fetchStarted = false
        // The supervisord call when it runs on this loop (SupervisorFetch.startInline).
        var inline: InlineFetch?

        for (i, entry) in entries.enumerated() {
            switch entry.check.work(settings) {
            case .answer(let outcome):
                rows[i] = plan.answered(i, outcome, at: .now)
            case .process(var spec, let interpret):
                if let own = plan.slots[i].ownTimeout, own < spec.timeout { spec.timeout = own }
                let limit = spec.timeout
                loop.start(id: i, spec, deadline: plan.overall) { outcome in
                    rows[i] = plan.process(i, outcome, limit: limit, stopped: control.isStopped, interpret: interpret, at: .now)
                }
            case .supervisor(let verdict):
                waiting.append(Waiting(index: i, verdict: verdict, cancel: nil))
                // The one round trip starts here, before the hooks after this entry are spawned:
                // supervisord's answer is a run's long pole (docs/benchmarks.md, section 14).
                if !fetchStarted {
                    fetchStarted = true
                    // On this loop, the reply is read here and needs no wake; from a thread, it does.
                    inline = theFetch().startInline()
                    if inline == nil { theFetch().notify(wake) }
                }
            case .task(let body):
                let box = inbox ?? TaskInbox()
                inbox = box
                let shared = sharedServices ?? RunServices()
                sharedServices = shared
                let context = CheckContext(deadline: plan.slots[i].deadline, overallDeadline: plan.overall, settings: settings,
                                           services: shared, supervisorQuery: plan.supervisorQuery, supervisor: theFetch())
                let task = Task.detached {
                    let outcome = await body(context)
                    box.put(i, outcome)
                    wake.wake()
                }
                waiting.append(Waiting(index: i, verdict: nil, cancel: { task.cancel() }))
            }
        }

        var stopping = false
        while true {
            // What came in: the supervisord reply, the snapshot, task results (each judged by when it came).
            if let call = inline, call.pump() {
                inline = nil
                // Finished here (read just below), or handed to a thread (the multicall's
                // getAllProcessInfo fallback, auto's supervisorctl): then the wake pipe says when.
                fetch?.notifyIfPending(wake)
            }
            if let fetch { verdicts(fetch, waiting, &rows, plan) }
            if let inbox {
                for item in inbox.take() where rows[item.index] == nil {
                    rows[item.index] = plan.arrived(item.index, item.outcome, at: item.at)
                }
            }
            // Own timers of the checks still waiting (processes have theirs on the loop).
            let now = ContinuousClock.now
            var next = plan.overall.instant
            for w in waiting where rows[w.index] == nil {
                let slot = plan.slots[w.index]
                guard slot.ownTimerCounts else { continue }
                if now >= slot.deadline.instant {
                    rows[w.index] = plan.timedOut(w.index, at: now)
                } else {
                    next = min(next, slot.deadline.instant)
                }
            }
            for w in waiting where rows[w.index] != nil { w.cancel?() }
            waiting.removeAll { rows[$0.index] != nil }

            if control.isStopped && !stopping {
                stopping = true
                for i in rows.indices where rows[i] == nil { loop.cancel(id: i) }
            }
            if loop.isEmpty && (waiting.isEmpty || stopping || now >= plan.overall.instant) { break }

            // Wait for a child, a wake, a signal or the next deadline. Past the overall deadline
            // (or stopping) only the children are left: the loop kills and reaps them.
            var until: ContinuousClock.Instant? = (stopping || now >= plan.overall.instant) ? nil : next
            if wake.readFD < 0, let u = until { until = min(u, now + .milliseconds(5)) }
            if let call = inline, let u = until { until = min(u, call.deadline.instant) }
            if loop.step(wakeFDs: [wake.readFD, control.signalFD, inline?.fd ?? -1], until: until) {
                wake.drain()
                control.takeSignals()
            }
        }
        for w in waiting { w.cancel?() }
        inline?.abandon()
        return plan.report(rows, stopped: control.isStopped, at: .now)
    }

    /// The rows of the checks waiting for the snapshot, once it has come. Not inlined: a run
    /// without supervisor checks never touches the snapshot's types (docs/architecture.md,
    /// "The probe path").
    @inline(never)
    private static func verdicts(_ fetch: SupervisorFetch, _ waiting: [Waiting], _ rows: inout [CheckResult?], _ plan: RunPlan) {
        fetch.ifFinished { result, at in
            for w in waiting where rows[w.index] == nil {
                if let verdict = w.verdict { rows[w.index] = plan.arrived(w.index, verdict(result), at: at) }
            }
        }
    }
}
