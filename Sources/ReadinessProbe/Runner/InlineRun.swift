// The one-shot probe's fast path: a run made only of the built-in kinds (hooks, the start and
// programs checks, state checks) runs without Swift tasks. The hooks run on one poll loop on the
// calling thread; the one supervisord fetch, when a check needs it, runs at the same time on one
// plain thread; state files are read in between. Rows, codes and deadlines are the async
// runner's (a test runs the same entries both ways); what it saves is the start-up of the task
// machinery's threads and timers, most of a one-shot run's own cost (docs/benchmarks.md).
// A run with any other check (a plugin's) goes to `ProbeRunner.run`.
import ProbeSpawn
@preconcurrency import Glibc
import CShim
import Synchronization

enum InlineRun {
    /// How each entry runs inline. Casts to concrete types only: a cast from an existential to a
    /// concrete type compares type metadata, where a protocol cast would scan the runtime's
    /// conformance tables (about 100k instructions each in a one-shot probe).
    enum Step {
        case hook(HookCheck)
        case start(StartCheck)
        case programs(ProgramsCheck)
        case state(StateCheck)

        var readsSupervisor: Bool {
            switch self {
            case .start, .programs: return true
            case .hook, .state: return false
            }
        }
    }

    /// The steps, or nil when some entry is not a built-in kind (or there are none).
    static func plan(_ entries: [CheckEntry]) -> [Step]? {
        if entries.isEmpty { return nil }
        var steps: [Step] = []
        steps.reserveCapacity(entries.count)
        for entry in entries {
            switch entry.check {
            case let c as HookCheck: steps.append(.hook(c))
            case let c as StartCheck: steps.append(.start(c))
            case let c as ProgramsCheck: steps.append(.programs(c))
            case let c as StateCheck: steps.append(.state(c))
            default: return nil
            }
        }
        return steps
    }

    static func run(_ entries: [CheckEntry], _ steps: [Step], settings: ProbeSettings, timeout: Duration?) -> ProbeReport {
        let start = ContinuousClock.now
        let overallLimit = timeout ?? settings.timeout
        let overall = Deadline(start + overallLimit)
        func elapsedMs() -> Double { (ContinuousClock.now - start).millisecondsDouble }
        var rows = [CheckResult?](repeating: nil, count: entries.count)

        // 1. The supervisord fetch, on its own thread, while the hooks run here.
        let fetch = steps.contains(where: \.readsSupervisor) ? PendingFetch(settings: settings, deadline: SupervisorView.fetchDeadline(overall),
                                                   query: SupervisorQuery.needed(by: entries)) : nil

        // 2. State checks (two small file reads each) and the hooks' plans.
        var specs: [ProcessSpec] = []
        var slots: [(index: Int, timeout: Duration)] = []
        for (index, step) in steps.enumerated() {
            switch step {
            case .state(let c):
                rows[index] = ProbeRunner.result(entries[index], c.verdict(), durationMs: elapsedMs())
            case .hook(let c):
                switch c.plan(settings) {
                case .answer(let outcome):
                    rows[index] = ProbeRunner.result(entries[index], outcome, durationMs: elapsedMs())
                case .run(var spec):
                    // The entry's own timeout caps the hook's, as the async runner's timer does.
                    if let own = entries[index].timeout, own < spec.timeout { spec.timeout = own }
                    specs.append(spec)
                    slots.append((index, spec.timeout))
                }
            case .start, .programs:
                break
            }
        }

        // 3. Every hook at once on one poll loop on this thread; each is killed at its own
        // timeout (code 6) or the overall deadline (code 9).
        if !specs.isEmpty {
            let outcomes = ProcessRunner.shared.runAll(specs, deadline: overall)
            for (slot, outcome) in zip(slots, outcomes) {
                rows[slot.index] = ProbeRunner.result(entries[slot.index], HookCheck.interpret(outcome, timeout: slot.timeout),
                                                      durationMs: outcome.duration.millisecondsDouble)
            }
        }

        // 4. The supervisor checks: their verdicts on the fetch, unless their own timeout or the
        // overall deadline passed first (the async runner's code 6 and code 9 rows).
        if let fetch {
            var waitUntil = start
            for (index, step) in steps.enumerated() where step.readsSupervisor {
                let own = entries[index].timeout.map { Deadline(start + $0) }
                waitUntil = max(waitUntil, overall.earlier(own).instant)
            }
            let fetched = fetch.wait(until: Deadline(waitUntil))
            let fetchedMs = fetch.finishedMs(since: start) ?? elapsedMs()
            for (index, step) in steps.enumerated() {
                let outcome: CheckOutcome?
                switch step {
                case .start(let c): outcome = fetched.map { c.verdict($0) }
                case .programs(let c): outcome = fetched.map { c.verdict($0, settings: settings) }
                default: continue
                }
                // The async runner arms a check's own timer only when it ends before the overall deadline.
                let own = entries[index].timeout.flatMap { $0 < overallLimit ? $0 : nil }
                if let outcome, own.map({ fetchedMs <= $0.millisecondsDouble }) ?? true {
                    rows[index] = ProbeRunner.result(entries[index], outcome, durationMs: fetchedMs)
                } else if let own {
                    rows[index] = ProbeRunner.result(entries[index], .fail(Codes.hookTimedOut,
                        "did not answer within its timeout (\(DurationText.format(own)))", summary: "timed out"),
                        durationMs: own.millisecondsDouble)
                }
            }
        }

        let total = elapsedMs()
        let limitText = DurationText.format(overallLimit)
        let final = rows.enumerated().map { (i, r) -> CheckResult in
            r ?? CheckResult(name: entries[i].name, kind: entries[i].kind, status: .fail, code: Codes.deadlineExceeded,
                             detail: "did not finish before the overall deadline (\(limitText))",
                             summary: "did not finish before the overall deadline", durationMs: total)
        }
        return ProbeReport.aggregate(final, durationMs: total)
    }
}

