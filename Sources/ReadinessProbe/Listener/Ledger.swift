// The event listener's ledger: what `readiness-probe listen` knows about every supervisord
// program, kept from PROCESS_STATE events (seeded from one getAllProcessInfo), and written
// atomically to <rundir>/readiness-probe/ledger.json for `run` to read (source = events/auto).
// docs/event-listener.md describes the file.
import ProbeSupport
import SupervisorKit

/// A critical program's unexpected exit (EXITED expected:0) or FATAL, as the listener saw it.
struct LedgerFailure: Sendable, Equatable {
    /// EXITED or FATAL.
    var state: ProcessState
    /// Epoch seconds when the listener saw it.
    var at: Double
    var serial: Int
    var detail: String

    init(state: ProcessState, at: Double, serial: Int, detail: String) {
        self.state = state
        self.at = at
        self.serial = serial
        self.detail = detail
    }
}

/// One program in the ledger.
struct LedgerEntry: Sendable, Equatable {
    var name: String
    var group: String
    var state: ProcessState
    var pid: Int
    /// `expected` of the last PROCESS_STATE_EXITED event; nil if not seen since the seed.
    var expected: Bool?
    /// The exit status from the seed (getAllProcessInfo); nil once an event replaced it.
    var exitStatus: Int?
    var spawnError: String
    /// Epoch seconds of the last change (event or seed).
    var changedAt: Double
    /// The serial of the last applied event; -1 when the state came from the seed.
    var serial: Int
    /// Set by an unexpected exit of a critical program; see `failureActive`.
    var failure: LedgerFailure?
    /// sd_notify messages since the program's current start (Notify/, docs/notify.md).
    var notify: NotifyState? = nil
    /// Epoch seconds of the program's recent exits, oldest first (at most `maxExits`): every
    /// PROCESS_STATE_EXITED (it left RUNNING) and every BACKOFF (it died before reaching it). An
    /// operator's stop (STOPPED) clears them. The programs check reads them for crash loops (code 13).
    var exits: [Double] = []

    /// How many exits an entry keeps (`[programs] crash_loop` counts up to this many).
    static let maxExits = 32

    init(name: String, group: String, state: ProcessState, pid: Int = 0, expected: Bool? = nil,
                exitStatus: Int? = nil, spawnError: String = "", changedAt: Double, serial: Int = -1,
                failure: LedgerFailure? = nil) {
        self.name = name
        self.group = group
        self.state = state
        self.pid = pid
        self.expected = expected
        self.exitStatus = exitStatus
        self.spawnError = spawnError
        self.changedAt = changedAt
        self.serial = serial
        self.failure = failure
    }

    var namespec: String { SupervisorProcess.namespec(group: group, name: name) }

    /// A recorded failure counts until the program is RUNNING again AND `hold` has passed
    /// since the failure (so a crash that autorestart repairs within a second is still reported
    /// by probes for `hold`).
    func failureActive(now: Double, hold: Duration) -> Bool {
        guard let f = failure else { return false }
        return state != .running || now - f.at < hold.secondsDouble
    }

    /// The program's exits as the checks see them (nil: none recorded).
    func exitRecord() -> ProgramExits? {
        if exits.isEmpty { return nil }
        return ProgramExits(namespec: namespec, state: state, runningSince: state == .running ? changedAt : nil, exits: exits)
    }

    /// The process as the checks see it. An active failure shows as the failing state
    /// (EXITED/FATAL) with the listener's explanation, so the programs check gives code 4.
    func process(now: Double, hold: Duration) -> SupervisorProcess {
        if let f = failure, failureActive(now: now, hold: hold) {
            // "critical program X <what> (pid N); seen by the event listener[; log: PATH]": what
            // supervisord did since goes before the log file, which is the last thing to read.
            var desc = f.detail, log = ""
            if let r = desc.firstRange(of: "; log: ") { log = String(desc[r.lowerBound...]); desc = String(desc[..<r.lowerBound]) }
            if state == .running {
                desc += "; restarted by supervisord, now RUNNING (pid \(pid)); reported for \(DurationText.format(hold)) after the exit ([listener] failure_hold)"
            } else if state == .starting || state == .backoff {
                desc += "; supervisord is restarting it, now \(state.name)"
            } else if state != f.state { desc += "; now \(state.name)" }
            desc += log
            return SupervisorProcess(name: name, group: group, state: f.state, description: desc, spawnError: "",
                                     exitStatus: nil, exitExpected: f.state == .exited ? false : nil, pid: pid)
        }
        return SupervisorProcess(name: name, group: group, state: state, description: "", spawnError: spawnError,
                                 exitStatus: exitStatus, exitExpected: expected, pid: pid)
    }
}

