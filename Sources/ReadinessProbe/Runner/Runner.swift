// The runner: every check concurrently, each under its own timeout, all under one
// overall deadline. A check that has not answered when its time is up gets a row
// anyway (code 6 for its own timeout, 9 for the overall deadline), so the table is
// always complete and the probe never waits past the deadline.
import ProbeSpawn
import Synchronization

public enum ProbeRunner {
    public static func run(_ entries: [CheckEntry], settings: ProbeSettings, timeout: Duration? = nil,
                           services: RunServices = RunServices()) async -> ProbeReport {
        let start = ContinuousClock.now
        let overallLimit = timeout ?? settings.timeout
        let overall = Deadline(start + overallLimit)
        let collector = Collector(count: entries.count)
        let query = SupervisorQuery.needed(by: entries)

        // Cancelling the calling task ends the run early: every check task is cancelled (hooks are
        // killed), and whatever has not answered 200 ms later gets the code-9 row.
        await withTaskCancellationHandler {
        await withCheckedContinuation { (cont: CheckedContinuation<Void, Never>) in
            collector.begin(cont)
            var timers: [Task<Void, Never>] = []
            for (index, entry) in entries.enumerated() {
                let own = entry.timeout.map { Deadline(start + $0) }
                let deadline = overall.earlier(own)
                let context = CheckContext(deadline: deadline, overallDeadline: overall, settings: settings, services: services,
                                           supervisorQuery: query)
                collector.track(Task {
                    let began = ContinuousClock.now
                    let outcome = await entry.check.check(context)
                    let ms = (ContinuousClock.now - began).millisecondsDouble
                    collector.finish(index, result(entry, outcome, durationMs: ms))
                })
                if let own, own < overall {
                    timers.append(Task {
                        try? await Task.sleep(until: own.instant, clock: .continuous)
                        if Task.isCancelled { return }
                        let limit = DurationText.format(entry.timeout ?? .zero)
                        let ms = (ContinuousClock.now - start).millisecondsDouble
                        collector.finish(index, result(entry, .fail(Codes.hookTimedOut, "did not answer within its timeout (\(limit))",
                                                                     summary: "timed out"), durationMs: ms))
                    })
                }
            }
            timers.append(Task {
                try? await Task.sleep(until: overall.instant, clock: .continuous)
                if Task.isCancelled { return }
                collector.expire()
            })
            let allTimers = timers
            collector.onDone { for t in allTimers { t.cancel() } }
            if Task.isCancelled { collector.cancelAll() }
        }
        } onCancel: {
            collector.cancelAll()
        }

        let elapsed = (ContinuousClock.now - start).millisecondsDouble
        let limitText = DurationText.format(overallLimit)
        let rows = collector.results().enumerated().map { (i, r) -> CheckResult in
            r ?? CheckResult(name: entries[i].name, kind: entries[i].kind, status: .fail, code: Codes.deadlineExceeded,
                             detail: "did not finish before the overall deadline (\(limitText))",
                             summary: "did not finish before the overall deadline", durationMs: elapsed)
        }
        return ProbeReport.aggregate(rows, durationMs: elapsed)
    }

    static func result(_ entry: CheckEntry, _ outcome: CheckOutcome, durationMs: Double) -> CheckResult {
        var status = outcome.status
        if status == .fail && entry.severity == .warn { status = .warn }
        var code = outcome.code
        if outcome.status == .fail && code == 0 { code = Codes.hookFailed }
        return CheckResult(name: entry.name, kind: entry.kind, status: status, code: code, detail: outcome.detail,
                           summary: outcome.summary, durationMs: durationMs)
    }

    /// Synchronous entry point for command-line use. A run made only of the built-in kinds
    /// (hooks, start, programs, state) runs inline, without tasks (`InlineRun`): same rows, codes
    /// and deadlines, without the start-up of the task machinery that dominates a one-shot probe.
    public static func runBlocking(_ entries: [CheckEntry], settings: ProbeSettings, timeout: Duration? = nil) -> ProbeReport {
        if let steps = InlineRun.plan(entries) {
            return InlineRun.run(entries, steps, settings: settings, timeout: timeout)
        }
        return Blocking.await { await run(entries, settings: settings, timeout: timeout) }
    }
}

/// Collects results; resumes the waiting runner once, when all are in or the deadline passed.
final class Collector: Sendable {
    private struct State {
        var results: [CheckResult?]
        var remaining: Int
        var continuation: CheckedContinuation<Void, Never>?
        var done = false
        var onDone: (@Sendable () -> Void)?
        var tasks: [Task<Void, Never>] = []
        var cancelled = false
    }
    private let state: Mutex<State>

    init(count: Int) { state = Mutex(State(results: Array(repeating: nil, count: count), remaining: count)) }

    func begin(_ c: CheckedContinuation<Void, Never>) {
        let resume = state.withLock { s -> Bool in
            s.continuation = c
            if s.remaining == 0 { s.done = true; return true }
            return false
        }
        if resume { c.resume() }
    }

    func onDone(_ f: @escaping @Sendable () -> Void) {
        let runNow = state.withLock { s -> Bool in
            if s.done { return true }
            s.onDone = f
            return false
        }
        if runNow { f() }
    }

    func finish(_ index: Int, _ result: CheckResult) {
        let (c, hook) = state.withLock { s -> (CheckedContinuation<Void, Never>?, (@Sendable () -> Void)?) in
            guard !s.done, s.results[index] == nil else { return (nil, nil) }
            s.results[index] = result
            s.remaining -= 1
            guard s.remaining == 0 else { return (nil, nil) }
            s.done = true
            defer { s.continuation = nil; s.onDone = nil }
            return (s.continuation, s.onDone)
        }
        hook?()
        c?.resume()
    }

    func expire() {
        let c = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard !s.done else { return nil }
            s.done = true
            defer { s.continuation = nil; s.onDone = nil }
            return s.continuation
        }
        c?.resume()
    }

    func results() -> [CheckResult?] { state.withLock { $0.results } }

    func track(_ task: Task<Void, Never>) {
        let cancelNow = state.withLock { s -> Bool in
            s.tasks.append(task)
            return s.cancelled
        }
        if cancelNow { task.cancel() }
    }

    /// Cancels every check task (once), then expires the run after a short grace.
    func cancelAll() {
        let tasks = state.withLock { s -> [Task<Void, Never>]? in
            if s.cancelled { return nil }
            s.cancelled = true
            return s.tasks
        }
        guard let tasks else { return }
        for t in tasks { t.cancel() }
        Task {
            try? await Task.sleep(for: .milliseconds(200))
            self.expire()
        }
    }
}
