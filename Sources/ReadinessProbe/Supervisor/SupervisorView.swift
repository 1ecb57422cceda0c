// The sources of a run's supervisord snapshot (Snapshot.swift): one XML-RPC round trip, one
// `supervisorctl status`, or the listener's ledger (LedgerSource.swift). Over XML-RPC it holds
// only the processes the checks name when they name plain programs (`SupervisorQuery`), else
// every process. The run fetches it once (SupervisorFetch.swift) and shares it.
import ProbeSupport
import SupervisorKit
import ProbeSpawn

enum SupervisorView {
    /// One fetch, from the configured source, on the calling thread (it blocks until the answer or
    /// the deadline). `auto` prefers a fresh listener ledger, then XML-RPC, and falls back to
    /// `supervisorctl status` only when XML-RPC was refused for credentials or permissions
    /// (supervisorctl may know credentials we do not). `query` narrows only the XML-RPC call; the
    /// ledger and `supervisorctl status` give everything.
    static func fetchBlocking(_ settings: ProbeSettings, deadline: Deadline,
                                     query: SupervisorQuery = .everything) -> SupervisorResult {
        switch settings.supervisor.source {
        case .events:
            return LedgerSource.snapshot(settings)
        case .xmlrpc:
            return xmlrpcBlocking(settings, deadline: deadline, query: query)
        case .supervisorctl:
            return supervisorctlBlocking(settings, deadline: deadline)
        case .auto:
            if case .success(let s) = LedgerSource.snapshot(settings) { return .success(s) }
            return autoFallback(xmlrpcBlocking(settings, deadline: deadline, query: query), settings, deadline: deadline)
        }
    }

    /// `source = auto`, after XML-RPC: `supervisorctl status` when XML-RPC was refused for
    /// credentials or permissions (supervisorctl may read what the probe cannot), else `viaRPC`.
    static func autoFallback(_ viaRPC: SupervisorResult, _ settings: ProbeSettings, deadline: Deadline) -> SupervisorResult {
        guard needsAutoFallback(viaRPC, settings, deadline: deadline) else { return viaRPC }
        let viaCtl = supervisorctlBlocking(settings, deadline: deadline)
        if case .success = viaCtl { return viaCtl }
        return viaRPC
    }

    static func needsAutoFallback(_ viaRPC: SupervisorResult, _ settings: ProbeSettings, deadline: Deadline) -> Bool {
        guard settings.supervisor.source == .auto, case .failure = viaRPC, let err = lastXMLRPCError(viaRPC),
              worthSupervisorctl(err), !deadline.hasPassed else { return false }
        return true
    }

    static func worthSupervisorctl(_ e: SupervisorError) -> Bool {
        switch e.code {
        case .authenticationRequired, .authenticationFailed, .permissionDenied: return true
        default: return false
        }
    }

    private static func lastXMLRPCError(_ r: SupervisorResult) -> SupervisorError? {
        if case .failure(let f) = r { return f.cause }
        return nil
    }

    /// Event-listener pools named in supervisord.conf (`[eventlistener:NAME]`), so that `*`
    /// never counts a listener as critical. Empty when no supervisord.conf is found.
    static func listenerGroups(_ settings: ProbeSettings) -> Set<String> {
        let candidates = settings.supervisor.configFile.map { [$0] }
            ?? SupervisorDiscovery.defaultSearchPaths(executablePath: nil)
        guard let path = candidates.first(where: Platform.exists),
              let bytes = try? SafeFile.readTrusted(path, limit: SupervisorDiscovery.maxConfigBytes),
              case let text = String(decoding: bytes, as: UTF8.self),
              let sections = try? INI.parse(text, file: path, strictDuplicates: false) else { return [] }
        return Set(sections.filter { $0.kind == "eventlistener" }.compactMap(\.instance))
    }

    static func locate(_ settings: ProbeSettings) throws(SupervisorError) -> SupervisorLocation {
        try SupervisorDiscovery.locate(explicitURL: settings.supervisor.serverURL, username: settings.supervisor.username,
                                       password: settings.supervisor.password, configFile: settings.supervisor.configFile,
                                       environment: settings.environment)
    }

    /// One XML-RPC round trip on the calling thread, under the deadline: `getAllProcessInfo`, or for
    /// named programs one `system.multicall` of `getProcessInfo` (plus `getAllProcessInfo` when
    /// that answer cannot stand in for it; see `named`).
    static func xmlrpcBlocking(_ settings: ProbeSettings, deadline: Deadline,
                                      query: SupervisorQuery = .everything) -> SupervisorResult {
        do throws(SupervisorError) {
            let client = SupervisorClient(location: try locate(settings))
            if case .programs(let names) = query, !names.isEmpty,
               let some = try named(names, client: client, deadline: deadline) {
                return .success(SupervisorSnapshot(processes: some, source: "xmlrpc"))
            }
            return allProcesses(client, deadline: deadline)
        } catch {
            return failure(error)
        }
    }