/// The ledger: every program plus the listener's own bookkeeping.
struct Ledger: Sendable, Equatable {
    static let format = "readiness-probe-ledger/1"
    /// The version id of the file's shape: docs/schema/ledger.schema.json (`format` stays for older readers).
    static let schema = "readiness-probe/ledger/3"

    var entries: [LedgerEntry] = []
    /// Epoch seconds of the last write (set by `encode`); readers judge freshness by it.
    var writtenAt: Double = 0
    /// `when` of the last TICK event (supervisord's clock), if any.
    var tickAt: Double? = nil
    var listenerPID: Int = 0
    var supervisordPID: Int? = nil
    /// Start times (/proc/PID/stat field 22) of the listener and supervisord, and the boot id:
    /// with the pids, who wrote the ledger (see WriterTrust; readers verify them).
    var listenerStart: UInt64? = nil
    var supervisordStart: UInt64? = nil
    var bootID: String? = nil
    /// The listener's own pool (group), never a program of the ledger.
    var pool: String? = nil
    /// Event-listener groups (never critical by `*`).
    var listenerGroups: [String] = []
    /// True once seeded from getAllProcessInfo; an unseeded ledger is not trusted.
    var complete = false
    var seededAt: Double? = nil
    /// True when the listener ended (stdin closed): the ledger is no longer kept.
    var closed = false
    /// supervisord's own state from SUPERVISOR_STATE_CHANGE events: RUNNING or STOPPING.
    var supervisordState = "RUNNING"
    var lastSerial: Int = -1
    var eventsApplied: Int = 0
    /// Every distinct event handled (duplicates excluded), of any kind.
    var eventsSeen: Int = 0
    /// The highest `poolserial` seen in the listener's own pool (-1: none). With no event lost
    /// since the pool began, `events == pool_serial + 1`.
    var poolSerial: Int = -1
    /// The notify socket and its counters (nil: the listener has no notify socket configured).
    var notify: NotifyLedgerInfo? = nil
    /// `on_watchdog = restart`: the last restart the listener asked supervisord for, per program.
    var watchdogRestarts: [WatchdogRestart] = []

    init() {}

    /// The writer recorded in the ledger.
    var writer: WriterIdentity {
        get {
            WriterIdentity(bootID: bootID,
                           listener: listenerStart.map { ProcessIdentity(pid: listenerPID, startTime: $0) },
                           supervisord: supervisordPID.flatMap { pid in supervisordStart.map { ProcessIdentity(pid: pid, startTime: $0) } })
        }
        set {
            bootID = newValue.bootID
            if let l = newValue.listener { listenerPID = l.pid }
            listenerStart = newValue.listener?.startTime
            supervisordPID = newValue.supervisord?.pid ?? supervisordPID
            supervisordStart = newValue.supervisord?.startTime
        }
    }

    /// Whether `other` was written for the same supervisord process in the same boot (pid,
    /// start time and boot id all known and equal): only then may a listener keep its entries.
    func sameSupervisord(as other: Ledger) -> Bool {
        guard let a = writer.supervisord, let b = other.writer.supervisord, let boot = bootID else { return false }
        return a == b && boot == other.bootID
    }

    /// Whether `pid` is a live process now (not a zombie); unknown counts as gone.
    static func processAlive(_ pid: Int) -> Bool {
        if case .alive = ProcessIdentity.lookup(pid) { return true }
        return false
    }

    func index(name: String, group: String) -> Int? {
        entries.firstIndex { $0.name == name && $0.group == group }
    }

