// `readiness-probe listen`: keeps the ledger from supervisord's events, records critical
// exits (and optionally SIGTERMs supervisord, like SONiC's critical-process listener), and
// runs the checks in the background on every TICK to keep the cached result fresh.
// Runs on one thread (the protocol loop); only the background check runs and the delayed
// SIGTERM use other threads. docs/event-listener.md is the manual.
@preconcurrency import Glibc
import Synchronization
import SupervisorKit

public final class EventListener {
    public let settings: ProbeSettings
    public let entries: [CheckEntry]
    /// Critical selectors (from [programs]) and the start program (from [start]).
    public let watched: WatchedPrograms
    public var critical: [ProgramSelector] { watched.critical }
    public var startProgram: String? { watched.startProgram }
    public private(set) var ledger = Ledger()
    let ledgerPath: String
    let resultPath: String
    var window = SerialWindow()
    var dirty = false
    var lastWrite: Double = 0
    var terminateRequested = false
    var writeErrorLogged = false
    let background = BackgroundChecks()
    let log: @Sendable (String) -> Void
    /// How long an XML-RPC call (seed, getPID) may take.
    public var rpcTimeout: Duration = .seconds(3)
    /// Non-critical changes and TICKs are written at most this often (critical ones at once).
    public var coalesce: Double = 1.0
    /// The sd_notify socket and attribution (Notify/NotifyHub.swift); nil without an address.
    public let notifyHub: NotifyHub?
    /// STATUS=/watchdog pings not yet written (they are written at most once per `coalesce`).
    var notifyDirty = false

    public init(configuration: ProbeConfiguration, log: @escaping @Sendable (String) -> Void = EventListener.stderrLog) {
        settings = configuration.settings
        entries = configuration.entries
        watched = WatchedPrograms.of(configuration.entries)
        ledgerPath = Ledger.path(settings)
        resultPath = CachedResult.path(settings)
        self.log = log
        notifyHub = NotifyHub.address(configuration.settings).map { NotifyHub(address: $0, log: log) }
        ledger.listenerPID = Int(Platform.processID)
        if let pool = settings.environment["SUPERVISOR_GROUP_NAME"], !pool.isEmpty { ledger.pool = pool }
    }

    public static let stderrLog: @Sendable (String) -> Void = { Platform.writeStderr("readiness-probe listen: \($0)\n") }

    // MARK: start-up and end

    /// Before the first READY: the folder, the previous ledger (kept only for the same
    /// supervisord), supervisord's pid and one getAllProcessInfo to seed the ledger.
    public func start() {
        do { try Platform.makeDirectories(Ledger.folder(settings)) } catch { log("error: \(error)") }
        // The notify socket first: supervisord starts the programs right after the listener, and a
        // library that connects once at start-up (Python's sdnotify) must find the socket there.
        notifyHub?.open(mode: mode_t(settings.notify.mode))
        ledger.listenerGroups = Array(SupervisorView.listenerGroups(settings)).sorted()
        let (pid, processes) = askSupervisord(wantPID: true)
        ledger.supervisordPID = pid
        notifyHub?.supervisordPID = pid
        if let pid, let old = try? Ledger.read(path: ledgerPath), old.supervisordPID == pid {
            // The same supervisord: keep recorded failures (a restarted listener loses none).
            ledger.entries = old.entries
            ledger.lastSerial = old.lastSerial
            ledger.eventsSeen = old.eventsSeen
            ledger.poolSerial = old.poolSerial
            ledger.eventsApplied = old.eventsApplied
        }
        if let processes {
            ledger.seed(processes, now: Platform.epochSeconds())
            log("seeded the ledger: \(ledger.entries.count) programs, supervisord pid \(pid.map(String.init) ?? "unknown")")
        }
        writeLedger()
        if settings.listener.runChecks { background.start(self) }
    }

    /// At end of input: marks the ledger closed and waits (bounded) for a check run in flight.
    public func finish() {
        notifyHub?.socket.close()
        ledger.closed = true
        writeLedger()
        _ = background.waitIdle(timeout: settings.timeout + .seconds(1))
    }

    /// getPID and getAllProcessInfo in one round trip (system.multicall).
    func askSupervisord(wantPID: Bool) -> (Int?, [SupervisorProcess]?) {
        let deadline = Deadline.after(rpcTimeout)
        do throws(SupervisorError) {
            let client = SupervisorClient(location: try SupervisorView.locate(settings))
            var calls: [(method: String, params: [XMLRPCValue])] = [("supervisor.getAllProcessInfo", [])]
            if wantPID { calls.append(("supervisor.getPID", [])) }
            let results = try client.multicall(calls, deadline: deadline)
            let processes = try SupervisorProcess.list(fromProcessInfo: try results[0].get())
            var pid: Int? = nil
            if wantPID, case .success(let v) = results[1], let p = v.intValue, p > 0 { pid = p }
            return (pid, processes)
        } catch {
            log("error: cannot ask supervisord for its programs: \(error); the ledger stays incomplete until a TICK retry succeeds")
            return (nil, nil)
        }
    }

