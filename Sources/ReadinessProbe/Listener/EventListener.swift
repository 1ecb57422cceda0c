// `readiness-probe listen`: keeps the ledger from supervisord's events, records critical
// exits (and optionally SIGTERMs supervisord, like SONiC's critical-process listener), and
// runs the checks in the background on every TICK to keep the cached result fresh.
// Runs on one thread (the protocol loop); only the background check runs, the delayed
// SIGTERM and the signal thread (SIGTERM/SIGINT/SIGHUP: `shutdownHandler`) use other threads.
// Every file write goes through ListenerFiles. docs/event-listener.md is the manual.
@preconcurrency import Glibc
import ProbeSupport
import Synchronization
import SupervisorKit
import ProbeSpawn

final class EventListener {
    let settings: ProbeSettings
    let entries: [CheckEntry]
    /// Critical selectors (from [programs]) and the start program (from [start]).
    let watched: WatchedPrograms
    var critical: [ProgramSelector] { watched.critical }
    var startProgram: String? { watched.startProgram }
    private(set) var ledger = Ledger()
    let ledgerPath: String
    let resultPath: String
    let files: ListenerFiles
    var window = SerialWindow()
    /// Set by an event that needs a fresh getAllProcessInfo (group added, serial regression);
    /// the seed runs after the event is answered.
    var reseedWanted = false
    /// Exits (EXITED and BACKOFF of any program while the history is on, else EXITED of the start
    /// program and critical ones; FATAL of critical ones; pid nil: BACKOFF names none), whose exit status, cause and log file are asked of
    /// supervisord after the event is answered (an event says only expected or not).
    var exitsToExplain: [(namespec: String, name: String, pid: Int?, serial: Int, unexpected: Bool)] = []
    /// How long that question may take (after the answer, before the next READY: supervisord
    /// keeps further events meanwhile). Past it the exit status stays unknown (null).
    var exitLookupTimeout: Duration = .seconds(2)
    var dirty = false
    var lastWrite: Double = 0
    var terminateRequested = false
    var writeErrorLogged = false
    let background = BackgroundChecks()
    let log: @Sendable (String) -> Void
    /// How long an XML-RPC call (seed, getPID) may take.
    var rpcTimeout: Duration = .seconds(3)
    /// Non-critical changes and TICKs are written at most this often (critical ones at once).
    var coalesce: Double = 1.0
    /// The sd_notify socket and attribution (Notify/NotifyHub.swift); nil without an address.
    let notifyHub: NotifyHub?
    /// STATUS=/watchdog pings not yet written (they are written at most once per `coalesce`).
    var notifyDirty = false
    /// `[program:NAME] on_watchdog = restart` (nil when no program has it).
    let watchdogRestarter: WatchdogRestarter?
    /// The flight recorder (docs/history.md); nil with `[history] enabled = false`.
    let history: HistoryFile?
    var historyErrorLogged = false
    /// Per program (namespec), the READY=1 time last recorded in the history.
    var recordedReady: [(String, Double)] = []
    /// EXITED records waiting for their exit status (`explainExits`); the signal thread writes
    /// what is left here as it is when the listener is stopped in between.
    let pendingHistory = PendingHistory()

    init(configuration: ProbeConfiguration, log: @escaping @Sendable (String) -> Void = EventListener.stderrLog) {
        settings = configuration.settings
        entries = configuration.entries
        watched = WatchedPrograms.of(configuration.entries)
        ledgerPath = Ledger.path(settings)
        resultPath = CachedResult.path(settings)
        files = ListenerFiles(folder: Ledger.folder(settings))
        self.log = log
        notifyHub = NotifyHub.address(configuration.settings).map { NotifyHub(address: $0, log: log) }
        watchdogRestarter = WatchdogRestarter.make(configuration.entries, settings: configuration.settings, log: log)
        history = configuration.settings.history.enabled ? HistoryFile(settings: configuration.settings) : nil
        ledger.listenerPID = Int(Platform.processID)
        if let pool = settings.environment["SUPERVISOR_GROUP_NAME"], !pool.isEmpty { ledger.pool = pool }
    }