    func entry(_ namespec: String) -> LedgerEntry? {
        entries.first { $0.namespec == namespec } ?? entries.first { $0.name == namespec }
    }

    // MARK: applying what the listener learns

    /// Replaces every program's state with a fresh getAllProcessInfo answer, keeping recorded
    /// failures of programs that still exist. Listener groups are left out.
    mutating func seed(_ processes: [SupervisorProcess], now: Double) {
        var next: [LedgerEntry] = []
        for p in processes where p.group != pool && !listenerGroups.contains(p.group) {
            var e = LedgerEntry(name: p.name, group: p.group, state: p.state, pid: p.pid, expected: nil,
                                exitStatus: p.exitStatus, spawnError: p.spawnError, changedAt: now)
            if let old = index(name: p.name, group: p.group) {
                e.failure = entries[old].failure
                e.exits = entries[old].exits
                if let n = entries[old].notify, n.pid == p.pid, p.pid > 0 { e.notify = n }
                if entries[old].state == p.state {
                    e.expected = entries[old].expected
                    e.changedAt = entries[old].changedAt
                    e.serial = entries[old].serial
                }
            }
            next.append(e)
        }
        entries = next
        complete = true
        seededAt = now
    }

    /// What applying one PROCESS_STATE event changed.
    struct Change: Sendable, Equatable {
        var namespec: String
        var state: ProcessState
        /// A failure that this event recorded (the program must be critical).
        var newFailure: LedgerFailure?
        /// The failure is an unexpected exit or FATAL: what `on_critical_exit = terminate` acts on
        /// (an expected exit or a BACKOFF is latched, but never stops supervisord).
        var unexpected: Bool = false
    }

    /// Applies `PROCESS_STATE_<STATE>` for one process. `critical` says whether the program is
    /// critical (an unexpected exit or FATAL then records a failure). Events older than the
    /// entry's last event (by serial) are ignored. Returns nil when nothing changed.
    /// `isAlive` says whether a pid is a live process now (the notify rule below; tests pass their own).
    mutating func apply(state: ProcessState, name: String, group: String, pid: Int?, expected: Bool?,
                        serial: Int, now: Double, critical: Bool,
                        isAlive: (Int) -> Bool = Ledger.processAlive) -> Change? {
        lastSerial = max(lastSerial, serial)
        eventsApplied += 1
        let i: Int
        if let found = index(name: name, group: group) {
            i = found
            if serial < entries[i].serial { return nil }
        } else {
            entries.append(LedgerEntry(name: name, group: group, state: state, changedAt: now))
            i = entries.count - 1
        }
        var e = entries[i]
        e.state = state
        e.serial = serial
        e.changedAt = now
        if let pid { e.pid = pid } else if state == .backoff || state == .fatal || state == .starting { e.pid = 0 }
        if state == .exited || state == .stopped { e.pid = 0 }
        // A restart clears what the program said through sd_notify (docs/notify.md). What it said
        // belongs to the pid that said it: it goes when an event ends that process (STOPPING,
        // STOPPED, EXITED of that pid), when another live pid is RUNNING, or when that process is
        // gone. supervisord queues events while the listener seeds, so an event can be older than
        // the seed: a fast daemon (redis) sends READY=1 from the pid the seed found before the
        // listener has read that start's STARTING and RUNNING events, which must not clear it.
        if let n = e.notify {
            let keep: Bool
            if let pid, pid == n.pid { keep = state == .running }
            else if state == .running, let pid, isAlive(pid) { keep = false }
            else { keep = isAlive(n.pid) }
            if !keep { e.notify = nil }
        }
        if state == .exited || state == .backoff {
            // It left RUNNING (EXITED), or died before reaching it (BACKOFF): a crash loop's steps.
            if e.exits.count >= LedgerEntry.maxExits { e.exits.removeFirst(e.exits.count - LedgerEntry.maxExits + 1) }
            e.exits.append(now)
        } else if state == .stopped {
            e.exits = []  // stopped on purpose: a later start begins a new count
        }
        if state == .exited {
            e.expected = expected
            e.exitStatus = nil
        } else if state == .starting {
            e.expected = nil
            e.exitStatus = nil
        }
        e.spawnError = state == .fatal ? "Exited too quickly (event listener saw FATAL)" : ""
        var recorded: LedgerFailure? = nil
        // Latching: every way a critical program goes down is recorded, and reported until it is
        // RUNNING again and `failure_hold` has passed (docs/event-listener.md, "Latching").
        if critical && (state == .exited || state == .fatal || state == .backoff) && e.failure?.serial != serial {
            let what: String
            switch state {
            case .fatal: what = "entered FATAL (it could not be kept running)"
            case .backoff: what = "exited before it was RUNNING (BACKOFF; supervisord retries)"
            default: what = (expected == false ? "exited unexpectedly" : "exited (an expected exit status)") + (pid.map { " (pid \($0))" } ?? "")
            }
            let f = LedgerFailure(state: state, at: now, serial: serial,
                                  detail: "critical program \(e.namespec) \(what); seen by the event listener")
            e.failure = f
            recorded = f
        }
        entries[i] = e
        return Change(namespec: e.namespec, state: state, newFailure: recorded,
                      unexpected: recorded != nil && (state == .fatal || (state == .exited && expected == false)))
    }

