// What the listener knows of one program's sd_notify messages since its current start, kept in
// the ledger entry of that program (docs/notify.md). A restart (new pid, or any state but
// RUNNING/STARTING) clears it; RELOADING=1 clears READY until the next READY=1.
import ProbeSupport

struct NotifyState: Sendable, Equatable {
    /// The program's pid these messages belong to (the ledger entry's pid when they were applied).
    var pid: Int
    /// When the current READY=1 arrived (nil: not ready since the start, or since RELOADING=1).
    var readyAt: Double? = nil
    var reloadingAt: Double? = nil
    var stoppingAt: Double? = nil
    /// The last STATUS= text.
    var status: String? = nil
    var errno: Int? = nil
    /// The last WATCHDOG=1; the watchdog is armed from the first one.
    var watchdogAt: Double? = nil
    /// WATCHDOG_USEC= from the program: its own watchdog period.
    var watchdogUSec: UInt64? = nil
    /// WATCHDOG=trigger: failed until the program restarts.
    var triggeredAt: Double? = nil
    /// MAINPID=: another pid that speaks for this program.
    var mainPID: Int? = nil
    var lastAt: Double = 0
    var messages: Int = 0

    init(pid: Int) { self.pid = pid }

    /// Applies one message received at `now`; returns true when what a probe concludes may have
    /// changed (ready, reloading, stopping, trigger, the watchdog's arming or period, MAINPID), false
    /// for STATUS=, ERRNO= and watchdog pings (the listener writes those at most once a second).
    @discardableResult
    mutating func apply(_ m: NotifyMessage, now: Double) -> Bool {
        let before = self
        messages += 1
        lastAt = now
        if m.reloading { reloadingAt = now; readyAt = nil }
        if m.ready {
            if readyAt == nil { readyAt = now }
            reloadingAt = nil
        }
        if m.stopping && stoppingAt == nil { stoppingAt = now }
        if let s = m.status { status = s }
        if let e = m.errno { errno = e }
        if let p = m.mainPID { mainPID = p }
        if let u = m.watchdogUSec { watchdogUSec = u }
        switch m.watchdog {
        case .ping: watchdogAt = now
        case .trigger: if triggeredAt == nil { triggeredAt = now }
        case nil: break
        }
        return before.readyAt != readyAt || before.reloadingAt != reloadingAt || before.stoppingAt != stoppingAt
            || before.triggeredAt != triggeredAt || (before.watchdogAt == nil) != (watchdogAt == nil)
            || before.watchdogUSec != watchdogUSec || before.mainPID != mainPID
    }

    /// The watchdog period that applies: the program's own WATCHDOG_USEC=, else `configured`
    /// (nil or zero: no watchdog).
    func watchdogPeriod(configured: Duration?) -> Double? {
        if let u = watchdogUSec { return Double(u) / 1e6 }
        guard let c = configured, c > .zero else { return nil }
        return c.secondsDouble
    }

    // MARK: JSON (inside a ledger program entry)

    func json() -> JSONValue {
        func num(_ d: Double?) -> JSONValue { d.map { .real(($0 * 1000).rounded() / 1000) } ?? .null }
        return .object([
            ("pid", .number(Double(pid))), ("ready_at", num(readyAt)), ("reloading_at", num(reloadingAt)),
            ("stopping_at", num(stoppingAt)), ("status", status.map { .string($0) } ?? .null),
            ("errno", errno.map { .number(Double($0)) } ?? .null), ("watchdog_at", num(watchdogAt)),
            ("watchdog_usec", watchdogUSec.map { .number(Double($0)) } ?? .null), ("triggered_at", num(triggeredAt)),
            ("main_pid", mainPID.map { .number(Double($0)) } ?? .null), ("last_at", num(lastAt)),
            ("messages", .number(Double(messages))),
        ])
    }