    static let stderrLog: @Sendable (String) -> Void = { Platform.writeStderr("readiness-probe listen: \($0)\n") }

    // MARK: start-up and end

    /// Before the first READY: the folder (created 0755, or checked; stale temporary files
    /// removed), supervisord's pid and one getAllProcessInfo to seed the ledger, and the previous
    /// ledger, whose entries are kept only when it was written for this very supervisord process
    /// (pid, start time and boot id: a supervisord restarted with the same pid starts from scratch).
    func start() {
        for m in files.open() { log(m) }
        // The notify socket next: supervisord starts the programs right after the listener, and a
        // library that connects once at start-up (Python's sdnotify) must find the socket there.
        if files.isOpen || settings.notify.socket != nil {
            notifyHub?.open(mode: mode_t(settings.notify.mode))
        } else {
            notifyHub?.refuse("cannot create the notify socket in \(Ledger.folder(settings)): the folder was refused (see the error above)")
        }
        ledger.listenerGroups = Array(SupervisorView.listenerGroups(settings)).sorted()
        if let warning = subscriptionWarning() { log(warning) }
        let (pid, processes) = askSupervisord(wantPID: true)
        identify(supervisordPID: pid)
        notifyHub?.supervisordPID = ledger.supervisordPID
        if let old = try? Ledger.read(path: ledgerPath) {
            if pid != nil && ledger.sameSupervisord(as: old) {
                // The same supervisord: keep recorded failures (a restarted listener loses none).
                ledger.entries = old.entries
                ledger.lastSerial = old.lastSerial
                ledger.eventsSeen = old.eventsSeen
                ledger.poolSerial = old.poolSerial
                ledger.eventsApplied = old.eventsApplied
                ledger.watchdogRestarts = old.watchdogRestarts  // on_watchdog = restart stays rate-limited
            } else if !old.entries.isEmpty {
                log("the previous ledger was written for another supervisord process or boot "
                    + "(supervisord pid \(old.supervisordPID.map(String.init) ?? "unknown"), start time \(old.supervisordStart.map(String.init) ?? "unknown")): starting from scratch")
            }
        }
        if let processes {
            ledger.seed(processes, now: Platform.epochSeconds())
            log("seeded the ledger: \(ledger.entries.count) programs, supervisord pid \(pid.map(String.init) ?? "unknown")")
        }
        writeLedger()
        if settings.listener.runChecks { background.start(self) }
    }

    /// A warning when this listener's [eventlistener:] section in supervisord.conf (found as
    /// `run` finds it) does not subscribe PROCESS_GROUP: programs removed by `supervisorctl
    /// update` would then stay in the ledger, and added ones would be missing.
    func subscriptionWarning() -> String? {
        guard let pool = ledger.pool ?? settings.environment["SUPERVISOR_GROUP_NAME"] else { return nil }
        let candidates = settings.supervisor.configFile.map { [$0] } ?? SupervisorDiscovery.defaultSearchPaths(executablePath: nil)
        guard let path = candidates.first(where: Platform.exists),
              let bytes = try? SafeFile.readTrusted(path, limit: SupervisorDiscovery.maxConfigBytes),
              case let text = String(decoding: bytes, as: UTF8.self),
              let sections = try? INI.parse(text, file: path, strictDuplicates: false),
              let mine = sections.first(where: { $0.kind == "eventlistener" && $0.instance == pool }),
              let events = mine["events"] else { return nil }
        let names = events.split(separator: ",").map { String($0.filter { $0 != " " && $0 != "\t" }) }
        if names.contains(where: { $0 == "PROCESS_GROUP" || $0 == "EVENT" }) { return nil }
        return "warn: [eventlistener:\(pool)] in \(path) does not subscribe PROCESS_GROUP (events=\(events)): after `supervisorctl update` "
            + "the ledger keeps removed programs and misses added ones until the listener restarts; add PROCESS_GROUP to events="
    }