    /// What supervisord said after an exit event (`serial`) of `namespec`: its exit status (only
    /// while the program is still EXITED from that event), the cause (`exited with status 1`,
    /// `was killed by SIGKILL`) and the program's log file, which go into a failure recorded by
    /// that event. Returns whether anything changed.
    /// `note` (what supervisord's log did not say) goes after the detail, before the log file.
    mutating func explainExit(namespec: String, serial: Int, exitStatus: Int?, cause: String?, note: String? = nil,
                              logFile: String?) -> Bool {
        guard let i = entries.firstIndex(where: { $0.namespec == namespec }) else { return false }
        var e = entries[i]
        if let exitStatus, e.serial == serial, e.state == .exited { e.exitStatus = exitStatus }
        if var f = e.failure, f.serial == serial, f.state == .exited, cause != nil || note != nil,
           f.detail.contains(" exited unexpectedly") {
            if let cause { f.detail = f.detail.replacing(" exited unexpectedly", with: " " + cause) }
            if let note, !f.detail.contains(note) {
                // Before the log file, which stays the last thing to read.
                if let r = f.detail.firstRange(of: "; log: ") { f.detail.insert(contentsOf: "; \(note)", at: r.lowerBound) }
                else { f.detail += "; \(note)" }
            }
            if let logFile, !logFile.isEmpty, !f.detail.contains("; log: ") { f.detail += "; log: \(logFile)" }
            e.failure = f
        } else if var f = e.failure, f.serial == serial, let logFile, !logFile.isEmpty, !f.detail.contains("; log: ") {
            f.detail += "; log: \(logFile)"
            e.failure = f
        }
        guard e != entries[i] else { return false }
        entries[i] = e
        return true
    }