    // MARK: events

    /// Handles one event; returns work for between the result and the next READY.
    public func handle(_ event: SupervisorEvent) -> (() -> Void)? {
        let h = event.header
        guard window.insert(h.serial) else { return nil }  // redelivery or another pool's copy
        ledger.eventsSeen += 1
        if ledger.pool == nil { ledger.pool = h.pool }
        if h.pool == ledger.pool { ledger.poolSerial = max(ledger.poolSerial, h.poolSerial) }
        let name = h.eventName
        if name.hasPrefix("PROCESS_STATE_") {
            processState(event, stateName: String(name.dropFirst(14)))
            return nil
        }
        if name.hasPrefix("TICK_") {
            return tick(event)
        }
        if name == "SUPERVISOR_STATE_CHANGE_STOPPING" || name == "SUPERVISOR_STATE_CHANGE_RUNNING" {
            ledger.supervisordState = name == "SUPERVISOR_STATE_CHANGE_STOPPING" ? "STOPPING" : "RUNNING"
            ledger.lastSerial = max(ledger.lastSerial, h.serial)
            log("supervisord is \(ledger.supervisordState) (serial \(h.serial))")
            writeLedger()
        }
        return nil
    }

    func processState(_ event: SupervisorEvent, stateName: String) {
        let payload: EventPayload
        do { payload = try event.parsedPayload() } catch {
            log("error: serial \(event.header.serial): \(error)")
            return
        }
        guard let state = ProcessState(name: stateName), let pname = payload["processname"],
              let group = payload["groupname"] else {
            log("warn: serial \(event.header.serial): \(event.header.eventName) without processname/groupname or with an unknown state")
            return
        }
        if group == ledger.pool || ledger.listenerGroups.contains(group) { return }  // listeners, ourselves included
        let isCritical = self.isCritical(name: pname, group: group)
        let now = Platform.epochSeconds()
        let expected: Bool? = payload["expected"].map { $0 == "1" }
        guard let change = ledger.apply(state: state, name: pname, group: group, pid: payload["pid"].flatMap { Int($0) },
                                        expected: expected, serial: event.header.serial, now: now,
                                        critical: isCritical) else { return }
        dirty = true
        let isStart = startProgram.map { $0 == pname || $0 == change.namespec } ?? false
        log("\(change.namespec) \(state.name)" + (expected.map { $0 ? " (expected)" : " (unexpected)" } ?? "")
            + " serial \(event.header.serial)")
        if let hub = notifyHub, hub.programsChanged(&ledger, now: now) { writeLedger(now: now) }
        if let failure = change.newFailure {
            log("CRITICAL: \(failure.detail)")
            if settings.listener.onCriticalExit == .terminate { terminateSupervisord(because: failure.detail) }
        }
        if isCritical || isStart || now - lastWrite >= coalesce { writeLedger(now: now) }
    }

    func tick(_ event: SupervisorEvent) -> (() -> Void)? {
        if let when = (try? event.parsedPayload())?["when"].flatMap({ Double($0) }) { ledger.tickAt = when }
        ledger.lastSerial = max(ledger.lastSerial, event.header.serial)
        let now = Platform.epochSeconds()
        if ledger.expireFailures(now: now, hold: settings.listener.failureHold) { dirty = true }
        notifyHub?.invalidate()
        // The heartbeat: at least one write per TICK, unless one happened within `coalesce`.
        if now - lastWrite >= coalesce { writeLedger(now: now) }
        let reseed = !ledger.complete
        let runChecks = settings.listener.runChecks && event.header.eventName == settings.listener.tick
        if !reseed && !runChecks { return nil }
        return { [self] in
            if reseed, case (let pid, let processes?) = askSupervisord(wantPID: ledger.supervisordPID == nil) {
                if let pid { ledger.supervisordPID = pid; notifyHub?.supervisordPID = pid }
                ledger.seed(processes, now: Platform.epochSeconds())
                log("seeded the ledger on retry: \(ledger.entries.count) programs")
                writeLedger()
            }
            if runChecks { background.start(self) }
        }
    }

    public func isCritical(name: String, group: String) -> Bool {
        watched.isCritical(name: name, group: group) { $0 == ledger.pool || ledger.listenerGroups.contains($0) }
    }

    // MARK: sd_notify