/// One supervisord fetch on a plain thread. The waiting side polls a pipe the thread writes one
/// byte to when it is done; both ends close when the last of the two lets go of the box, so the
/// thread never writes into a closed pipe, even when the waiter gave up first.
final class PendingFetch: Sendable {
    private struct State {
        var result: Result<SupervisorSnapshot, SupervisorFailure>?
        var finished: ContinuousClock.Instant?
    }

    private let state = Mutex(State())
    private let readFD: Int32
    private let writeFD: Int32

    init(settings: ProbeSettings, deadline: Deadline, query: SupervisorQuery) {
        var fds: [Int32] = [-1, -1]
        if cshim_pipe_cloexec(&fds, 1) != 0 { fds = [-1, -1] }
        readFD = fds[0]
        writeFD = fds[1]
        Thread.detach { [self] in
            let r = SupervisorView.fetchBlocking(settings, deadline: deadline, query: query)
            state.withLock { s in
                s.result = r
                s.finished = .now
            }
            var byte: UInt8 = 1
            _ = Glibc.write(writeFD, &byte, 1)
        }
    }

    deinit {
        if readFD >= 0 { close(readFD) }
        if writeFD >= 0 { close(writeFD) }
    }

    /// The result, or nil if it has not come by `deadline`.
    func wait(until deadline: Deadline) -> Result<SupervisorSnapshot, SupervisorFailure>? {
        while true {
            if let r = state.withLock({ $0.result }) { return r }
            if deadline.hasPassed { return nil }
            if readFD < 0 {
                // No pipe (out of descriptors): look again shortly.
                usleep(1000)
                continue
            }
            var p = pollfd(fd: readFD, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, deadline.pollTimeout)
        }
    }

    func finishedMs(since start: ContinuousClock.Instant) -> Double? {
        state.withLock { $0.finished }.map { ($0 - start).millisecondsDouble }
    }
}