    /// What supervisord's main log says about the exit of process `name` with pid `pid`: the text
    /// in `exited: NAME (...; ...)` (`exit status 1`, `terminated by SIGKILL`, `terminated by
    /// SIGSEGV (core dumped)`), from the first such line after `spawned: 'NAME' with pid PID` and
    /// before the next spawn of NAME. supervisord logs both at level info or above; XML-RPC does not
    /// say which signal killed a process. When the spawn line is no longer in the tail (a program
    /// that ran long), the first exit line of NAME in the tail counts if no spawn of NAME precedes
    /// it: the exit of the process that was running when the tail begins. `pid` nil: the exit line
    /// after the last spawn of NAME (a BACKOFF event names no pid; supervisord retries a second or
    /// more later).
    /// supervisord logs a spawn at level info and an unexpected exit at warn: with `loglevel = warn`
    /// (no `spawned:` line in the log at all), an `unexpected` exit's line is the program's LAST
    /// `exited: NAME (...; not expected)` line (the listener asks right after the exit event, and
    /// supervisord writes the line before it sends the event); an expected exit (logged at info)
    /// has none. nil if not found (`loglevel = error` or `critical`, a syslog-only log).
    static func exitLine(log: String, name: String, pid: Int?, unexpected: Bool = false) -> Substring? {
        let exitPrefix = "exited: \(name) ("
        let rest: Substring
        if let pid {
            guard pid > 0 else { return nil }
            let spawnPrefix = "spawned: '\(name)' with pid "
            if !log.contains("spawned: '") {
                guard unexpected, let last = log.ranges(of: exitPrefix).last(where: {
                    log[$0.upperBound...].prefix { $0 != "\n" }.hasSuffix("; not expected)")
                }) else { return nil }
                return Self.exitText(log[last.upperBound...])
            }
            rest = log.ranges(of: spawnPrefix + "\(pid)\n").last.map { log[$0.upperBound...] } ?? log[...]
            guard let exited = rest.firstRange(of: exitPrefix) else { return nil }
            if let nextSpawn = rest.firstRange(of: spawnPrefix), nextSpawn.lowerBound < exited.lowerBound { return nil }
            return Self.exitText(rest[exited.upperBound...])
        }
        guard let spawned = log.ranges(of: "spawned: '\(name)' with pid ").last,
              let exited = log[spawned.upperBound...].firstRange(of: exitPrefix) else { return nil }
        return Self.exitText(log[exited.upperBound...])
    }

    private static func exitText(_ tail: Substring) -> Substring {
        let end = tail.firstIndex { $0 == ";" || $0 == "\n" } ?? tail.endIndex
        return tail[..<end]
    }

    /// The cause of process `name`'s exit with pid `pid` (`exitLine`): `exited with status 1`,
    /// `was killed by SIGKILL`, `was killed by SIGSEGV (core dumped)`; nil if not found.
    static func exitCause(log: String, name: String, pid: Int?, unexpected: Bool = false) -> String? {
        guard let what = exitLine(log: log, name: name, pid: pid, unexpected: unexpected) else { return nil }
        if what.hasPrefix("terminated by ") { return "was killed by " + what.dropFirst(14) }
        if what.hasPrefix("exit status ") { return "exited with status " + what.dropFirst(12) }
        return nil
    }

    /// How process `name` with pid `pid` ended, per supervisord's log (`exitLine`): the status
    /// of a normal exit, or the number of the signal that killed it; nil if the log does not say.
    static func exitOutcome(log: String, name: String, pid: Int?, unexpected: Bool = false) -> (status: Int?, signal: Int32?)? {
        guard let what = exitLine(log: log, name: name, pid: pid, unexpected: unexpected) else { return nil }
        if what.hasPrefix("exit status ") {
            guard let n = Int(what.dropFirst(12)), (0...255).contains(n) else { return nil }
            return (n, nil)
        }
        if what.hasPrefix("terminated by ") {
            // supervisord's signame(): "SIGKILL", "SIGSEGV (core dumped)", or "signal 35" for a number without a name.
            let sig = what.dropFirst(14)
            let n: Int32? = sig.hasPrefix("signal ") ? Int32(sig.dropFirst(7).prefix { $0.isNumber })
                                                     : Signals.number(named: String(sig.prefix { $0 != " " }))
            guard let n, (1...127).contains(n) else { return nil }
            return (nil, n)
        }
        return nil
    }

    /// Drops failures that are over (RUNNING again and past `hold`); returns whether any was dropped.
    mutating func expireFailures(now: Double, hold: Duration) -> Bool {
        var changed = false
        for i in entries.indices where entries[i].failure != nil && !entries[i].failureActive(now: now, hold: hold) {
            entries[i].failure = nil
            changed = true
        }
        return changed
    }

    // MARK: the snapshot the checks read

    func snapshot(now: Double, hold: Duration) -> SupervisorSnapshot {
        var s = SupervisorSnapshot(processes: entries.map { $0.process(now: now, hold: hold) }, source: "events",
                                   listenerGroups: Set(listenerGroups + (pool.map { [$0] } ?? [])))
        s.notify = NotifySnapshot(ledger: self)
        s.exits = entries.compactMap { $0.exitRecord() }
        return s
    }