    /// Reads queued notify datagrams (a bounded batch) and writes the ledger: at once when a
    /// verdict may have changed, else within `coalesce`.
    public func serviceNotify() {
        guard let hub = notifyHub else { return }
        let now = Platform.epochSeconds()
        let d = hub.drain(&ledger, now: now)
        if d.urgent { writeLedger(now: now); return }
        if d.changed { notifyDirty = true }
        if notifyDirty && now - lastWrite >= coalesce { writeLedger(now: now) }
    }

    /// How long the protocol loop may wait before `serviceNotify` must flush (-1: no limit).
    public func notifyTimeout() -> Int32 {
        guard notifyDirty else { return -1 }
        let left = lastWrite + coalesce - Platform.epochSeconds()
        return left <= 0 ? 0 : Int32(min(1000, left * 1000) + 1)
    }

    /// The protocol loop's side channel for the notify socket (nil when it could not be opened).
    public var notifySideChannel: ListenerProtocol.SideChannel? {
        guard let hub = notifyHub, hub.fd >= 0 else { return nil }
        return ListenerProtocol.SideChannel(fd: hub.fd, service: { [self] in serviceNotify() }, timeout: { [self] in notifyTimeout() })
    }

    // MARK: output

    func writeLedger(now: Double = Platform.epochSeconds()) {
        if let hub = notifyHub { ledger.notify = hub.info }
        do {
            try ledger.write(path: ledgerPath, now: now)
            lastWrite = now
            dirty = false
            notifyDirty = false
            writeErrorLogged = false
        } catch {
            if !writeErrorLogged { log("error: cannot write the ledger: \(error)") }
            writeErrorLogged = true
        }
    }

    /// The snapshot a background check run uses instead of asking supervisord: the in-memory
    /// ledger for source = events/auto (nil for auto while incomplete: it asks XML-RPC then).
    func snapshotForChecks() -> Result<SupervisorSnapshot, SupervisorFailure>? {
        switch settings.supervisor.source {
        case .xmlrpc, .supervisorctl: return nil
        case .auto: return ledger.complete ? .success(ledger.snapshot(now: Platform.epochSeconds(), hold: settings.listener.failureHold)) : nil
        case .events:
            if !ledger.complete {
                return .failure(SupervisorFailure(code: Codes.noFreshResult,
                                                  detail: "event listener ledger is incomplete: supervisord could not be asked yet",
                                                  summary: "event listener ledger is incomplete"))
            }
            return .success(ledger.snapshot(now: Platform.epochSeconds(), hold: settings.listener.failureHold))
        }
    }

    /// SIGTERM to supervisord after `terminate_grace`, on its own thread (never delays the answer).
    func terminateSupervisord(because why: String) {
        if terminateRequested { return }
        terminateRequested = true
        let knownPID = ledger.supervisordPID
        let grace = settings.listener.terminateGrace
        let settings = self.settings
        let timeout = rpcTimeout
        let log = self.log
        Thread.detach {
            if grace > .zero { Platform.sleep(milliseconds: Int(grace.milliseconds)) }
            var pid = knownPID
            if pid == nil {
                do throws(SupervisorError) {
                    pid = try SupervisorClient(location: try SupervisorView.locate(settings)).getPID(deadline: .after(timeout))
                } catch {
                    log("error: on_critical_exit = terminate, but supervisord's pid is unknown: \(error)")
                }
            }
            guard let pid, pid > 0 else { return }
            log("on_critical_exit = terminate: sending SIGTERM to supervisord (pid \(pid)): \(why)")
            do { try Platform.sendSignal(Int32(pid), SIGTERM) } catch { log("error: \(error)") }
        }
    }
}

/// One background check run at a time; its report goes to the cached result file.
final class BackgroundChecks: Sendable {
    private let busy = Atomic<Bool>(false)

    func start(_ listener: EventListener) {
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
            listener.log("warn: the previous check run is still going; this TICK's run is skipped")
            return
        }
        let entries = listener.entries
        let settings = listener.settings
        let seeded = listener.snapshotForChecks()
        let path = listener.resultPath
        let log = listener.log
        Thread.detach { [self] in
            let report = ProbeRunner.runBlocking(entries, settings: settings, supervisor: seeded.map { .given($0) } ?? .fetch)
            do { try CachedResult.write(report, path: path) } catch { log("error: cannot write the cached result: \(error)") }
            busy.store(false, ordering: .releasing)
        }
    }

    /// Waits until no run is in flight, or `timeout`; returns whether it is idle.
    func waitIdle(timeout: Duration) -> Bool {
        let deadline = Deadline.after(timeout)
        while busy.load(ordering: .acquiring) {
            if deadline.hasPassed { return false }
            Platform.sleep(milliseconds: 5)
        }
        return true
    }
}