    /// Records who writes the files: this process, supervisord (pid from getPID, start time
    /// from /proc) and the boot id. Readers trust the files only while both processes live.
    func identify(supervisordPID pid: Int?) {
        var pid = pid
        if pid == nil, settings.environment["SUPERVISOR_ENABLED"] != nil {
            // getPID failed, but supervisord started this process (it sets SUPERVISOR_ENABLED
            // for its children): it is the parent, until it dies.
            let parent = Int(getppid())
            pid = parent
            log("supervisord's pid is unknown (getPID failed); using the parent's, \(parent), to identify it")
        }
        ledger.writer = WriterIdentity.capture(supervisordPID: pid)
        if ledger.listenerStart == nil || ledger.bootID == nil || (pid != nil && ledger.supervisordStart == nil) {
            log("warn: cannot read this process's or supervisord's start time or the boot id from /proc: "
                + "readers cannot verify the ledger and will not trust it (source = auto asks XML-RPC)")
        }
    }

    /// End of input or a signal: marks the ledger and the cached result closed (nothing is
    /// written after that), then cancels a check run in progress (its hooks' process groups
    /// are killed) and kills what hooks left behind. Safe from any thread.
    func finish() {
        notifyHub?.socket.close()
        Self.shutdown(files: files, background: background, ledger: ledger, pending: pendingHistory, history: history)
    }

    static func shutdown(files: ListenerFiles, background: BackgroundChecks, ledger: Ledger? = nil,
                         pending: PendingHistory? = nil, history: HistoryFile? = nil) {
        if let history, let records = pending?.takeAll(), !records.isEmpty {
            _ = try? history.append(needsCodes: false) { _ in records.map(\.record) }
        }
        files.close(current: ledger)
        _ = background.stop(timeout: .seconds(2))
        ProcessRunner.shared.killOrphans()
    }