    init?(json v: JSONValue?) {
        guard let v, v != .null, let pid = v["pid"]?.intValue else { return nil }
        self.pid = pid
        readyAt = v["ready_at"]?.doubleValue
        reloadingAt = v["reloading_at"]?.doubleValue
        stoppingAt = v["stopping_at"]?.doubleValue
        status = v["status"]?.stringValue
        errno = v["errno"]?.intValue
        watchdogAt = v["watchdog_at"]?.doubleValue
        watchdogUSec = v["watchdog_usec"]?.doubleValue.flatMap { $0 >= 1 && $0 <= Double(NotifyMessage.maxWatchdogUSec) ? UInt64($0) : nil }
        triggeredAt = v["triggered_at"]?.doubleValue
        mainPID = v["main_pid"]?.intValue
        lastAt = v["last_at"]?.doubleValue ?? 0
        messages = v["messages"]?.intValue ?? 0
    }
}

/// One notify program as the checks see it: its notify state (nil: no message since its start)
/// and since when it has been RUNNING.
struct NotifyView: Sendable, Equatable {
    var state: NotifyState?
    /// Epoch seconds since the program is RUNNING (the ledger's change time).
    var runningSince: Double

    init(state: NotifyState?, runningSince: Double) {
        self.state = state
        self.runningSince = runningSince
    }

    /// Whether the program counts as ready, and if not, why (for code 12's detail).
    func verdict(name: String, now: Double, watchdog: Duration?) -> (ready: Bool, detail: String, summary: String) {
        func ago(_ t: Double) -> String { "\(DurationText.format(.milliseconds(Int64(max(0, now - t) * 1000) / 100 * 100))) ago" }
        let waiting = DurationText.format(.milliseconds(Int64(max(0, now - runningSince) * 1000) / 100 * 100))
        var tail = ""
        if let s = state?.status, !s.isEmpty { tail = "; STATUS: \"\(s)\"" }
        guard let s = state else {
            return (false, "program \(name) is RUNNING but has not reported ready (no READY=1 since it started; waiting \(waiting))",
                    "program \(name) has not reported ready")
        }
        if let t = s.triggeredAt {
            return (false, "program \(name) triggered its watchdog (WATCHDOG=trigger \(ago(t)))" + tail,
                    "program \(name): watchdog triggered")
        }
        if let t = s.stoppingAt {
            return (false, "program \(name) is stopping (STOPPING=1 \(ago(t)))" + tail, "program \(name) is stopping")
        }
        if let t = s.reloadingAt {
            return (false, "program \(name) is reloading (RELOADING=1 \(ago(t)); no READY=1 since)" + tail,
                    "program \(name) is reloading")
        }
        guard let readyAt = s.readyAt else {
            return (false, "program \(name) is RUNNING but has not reported ready (waiting \(waiting))" + tail,
                    "program \(name) has not reported ready")
        }
        if let w = s.watchdogAt, let period = s.watchdogPeriod(configured: watchdog), now - w > period {
            let expired = DurationText.format(.milliseconds(Int64((now - w - period) * 1000) / 1000 * 1000))
            return (false, "program \(name): watchdog expired \(expired) ago (last WATCHDOG=1 \(ago(w)), period "
                    + "\(DurationText.format(.milliseconds(Int64(period * 1000)))))" + tail,
                    "program \(name): watchdog expired")
        }
        return (true, "program \(name) ready since \(ago(readyAt))" + tail, "program \(name) ready")
    }
}

/// The notify side of a ledger snapshot: every program's notify view, and the socket's error.
struct NotifySnapshot: Sendable, Equatable {
    /// namespec -> view, for RUNNING programs.
    var programs: [String: NotifyView]
    /// Why the listener has no notify socket (nil when it has one, or none was configured).
    var socketError: String?
    var socket: String?

    init(programs: [String: NotifyView] = [:], socketError: String? = nil, socket: String? = nil) {
        self.programs = programs
        self.socketError = socketError
        self.socket = socket
    }

    init(ledger: Ledger) {
        var programs: [String: NotifyView] = [:]
        for e in ledger.entries where e.state == .running {
            let state = e.notify.flatMap { $0.pid == e.pid ? $0 : nil }
            programs[e.namespec] = NotifyView(state: state, runningSince: e.changedAt)
        }
        self.init(programs: programs, socketError: ledger.notify?.error, socket: ledger.notify?.socket)
    }
}