    // MARK: JSON

    func json() -> JSONValue {
        func num(_ d: Double?) -> JSONValue { d.map { .real(($0 * 1000).rounded() / 1000) } ?? .null }
        func int(_ i: Int?) -> JSONValue { i.map { .number(Double($0)) } ?? .null }
        let programs: [JSONValue] = entries.map { e in
            .object([
                ("name", .string(e.name)), ("group", .string(e.group)), ("state", .string(e.state.name)),
                ("pid", int(e.pid)), ("expected", e.expected.map { .bool($0) } ?? .null),
                ("exit_status", int(e.exitStatus)), ("spawnerr", .string(e.spawnError)),
                ("changed_at", num(e.changedAt)), ("serial", int(e.serial)),
                ("failure", e.failure.map { f in
                    .object([("state", .string(f.state.name)), ("at", num(f.at)), ("serial", int(f.serial)),
                             ("detail", .string(f.detail))])
                } ?? .null),
                ("notify", e.notify?.json() ?? .null),
                ("exits", .array(e.exits.map { num($0) })),
            ])
        }
        return .object([
            ("schema", .string(Ledger.schema)),
            ("format", .string(Ledger.format)),
            ("written_at", num(writtenAt)), ("tick_at", num(tickAt)),
            ("listener_pid", int(listenerPID)), ("supervisord_pid", int(supervisordPID)),
            ("listener_start", listenerStart.map { .number(Double($0)) } ?? .null),
            ("supervisord_start", supervisordStart.map { .number(Double($0)) } ?? .null),
            ("boot_id", bootID.map { .string($0) } ?? .null),
            ("pool", pool.map { .string($0) } ?? .null),
            ("listener_groups", .array(listenerGroups.map { .string($0) })),
            ("complete", .bool(complete)), ("seeded_at", num(seededAt)), ("closed", .bool(closed)),
            ("supervisord_state", .string(supervisordState)),
            ("last_serial", int(lastSerial)), ("events", int(eventsSeen)), ("pool_serial", int(poolSerial)), ("state_events", int(eventsApplied)),
            ("programs", .array(programs)),
            ("notify", notify?.json() ?? .null),
            ("watchdog_restarts", .array(watchdogRestarts.map { $0.json() })),
        ])
    }

    struct DecodeError: Error, Sendable, CustomStringConvertible {
        var reason: String
        var description: String { reason }
    }

    init(json v: JSONValue) throws(DecodeError) {
        func bad(_ r: String) -> DecodeError { DecodeError(reason: r) }
        guard v["format"]?.stringValue == Ledger.format else {
            throw bad("not a \(Ledger.format) file (format is \(v["format"].map { JSON.serialize($0) } ?? "missing"))")
        }
        guard let written = v["written_at"]?.doubleValue else { throw bad("written_at is missing") }
        guard let programs = v["programs"]?.arrayValue else { throw bad("programs is missing") }
        writtenAt = written
        tickAt = v["tick_at"]?.doubleValue
        listenerPID = v["listener_pid"]?.intValue ?? 0
        supervisordPID = v["supervisord_pid"]?.intValue
        let recorded = WriterIdentity(json: v)
        listenerStart = recorded.listener?.startTime
        supervisordStart = recorded.supervisord?.startTime
        bootID = recorded.bootID
        pool = v["pool"]?.stringValue
        listenerGroups = (v["listener_groups"]?.arrayValue ?? []).compactMap(\.stringValue)
        complete = v["complete"]?.boolValue ?? false
        seededAt = v["seeded_at"]?.doubleValue
        closed = v["closed"]?.boolValue ?? false
        supervisordState = v["supervisord_state"]?.stringValue ?? "RUNNING"
        lastSerial = v["last_serial"]?.intValue ?? -1
        eventsApplied = v["state_events"]?.intValue ?? 0
        eventsSeen = v["events"]?.intValue ?? 0
        poolSerial = v["pool_serial"]?.intValue ?? -1
        notify = NotifyLedgerInfo(json: v["notify"])
        watchdogRestarts = (v["watchdog_restarts"]?.arrayValue ?? []).compactMap(WatchdogRestart.init(json:))
        for p in programs {
            guard let name = p["name"]?.stringValue, let group = p["group"]?.stringValue,
                  let sn = p["state"]?.stringValue, let state = ProcessState(name: sn) else {
                throw bad("a program entry lacks name, group or a known state")
            }
            var failure: LedgerFailure? = nil
            if let f = p["failure"], f != .null {
                guard let fs = f["state"]?.stringValue.flatMap(ProcessState.init(name:)), let at = f["at"]?.doubleValue else {
                    throw bad("program \(name): malformed failure")
                }
                failure = LedgerFailure(state: fs, at: at, serial: f["serial"]?.intValue ?? -1,
                                        detail: f["detail"]?.stringValue ?? "critical program \(name) failed")
            }
            entries.append(LedgerEntry(name: name, group: group, state: state, pid: p["pid"]?.intValue ?? 0,
                                       expected: p["expected"]?.boolValue, exitStatus: p["exit_status"]?.intValue,
                                       spawnError: p["spawnerr"]?.stringValue ?? "",
                                       changedAt: p["changed_at"]?.doubleValue ?? 0, serial: p["serial"]?.intValue ?? -1,
                                       failure: failure))
            entries[entries.count - 1].notify = NotifyState(json: p["notify"])
            let exits = (p["exits"]?.arrayValue ?? []).compactMap(\.doubleValue)
            entries[entries.count - 1].exits = Array(exits.suffix(LedgerEntry.maxExits))
        }
    }

