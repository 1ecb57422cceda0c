// A run's one supervisord fetch: started by the run when a check's work needs the snapshot (or by
// the first plugin that asks), under the plan's fetch deadline: its XML-RPC call on the executor's
// own poll loop (InlineFetch, below), or on one plain thread. Whoever waits is told when it is
// done: the executor through its wake pipe (or at once, for its own call), a plugin task by resuming it.
import ProbeSpawn
import ProbeSupport
import SupervisorKit
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

    /// Starts the fetch, with its XML-RPC call on the caller's poll loop when it can
    /// (`InlineFetch`): returns the call to poll, or nil when the fetch went to a thread (or was
    /// started, given, or already finished). The executor uses this; `start()` is the same fetch
    /// on a thread.
    ///
    /// Why: a run's supervisord call is on its critical path, and a thread for it costs a thread
    /// start before the request goes out and a wake-up of that thread when the reply comes, each
    /// a wait for a CPU on a busy node (docs/benchmarks.md, section 16). Only the common case is
    /// inline: `source = xmlrpc`, or `auto` with no listener ledger to read (reading the ledger
    /// stays on the thread, where it overlaps the hooks); a second call (the multicall's
    /// `getAllProcessInfo` fallback) or `auto`'s `supervisorctl` fallback continues on a thread.
    func startInline() -> InlineFetch? {
        let first = state.withLock { s -> Bool in
            defer { s.started = true }
            return !s.started
        }
        guard first else { return nil }
        let source = settings.supervisor.source
        let inline = source == .xmlrpc || (source == .auto && !Platform.exists(Ledger.path(settings)))
        guard inline else {
            let (settings, deadline, query) = (self.settings, self.deadline, self.query)
            if source == .events {
                complete(SupervisorView.fetchBlocking(settings, deadline: deadline, query: query))
                return nil
            }
            PlainThread.detach { [self] in complete(SupervisorView.fetchBlocking(settings, deadline: deadline, query: query)) }
            return nil
        }
        return InlineFetch.begin(self)
    }

    /// Finishes the fetch with `body`'s result, run on a thread of its own.
    func finishOnThread(_ body: @escaping @Sendable () -> SupervisorResult) {
        PlainThread.detach { [self] in complete(body()) }
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

    /// `wake` is woken when the result comes, unless it has come already (the caller reads that
    /// one next, with no wake-up spent on it).
    func notifyIfPending(_ wake: WakePipe) {
        state.withLock { s in
            if s.result == nil { s.wakes.append(wake) }
        }
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

    func complete(_ r: SupervisorResult) {
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

/// A run's XML-RPC call on the executor's own poll loop: sent by `begin`, its reply read by
/// `pump()` when the socket is readable, given up at the fetch deadline. The same requests,
/// results and failures as `SupervisorView.fetchBlocking` (which runs them on a thread).
/// Used by the executor's thread only.
final class InlineFetch {
    private let fetch: SupervisorFetch
    private let client: SupervisorClient
    private let call: SupervisorPendingCall
    /// The names of the multicall, or nil for `getAllProcessInfo`.
    private let names: [String]?
    let deadline: Deadline

    private init(fetch: SupervisorFetch, client: SupervisorClient, call: SupervisorPendingCall, names: [String]?) {
        self.fetch = fetch
        self.client = client
        self.call = call
        self.names = names
        self.deadline = fetch.deadline
    }

    /// Sends the call; nil when the fetch finished at once (a connect error) or went on a thread.
    /// Only over a unix socket, and only when connect and send need no wait (a full listen
    /// backlog or socket buffer): this loop also runs the hooks, so it never blocks here; a
    /// call that would wait, or a TCP server, is the thread's (`fetchBlocking`).
    static func begin(_ fetch: SupervisorFetch) -> InlineFetch? {
        let (settings, deadline, query) = (fetch.settings, fetch.deadline, fetch.query)
        let client: SupervisorClient
        do throws(SupervisorError) {
            client = SupervisorClient(location: try SupervisorView.locate(settings))
        } catch {
            finish(fetch, SupervisorView.failure(error))
            return nil
        }
        guard case .unix = client.url else {
            fetch.finishOnThread { SupervisorView.fetchBlocking(settings, deadline: deadline, query: query) }
            return nil
        }
        var names: [String]?
        if case .programs(let n) = query, !n.isEmpty { names = n }
        do throws(SupervisorError) {
            let call: SupervisorPendingCall
            let now = Deadline.after(.zero)
            if let names {
                call = try client.begin(method: "system.multicall",
                                        params: [SupervisorClient.multicallParam(SupervisorView.namedCalls(names))], deadline: now)
            } else {
                call = try client.begin(method: "supervisor.getAllProcessInfo", deadline: now)
            }
            return InlineFetch(fetch: fetch, client: client, call: call, names: names)
        } catch {
            if error.code == .timedOut {
                fetch.finishOnThread { SupervisorView.fetchBlocking(settings, deadline: deadline, query: query) }
                return nil
            }
            finish(fetch, SupervisorView.failure(error))
            return nil
        }
    }

    /// The socket to poll (-1 once done).
    var fd: Int32 { call.fd }

    /// Reads what has arrived; true once the fetch is finished here or handed to a thread.
    func pump() -> Bool {
        let value: XMLRPCValue
        do throws(SupervisorError) {
            guard let v = try call.value() else {
                if deadline.hasPassed {
                    call.close()
                    InlineFetch.finish(fetch, SupervisorView.failure(call.timedOut))
                    return true
                }
                return false
            }
            value = v
        } catch {
            if names != nil && error.code == .fault { return allOnThread() }
            InlineFetch.finish(fetch, SupervisorView.failure(error))
            return true
        }
        do throws(SupervisorError) {
            guard let names else {
                InlineFetch.finish(fetch, .success(SupervisorSnapshot(processes: try SupervisorProcess.list(fromProcessInfo: value), source: "xmlrpc")))
                return true
            }
            let results = try SupervisorClient.multicallResults(value, count: names.count)
            guard let some = try SupervisorView.named(names, results: results) else { return allOnThread() }
            InlineFetch.finish(fetch, .success(SupervisorSnapshot(processes: some, source: "xmlrpc")))
        } catch {
            InlineFetch.finish(fetch, SupervisorView.failure(error))
        }
        return true
    }

    /// Gives up the call (the run ended first): whoever still waits for the snapshot gets the
    /// deadline's failure, as from a fetch that did not answer.
    func abandon() {
        guard call.fd >= 0 else { return }
        call.close()
        fetch.complete(SupervisorView.failure(call.timedOut))
    }

    /// The multicall could not stand in for the whole list: `getAllProcessInfo` on a thread.
    private func allOnThread() -> Bool {
        let (client, fetch, deadline) = (self.client, self.fetch, self.deadline)
        fetch.finishOnThread {
            SupervisorView.autoFallback(SupervisorView.allProcesses(client, deadline: deadline), fetch.settings, deadline: deadline)
        }
        return true
    }

    /// The result, after `auto`'s supervisorctl fallback where it applies (on a thread: it runs a process).
    private static func finish(_ fetch: SupervisorFetch, _ result: SupervisorResult) {
        if SupervisorView.needsAutoFallback(result, fetch.settings, deadline: fetch.deadline) {
            let (settings, deadline) = (fetch.settings, fetch.deadline)
            fetch.finishOnThread { SupervisorView.autoFallback(result, settings, deadline: deadline) }
            return
        }
        fetch.complete(result)
    }
}