    /// What the signal thread runs on SIGTERM/SIGINT/SIGHUP (supervisord stops listeners with
    /// SIGTERM): close the files, stop the background run, exit 0.
    var shutdownHandler: @Sendable (Int32) -> Never {
        let files = self.files, background = self.background, log = self.log
        let pending = pendingHistory, history = self.history
        return { signal in
            log("\(Signals.name(signal)): closing the ledger and exiting")
            EventListener.shutdown(files: files, background: background, pending: pending, history: history)
            _exit(0)
        }
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
    func handle(_ event: SupervisorEvent) -> (() -> Void)? {
        let h = event.header
        guard window.insert(h.serial) else { return nil }  // redelivery or another pool's copy
        if ledger.pool == nil { ledger.pool = h.pool }
        if h.pool == ledger.pool && h.serial < ledger.lastSerial {
            // One supervisord's serials only grow (a redelivery repeats the last one at most):
            // a lower one is another supervisord's. Nothing of the ledger can be trusted.
            log("warn: serial \(h.serial) is lower than the last applied serial \(ledger.lastSerial): "
                + "events of another supervisord; the ledger starts from scratch")
            ledger.reset()
            reseedWanted = true
            writeLedger()
        }
        ledger.eventsSeen += 1
        if h.pool == ledger.pool { ledger.poolSerial = max(ledger.poolSerial, h.poolSerial) }
        let name = h.eventName
        var after: (() -> Void)? = nil
        if name.hasPrefix("PROCESS_STATE_") {
            processState(event, stateName: String(name.dropFirst(14)))
        } else if name.hasPrefix("TICK_") {
            after = tick(event)
        } else if name == "PROCESS_GROUP_ADDED" || name == "PROCESS_GROUP_REMOVED" {
            processGroup(event, added: name == "PROCESS_GROUP_ADDED")
        } else if name == "SUPERVISOR_STATE_CHANGE_STOPPING" || name == "SUPERVISOR_STATE_CHANGE_RUNNING" {
            ledger.supervisordState = name == "SUPERVISOR_STATE_CHANGE_STOPPING" ? "STOPPING" : "RUNNING"
            ledger.lastSerial = max(ledger.lastSerial, h.serial)
            log("supervisord is \(ledger.supervisordState) (serial \(h.serial))")
            writeLedger()
            files.supervisordState(ledger.supervisordState)
        }
        if after == nil && (reseedWanted || !exitsToExplain.isEmpty) {
            return { [self] in
                if reseedWanted { reseed() }
                explainExits()
            }
        }
        return after
    }

    /// `supervisorctl update` (or `reread` + `add`/`remove`) added or removed a group. A removed
    /// group's programs leave the ledger at once; either way the ledger is reseeded after the
    /// answer. Until then an added group's programs are missing, so the ledger is marked
    /// incomplete (readers ask XML-RPC for that moment). An added group the ledger already has
    /// (supervisord announces every group at start-up) changes nothing.
    func processGroup(_ event: SupervisorEvent, added: Bool) {
        ledger.lastSerial = max(ledger.lastSerial, event.header.serial)
        let group = (try? event.parsedPayload())?["groupname"]
        // At start-up supervisord announces every group it has: those the seed already knows
        // (or listeners' pools) need nothing.
        if added, let group, group == ledger.pool || ledger.listenerGroups.contains(group)
            || ledger.entries.contains(where: { $0.group == group }) { return }
        if !added, let group { ledger.removeGroup(group) }
        if added { ledger.complete = false }
        log("group \(group ?? "?") \(added ? "added" : "removed") (serial \(event.header.serial)): reseeding the ledger")
        reseedWanted = true
        writeLedger()
    }

    /// One getAllProcessInfo (and getPID if still unknown) replacing every program's state.
    func reseed() {
        reseedWanted = false
        let wantPID = ledger.supervisordPID == nil || ledger.supervisordStart == nil
        guard case (let pid, let processes?) = askSupervisord(wantPID: wantPID) else {
            ledger.complete = false
            writeLedger()
            return
        }
        if wantPID, let pid { identify(supervisordPID: pid) }
        notifyHub?.supervisordPID = ledger.supervisordPID
        ledger.listenerGroups = Array(SupervisorView.listenerGroups(settings)).sorted()
        ledger.seed(processes, now: Platform.epochSeconds())
        log("seeded the ledger: \(ledger.entries.count) programs")
        writeLedger()
    }

    /// One round trip after exit events: getProcessInfo of each exited program (its exit status
    /// while it is still EXITED, and its log file) and the tail of supervisord's log (the exit
    /// status or the signal of that very pid: by the time the listener asks, an autorestarted
    /// program is STARTING again and getProcessInfo says 0). The ledger is written if that added
    /// anything; the EXITED records waiting in `pendingHistory` are written with what was found
    /// (the exit status stays null when neither source says, or supervisord did not answer
    /// within `exitLookupTimeout`).
    func explainExits() {
        let wanted = exitsToExplain
        exitsToExplain = []
        guard !wanted.isEmpty else { return flushPendingHistory([]) }
        let deadline = Deadline.after(exitLookupTimeout)
        var calls: [(method: String, params: [XMLRPCValue])] = wanted.map { ("supervisor.getProcessInfo", [.string($0.namespec)]) }
        calls.append(("supervisor.readLog", [.int(-65536), .int(0)]))
        let results: [Result<XMLRPCValue, SupervisorError>]
        do throws(SupervisorError) {
            results = try SupervisorClient(location: try SupervisorView.locate(settings)).multicall(calls, deadline: deadline)
        } catch {
            log("warn: cannot ask supervisord why \(wanted.map(\.namespec).joined(separator: ", ")) exited: \(error)")
            return flushPendingHistory([])
        }
        let mainLog = (try? results[wanted.count].get())?.stringValue ?? ""
        var changed = false
        var found: [(serial: Int, status: Int)] = []
        for (i, w) in wanted.enumerated() {
            guard case .success(let v) = results[i], let info = v.structValue else { continue }
            // getProcessInfo's exitstatus counts only while the program is still EXITED from this
            // very exit (not restarted since: pid 0, and no later exit waiting in the queue).
            let stillExited = info["statename"]?.stringValue == "EXITED"
            let infoStatus = stillExited ? info["exitstatus"]?.intValue : nil
            let outcome = Ledger.exitOutcome(log: mainLog, name: w.name, pid: w.pid, unexpected: w.unexpected)
            var cause = Ledger.exitCause(log: mainLog, name: w.name, pid: w.pid, unexpected: w.unexpected)
            // Not in the log (loglevel error or critical, or a syslog-only log): say so, and how to get it.
            var note: String? = nil
            if cause == nil, let infoStatus {
                cause = infoStatus < 0 ? "was killed by a signal" : "exited with status \(infoStatus)"
                if infoStatus < 0 { note = "which signal is not in supervisord's log (its loglevel warn or lower records it)" }
            } else if cause == nil, w.unexpected {
                note = "how it exited is not in supervisord's log (its loglevel warn or lower records it)"
            }
            // The ledger keeps supervisord's kind of exit status (0-255; a signal has none there);
            // the history says 128 + N for signal N, as a shell, Docker and Kubernetes do.
            let plain = outcome?.status ?? infoStatus.flatMap { $0 >= 0 ? $0 : nil }
            if let status = plain ?? outcome?.signal.map({ 128 + Int($0) }) { found.append((w.serial, status)) }
            var logFile = info["stderr_logfile"]?.stringValue ?? ""
            if logFile.isEmpty { logFile = info["stdout_logfile"]?.stringValue ?? "" }
            if ledger.explainExit(namespec: w.namespec, serial: w.serial, exitStatus: plain,
                                  cause: cause, note: note, logFile: logFile) {
                changed = true
                if ledger.entries.contains(where: { $0.namespec == w.namespec && $0.failure?.serial == w.serial }) || w.namespec == startProgram || w.name == startProgram {
                    log("\(w.namespec) (pid \(w.pid ?? 0)): \(cause ?? "exit cause unknown")" + (logFile.isEmpty ? "" : "; log: \(logFile)"))
                }
            }
        }
        if changed { writeLedger() }
        flushPendingHistory(found)
    }

    /// Writes the EXITED records waiting in `pendingHistory`, with the exit status found for their
    /// event (by serial) and the ledger's explained failure detail.
    func flushPendingHistory(_ found: [(serial: Int, status: Int)]) {
        var records = pendingHistory.takeAll()
        guard !records.isEmpty else { return }
        for i in records.indices {
            let serial = records[i].serial
            if let f = found.first(where: { $0.serial == serial }) { records[i].record.exitStatus = f.status }
            if let e = ledger.entries.first(where: { $0.namespec == records[i].record.program }), let failure = e.failure,
               failure.serial == serial {
                records[i].record.detail = failure.detail
            }
        }
        appendHistory(records.map(\.record))
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
        let explain = (state == .exited && (isStart || history != nil)) || (state == .backoff && history != nil)
            || ((state == .exited || state == .fatal) && change.newFailure != nil)
        if explain {
            let pid = state == .backoff ? nil : payload["pid"].flatMap { Int($0) } ?? 0
            exitsToExplain.append((change.namespec, pname, pid, event.header.serial, expected == false))
        }
        log("\(change.namespec) \(state.name)" + (expected.map { $0 ? " (expected)" : " (unexpected)" } ?? "")
            + " serial \(event.header.serial)")
        recordProgram(change, pid: payload["pid"].flatMap { Int($0) }, expected: state == .exited ? expected : nil, now: now,
                      serial: explain && (state == .exited || state == .backoff) ? event.header.serial : nil)
        if let hub = notifyHub, hub.programsChanged(&ledger, now: now) {
            writeLedger(now: now)
            recordReadiness()
        }
        if let failure = change.newFailure {
            log("CRITICAL: \(failure.detail)")
            if settings.listener.onCriticalExit == .terminate && change.unexpected { terminateSupervisord(because: failure.detail) }
        }
        if isCritical || isStart || now - lastWrite >= coalesce { writeLedger(now: now) }
    }

    func tick(_ event: SupervisorEvent) -> (() -> Void)? {
        if let when = (try? event.parsedPayload())?["when"].flatMap({ Double($0) }) { ledger.tickAt = when }
        ledger.lastSerial = max(ledger.lastSerial, event.header.serial)
        if !files.isOpen { for m in files.open() { log(m) } }  // a refused folder may have been fixed
        let now = Platform.epochSeconds()
        if ledger.expireFailures(now: now, hold: settings.listener.failureHold) { dirty = true }
        notifyHub?.invalidate()
        checkWatchdogs(now: now)
        // The heartbeat: at least one write per TICK, unless one happened within `coalesce`.
        if now - lastWrite >= coalesce { writeLedger(now: now) }
        let reseed = !ledger.complete || reseedWanted
        let runChecks = settings.listener.runChecks && event.header.eventName == settings.listener.tick
        if !reseed && !runChecks { return nil }
        return { [self] in
            if reseed { self.reseed() }
            if runChecks { background.start(self) }
        }
    }

    func isCritical(name: String, group: String) -> Bool {
        watched.isCritical(name: name, group: group) { $0 == ledger.pool || ledger.listenerGroups.contains($0) }
    }

    // MARK: sd_notify

    /// Reads queued notify datagrams (a bounded batch) and writes the ledger: at once when a
    /// verdict may have changed, else within `coalesce`.
    func serviceNotify() {
        guard let hub = notifyHub else { return }
        let now = Platform.epochSeconds()
        let d = hub.drain(&ledger, now: now)
        checkWatchdogs(now: now)
        if d.urgent {
            writeLedger(now: now)
            recordReadiness()
            return
        }
        if d.changed { notifyDirty = true }
        if notifyDirty && now - lastWrite >= coalesce { writeLedger(now: now) }
    }

    /// How long the protocol loop may wait before `serviceNotify` must flush (-1: no limit).
    func notifyTimeout() -> Int32 {
        let now = Platform.epochSeconds()
        var wait: Int32 = -1
        if notifyDirty {
            let left = lastWrite + coalesce - now
            wait = left <= 0 ? 0 : Int32(min(1000, left * 1000) + 1)
        }
        // on_watchdog = restart: wake up when the next watched watchdog expires.
        if let due = watchdogRestarter?.nextDue(ledger, now: now) {
            let ms = Int32(min(60_000, max(0, (due - now) * 1000)) + 1)
            wait = wait < 0 ? ms : min(wait, ms)
        }
        return wait
    }

    /// `on_watchdog = restart` (Listener/WatchdogRestarter.swift): asks supervisord to restart a
    /// notify program whose watchdog expired or was triggered, at most once per period.
    func checkWatchdogs(now: Double) {
        guard let restarter = watchdogRestarter else { return }
        if restarter.check(&ledger, now: now) { writeLedger(now: now) }
    }

    /// The protocol loop's side channel for the notify socket (nil when it could not be opened).
    var notifySideChannel: ListenerProtocol.SideChannel? {
        guard let hub = notifyHub, hub.fd >= 0 else { return nil }
        return ListenerProtocol.SideChannel(fd: hub.fd, service: { [self] in serviceNotify() }, timeout: { [self] in notifyTimeout() })
    }

    // MARK: history

    /// Appends one program transition to the history (docs/history.md), at the time the event
    /// was read. `expected` is the EXITED event's flag. supervisord's events carry no exit status:
    /// an EXITED record (`serial` given) waits in `pendingHistory` until `explainExits` has asked
    /// supervisord after the answer, and is written then, before the next event is read.
    func recordProgram(_ change: Ledger.Change, pid: Int?, expected: Bool?, now: Double, serial: Int? = nil) {
        guard history != nil else { return }
        let record = HistoryRecord(at: now, by: "listen", program: change.namespec, state: change.state.name,
                                   pid: pid, exitStatus: nil, expected: expected,
                                   detail: change.newFailure?.detail ?? "", supervisord: ledger.writer.supervisord)
        if let serial {
            pendingHistory.add(record, serial: serial)
        } else {
            appendHistory([record])
        }
    }

    /// A READY=1 that the history has not seen yet, per notify program, as a `READY` transition.
    func recordReadiness() {
        guard history != nil else { return }
        var records: [HistoryRecord] = []
        for e in ledger.entries {
            guard let at = e.notify?.readyAt else { continue }
            if let i = recordedReady.firstIndex(where: { $0.0 == e.namespec }) {
                if recordedReady[i].1 == at { continue }
                recordedReady[i].1 = at
            } else {
                recordedReady.append((e.namespec, at))
            }
            records.append(HistoryRecord(at: at, by: "listen", program: e.namespec, state: "READY", pid: e.pid > 0 ? e.pid : nil,
                                         exitStatus: nil, expected: nil, supervisord: ledger.writer.supervisord))
        }
        if !records.isEmpty { appendHistory(records) }
    }

    func appendHistory(_ records: [HistoryRecord]) {
        guard let history else { return }
        do {
            try history.append(needsCodes: false) { _ in records }
            historyErrorLogged = false
        } catch {
            if !historyErrorLogged { log("error: cannot write the history: \(error)") }
            historyErrorLogged = true
        }
    }

    // MARK: output

    func writeLedger(now: Double = Platform.epochSeconds()) {
        if let hub = notifyHub { ledger.notify = hub.info }
        do {
            ledger.writtenAt = now
            guard try files.writeLedger(ledger, now: now) else { return }  // closed: nothing more is written
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
        PlainThread.detach {
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
    private let stopped = Atomic<Bool>(false)
    private let historyFailed = Atomic<Bool>(false)
    private let current = Mutex<RunControl?>(nil)
    /// failure_threshold / success_threshold: the cached result keeps each check's streak between TICKs.
    private let damper = Mutex(ThresholdDamper())

    func start(_ listener: EventListener) {
        if stopped.load(ordering: .acquiring) { return }
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
            listener.log("warn: the previous check run is still going; this TICK's run is skipped")
            return
        }
        let entries = listener.entries
        let settings = listener.settings
        let seeded = listener.snapshotForChecks()
        let files = listener.files
        let log = listener.log
        PlainThread.detach { [self] in
            let control = RunControl()
            current.withLock { $0 = control }
            if stopped.load(ordering: .acquiring) { control.stop() }
            let raw = ProbeRunner.runBlocking(entries, settings: settings, supervisor: seeded.map { .given($0) } ?? .fetch,
                                              control: control)
            let report = damper.withLock { $0.apply(raw, entries: entries) }
            current.withLock { $0 = nil }
            do { try files.writeResult(report) } catch { log("error: cannot write the cached result: \(error)") }
            if settings.history.enabled && !stopped.load(ordering: .acquiring) {
                do {
                    try HistoryRecorder.record(raw, settings: settings, by: "listen")  // undamped, as serve's (docs/history.md)
                    historyFailed.store(false, ordering: .relaxed)
                } catch {
                    if !historyFailed.exchange(true, ordering: .relaxed) { log("error: cannot write the history: \(error)") }
                }
            }
            busy.store(false, ordering: .releasing)
        }
    }

    /// No new run starts; the one in flight is stopped (RunControl.stop: the runner kills its
    /// hooks' process groups and reaps them). Waits until it has ended, or `timeout`; returns whether it did.
    func stop(timeout: Duration) -> Bool {
        stopped.store(true, ordering: .releasing)
        current.withLock { $0 }?.stop()
        return waitIdle(timeout: timeout)
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

/// The listener's EXITED history records waiting for their exit status: written by the protocol
/// loop after its question to supervisord, or by the signal thread when the listener is stopped first.
final class PendingHistory: Sendable {
    private let records = Mutex<[(record: HistoryRecord, serial: Int)]>([])

    func add(_ record: HistoryRecord, serial: Int) { records.withLock { $0.append((record, serial)) } }

    /// Everything waiting, oldest first; nothing is returned twice.
    func takeAll() -> [(record: HistoryRecord, serial: Int)] {
        records.withLock { r in
            defer { r = [] }
            return r
        }
    }
}
