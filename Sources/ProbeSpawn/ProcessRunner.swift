@preconcurrency import Glibc
import CShim
import ProbeSupport
import Synchronization

/// Runs children concurrently on ONE poll loop on ONE dedicated thread, for callers in Swift
/// concurrency. Callers submit requests through a Mutex-protected queue and a self-pipe that
/// wakes the loop; each `run` call suspends on a continuation that the loop resumes when its
/// child is done.
public final class ProcessRunner: Sendable {
    /// The process-wide runner. Its loop thread starts on the first `run`.
    public static let shared = ProcessRunner()

    private struct Request: Sendable {
        var id: Int
        var spec: ProcessSpec
        var deadline: Deadline
        var continuation: CheckedContinuation<ProcessOutcome, Never>
    }

    private struct Queue: Sendable {
        var nextID = 1
        var pending: [Request] = []
        var cancelled: Set<Int> = []
        var threadStarted = false
        /// Set when the loop thread could not be created: requests fail with this errno.
        var threadError: Int32?
    }

    private let queue = Mutex(Queue())
    /// Wakes the loop thread.
    private let wakePipe = WakePipe()

    private init() {}

    /// Runs `spec` and returns how it ended. The child is SIGKILLed (with its whole process group)
    /// at `min(start + spec.timeout, deadline)`. Cancelling the calling task kills it too
    /// (reported as `.deadlineExceeded`). Never throws: failures are `.spawnFailed`.
    public func run(_ spec: ProcessSpec, deadline: Deadline) async -> ProcessOutcome {
        let id = queue.withLock { q -> Int in
            defer { q.nextID += 1 }
            return q.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<ProcessOutcome, Never>) in
                submit(Request(id: id, spec: spec, deadline: deadline, continuation: continuation))
            }
        } onCancel: {
            queue.withLock { q in _ = q.cancelled.insert(id) }
            wake()
        }
    }

    /// Kills and reaps what hooks left behind (see `Reaper.killOrphans`): call before a
    /// one-shot command exits, so that no process outlives the probe. Returns the count.
    @discardableResult
    public func killOrphans() -> Int { Reaper.killOrphans() }

    /// Runs every spec concurrently on one poll loop on the calling thread and returns the
    /// outcomes in the order of `specs`. Same semantics as `run`.
    public func runAll(_ specs: [ProcessSpec], deadline: Deadline) -> [ProcessOutcome] {
        let loop = SpawnLoop()
        var results = [ProcessOutcome?](repeating: nil, count: specs.count)
        for (i, spec) in specs.enumerated() {
            loop.start(id: i, spec, deadline: deadline) { results[i] = $0 }
        }
        loop.runToCompletion()
        return results.map { $0 ?? ProcessOutcome(termination: .exited(-1)) }
    }

    // MARK: the loop thread

    private func submit(_ request: Request) {
        enum Action { case queued, startThread, failed(Int32), cancelled }
        let action = queue.withLock { q -> Action in
            // Checked under the lock: a cancellation after this point finds the request queued.
            if Task.isCancelled { return .cancelled }
            if let e = q.threadError { return .failed(e) }
            q.pending.append(request)
            if q.threadStarted { return .queued }
            q.threadStarted = true
            return .startThread
        }
        switch action {
        case .queued: wake()
        case .cancelled: request.continuation.resume(returning: ProcessOutcome(termination: .deadlineExceeded))
        case .failed(let e): request.continuation.resume(returning: Self.loopFailure(e))
        case .startThread:
            if wakePipe.readFD < 0 {
                failAll(errno: EMFILE)
            } else if let e = startLoopThread() {
                failAll(errno: e)
            }
        }
    }

    private static func loopFailure(_ e: Int32) -> ProcessOutcome {
        ProcessOutcome(termination: .spawnFailed(
            errno: e, message: "cannot start the process loop thread: \(Platform.describe(errno: e))"))
    }

    private func failAll(errno e: Int32) {
        let failed = queue.withLock { q -> [Request] in
            q.threadError = e
            defer { q.pending.removeAll() }
            return q.pending
        }
        for r in failed { r.continuation.resume(returning: Self.loopFailure(e)) }
    }

    private func wake() { wakePipe.wake() }

    /// Creates the detached loop thread (from this nonisolated library function: a pthread closure
    /// written in main.swift would be inferred @MainActor). Returns an errno on failure.
    private func startLoopThread() -> Int32? {
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&thread, &attr, { context in
            Unmanaged<ProcessRunner>.fromOpaque(context!).takeRetainedValue().loopMain()
            return nil
        }, context)
        if rc != 0 {
            Unmanaged<ProcessRunner>.fromOpaque(context).release()
            return rc
        }
        return nil
    }

    /// How often the idle loop sweeps for orphans re-parented to this process.
    private static let sweepInterval: Duration = .seconds(1)

    private func loopMain() {
        let loop = SpawnLoop()
        var continuations: [Int: CheckedContinuation<ProcessOutcome, Never>] = [:]
        var nextSweep = ContinuousClock.now + Self.sweepInterval
        while true {
            let (requests, cancelled) = queue.withLock { q -> ([Request], Set<Int>) in
                defer { q.pending.removeAll(); q.cancelled.removeAll() }
                return (q.pending, q.cancelled)
            }
            for r in requests {
                continuations[r.id] = r.continuation
                loop.start(id: r.id, r.spec, deadline: r.deadline) { outcome in
                    continuations.removeValue(forKey: r.id)?.resume(returning: outcome)
                }
            }
            for id in cancelled where continuations[id] != nil { loop.cancel(id: id) }

            if loop.step(wakeFDs: [wakePipe.readFD], until: nextSweep) { wakePipe.drain() }
            if ContinuousClock.now >= nextSweep {
                Reaper.sweep()
                nextSweep = ContinuousClock.now + Self.sweepInterval
            }
        }
    }
}