    /// `getAllProcessInfo` on the calling thread.
    static func allProcesses(_ client: SupervisorClient, deadline: Deadline) -> SupervisorResult {
        do throws(SupervisorError) {
            return .success(SupervisorSnapshot(processes: try client.getAllProcessInfo(deadline: deadline), source: "xmlrpc"))
        } catch {
            return failure(error)
        }
    }

    static func failure(_ error: SupervisorError) -> SupervisorResult {
        var f = SupervisorFailure(error)
        f.cause = error
        return .failure(f)
    }

    /// The `system.multicall` of `getProcessInfo` that `named` sends for `names`.
    static func namedCalls(_ names: [String]) -> [(method: String, params: [XMLRPCValue])] {
        names.map { (method: "supervisor.getProcessInfo", params: [.string($0)]) }
    }

    /// The processes `names` (plain names) in one `system.multicall` of `getProcessInfo(name)`, or
    /// nil when that answer cannot stand in for `getAllProcessInfo` and the caller must ask for it:
    /// a BAD_NAME fault (the checks also match a name against a member of another group, e.g.
    /// `worker_00` in group `worker`, and a missing start program is allowed), any other per-call
    /// fault, a fault of the multicall itself, or a reply for another process. SHUTDOWN_STATE in
    /// any result is thrown, as getAllProcessInfo would throw it; so is every transport error.
    ///
    /// One case is not told apart: a name that is both a program of its own (`x`) and a process of
    /// another group (`g:x`) gets only `x`, where the whole list would also give `g:x`.
    static func named(_ names: [String], client: SupervisorClient, deadline: Deadline) throws(SupervisorError) -> [SupervisorProcess]? {
        let results: [Result<XMLRPCValue, SupervisorError>]
        do {
            results = try client.multicall(namedCalls(names), deadline: deadline)
        } catch {
            if error.code == .fault { return nil }
            throw error
        }
        return try named(names, results: results)
    }

    /// `named`'s reading of the multicall's results (nil: ask for `getAllProcessInfo`).
    static func named(_ names: [String], results: [Result<XMLRPCValue, SupervisorError>]) throws(SupervisorError) -> [SupervisorProcess]? {
        if results.contains(where: { if case .failure(.shuttingDown) = $0 { true } else { false } }) { throw .shuttingDown }
        var processes: [SupervisorProcess] = []
        processes.reserveCapacity(names.count)
        for (name, result) in zip(names, results) {
            guard case .success(let value) = result else { return nil }
            let p = try SupervisorProcess(processInfo: value)
            guard p.namespec == name else { return nil }
            processes.append(p)
        }
        return processes
    }

    /// `supervisorctl [-c CONF] status` on the calling thread (its own poll loop for the one
    /// child), parsed. Its exit status is not a readiness signal (it is 3 for a good one-shot);
    /// only the text counts.
    static func supervisorctlBlocking(_ settings: ProbeSettings, deadline: Deadline) -> SupervisorResult {
        var argv = [settings.supervisor.supervisorctl]
        if let conf = settings.supervisor.configFile { argv += ["-c", conf] }
        if let url = settings.supervisor.serverURL { argv += ["-s", url] }
        if let u = settings.supervisor.username { argv += ["-u", u] }
        if let p = settings.supervisor.password { argv += ["-p", p] }
        argv.append("status")
        let spec = ProcessSpec(argv: argv, timeout: deadline.remaining, outputLimit: 4 << 20)
        let outcome = ProcessRunner.shared.runAll([spec], deadline: deadline)[0]
        switch outcome.termination {
        case .spawnFailed(_, let message):
            return .failure(SupervisorFailure(detail: "cannot run supervisorctl: \(message)", summary: "cannot run supervisorctl"))
        case .timedOut, .deadlineExceeded:
            return .failure(SupervisorFailure(.timedOut(phase: "supervisorctl status")))
        case .signaled(let sig):
            return .failure(SupervisorFailure(.supervisorctlFailed(output: "killed by signal \(sig)")))
        case .exited:
            break
        }
        if outcome.stdoutDropped > 0 { return .failure(SupervisorFailure(.malformedReply("supervisorctl output larger than 4 MiB"))) }
        let text = String(decoding: outcome.stdout, as: UTF8.self)
        var processes: [SupervisorProcess] = []
        for line in SupervisorctlStatus.parse(text) {
            switch line {
            case .process(let p): processes.append(p)
            case .error(let e):
                var f = SupervisorFailure(e)
                f.cause = e
                return .failure(f)
            case .noSuchProcess, .noSuchGroup: continue
            }
        }
        if processes.isEmpty {
            let err = String(decoding: outcome.stderr, as: UTF8.self)
            let why = (text + err).trimmingASCIIWhitespace()
            if !why.isEmpty { return .failure(SupervisorFailure(.supervisorctlFailed(output: why))) }
        }
        return .success(SupervisorSnapshot(processes: processes, source: "supervisorctl"))
    }
}