    /// The folder under rundir that holds the ledger and the cached result.
    static func folder(_ settings: ProbeSettings) -> String { settings.rundir + "/readiness-probe" }
    static func path(_ settings: ProbeSettings) -> String { folder(settings) + "/ledger.json" }

    /// Reads the ledger file; nil when it does not exist. The folder and the file must pass
    /// WriterTrust's owner, mode and type checks (no symlink, regular file, size cap); its
    /// writer is not verified here (see `LedgerSource` and `WriterTrust.verify`).
    static func read(path: String) throws(DecodeError) -> Ledger? {
        let bytes: [UInt8]
        let slash = path.lastIndex(of: "/") ?? path.startIndex
        switch WriterTrust.read(folder: String(path[..<slash]), name: String(path[path.index(after: slash)...])) {
        case .missing: return nil
        case .untrusted(let why): throw DecodeError(reason: "not trusted: \(why)")
        case .bytes(let b): bytes = b
        }
        do { return try Ledger(json: try JSON.parse(bytes)) } catch let e as JSON.ParseError {
            throw DecodeError(reason: "\(path): \(e)")
        } catch let e as DecodeError {
            throw DecodeError(reason: "\(path): \(e.reason)")
        } catch {
            throw DecodeError(reason: "\(path): \(error)")
        }
    }

    /// The file's bytes.
    func encoded() -> [UInt8] { Array((JSON.serialize(json()) + "\n").utf8) }

    /// Writes the ledger atomically (mode 0644), stamping `writtenAt`. The listener itself
    /// writes through its folder's descriptor (ListenerFiles); this is for tools and tests.
    mutating func write(path: String, now: Double) throws(SystemError) {
        writtenAt = now
        try Platform.writeFileAtomically(path, encoded())
    }

    /// Forgets everything learned from events and seeds: a new supervisord, or events that
    /// cannot belong to the one the ledger describes. The caller reseeds.
    mutating func reset() {
        entries = []
        complete = false
        seededAt = nil
        lastSerial = -1
        eventsApplied = 0
        eventsSeen = 0
        poolSerial = -1
        tickAt = nil
        supervisordState = "RUNNING"
    }

    /// Removes every program of `group` (PROCESS_GROUP_REMOVED); returns how many.
    @discardableResult
    mutating func removeGroup(_ group: String) -> Int {
        let before = entries.count
        entries.removeAll { $0.group == group }
        return before - entries.count
    }
}

extension Duration {
    /// Seconds as a Double.
    var secondsDouble: Double { millisecondsDouble / 1000 }
}
