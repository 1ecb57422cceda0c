// `[program:NAME] on_watchdog = restart` (docs/notify.md): the listener asks supervisord to
// restart a notify program whose watchdog expired (no WATCHDOG=1 within its period) or that sent
// WATCHDOG=trigger, as systemd's Restart=on-watchdog does. The protocol loop notices it (it wakes
// when the next watched watchdog is due; TICKs and notify datagrams check too); the XML-RPC calls
// (stopProcess, then startProcess) run on a thread of their own, so supervisord's events are
// answered meanwhile. Each restart is recorded in the ledger (`watchdog_restarts`), and a program
// is never restarted again before its watchdog period (at least 1 s) has passed since the last
// request: a program that hangs at once after each start is restarted once per period, not in a
// tight loop.
@preconcurrency import Glibc
import ProbeSupport
import SupervisorKit
import Synchronization

/// The last restart the listener asked supervisord for, for one program (kept in the ledger).
struct WatchdogRestart: Sendable, Equatable {
    /// The program's namespec.
    var program: String
    /// The pid whose watchdog expired.
    var pid: Int
    /// When the listener asked (epoch seconds).
    var at: Double
    var reason: String
    /// Restarts asked for this program by listeners of this supervisord.
    var count: Int
    /// `requested` until the XML-RPC calls end, then `restarted` or `failed: WHY`.
    var result: String

    func json() -> JSONValue {
        .object([("program", .string(program)), ("pid", .number(Double(pid))), ("at", .real((at * 1000).rounded() / 1000)),
                 ("reason", .string(reason)), ("count", .number(Double(count))), ("result", .string(result))])
    }

    init(program: String, pid: Int, at: Double, reason: String, count: Int, result: String) {
        self.program = program
        self.pid = pid
        self.at = at
        self.reason = reason
        self.count = count
        self.result = result
    }

    init?(json v: JSONValue) {
        guard let program = v["program"]?.stringValue, let at = v["at"]?.doubleValue else { return nil }
        self.init(program: program, pid: v["pid"]?.intValue ?? 0, at: at, reason: v["reason"]?.stringValue ?? "",
                  count: v["count"]?.intValue ?? 1, result: v["result"]?.stringValue ?? "")
    }
}

/// Used on the protocol thread only; the restart threads report through `inbox`.
final class WatchdogRestarter: @unchecked Sendable {
    let check: WatchedPrograms
    let settings: ProbeSettings
    let log: @Sendable (String) -> Void
    /// (program, result) from finished restart threads.
    let inbox = Mutex<[(String, String)]>([])
    private var inFlight: [String] = []
    /// How long stopProcess (supervisord waits up to the program's stopwaitsecs) and
    /// startProcess (it waits startsecs) may each take.
    var callTimeout: Duration = .seconds(60)

    init(check: WatchedPrograms, settings: ProbeSettings, log: @escaping @Sendable (String) -> Void) {
        self.check = check
        self.settings = settings
        self.log = log
    }

    /// nil unless some `[program:NAME]` says `on_watchdog = restart`.
    static func make(_ entries: [CheckEntry], settings: ProbeSettings, log: @escaping @Sendable (String) -> Void) -> WatchdogRestarter? {
        let c = WatchedPrograms.of(entries)
        guard c.programWatchdogs.contains(where: \.restart) else { return nil }
        return WatchdogRestarter(check: c, settings: settings, log: log)
    }

    private func process(_ e: LedgerEntry) -> SupervisorProcess {
        SupervisorProcess(name: e.name, group: e.group, state: e.state, pid: e.pid)
    }

    /// Whether `e` is a notify program with `on_watchdog = restart`.
    func watches(_ e: LedgerEntry) -> Bool {
        let p = process(e)
        return check.restartsOnWatchdog(p) && check.notify.contains {
            $0.matches(name: e.name, group: e.group, namespec: e.namespec, startProgram: nil, isListenerGroup: { _ in false })
        }
    }

    /// The watchdog period that applies to `e` (its own WATCHDOG_USEC=, `[program:NAME]`, `[programs]`).
    func period(_ e: LedgerEntry, _ n: NotifyState) -> Double? { n.watchdogPeriod(configured: check.watchdog(for: process(e))) }

    /// The shortest time between two restarts of `e`: its watchdog period, at least 1 s
    /// (30 s, the default period, when it has none and sent WATCHDOG=trigger).
    func minimumGap(_ e: LedgerEntry, _ n: NotifyState) -> Double { max(1, period(e, n) ?? check.watchdog?.secondsDouble ?? 30) }

    /// Why `e` must be restarted at `now`, or nil.
    func reason(_ e: LedgerEntry, now: Double) -> String? {
        guard e.state == .running, let n = e.notify, n.pid == e.pid, watches(e) else { return nil }
        if let t = n.triggeredAt { return "WATCHDOG=trigger \(DurationText.format(.milliseconds(Int64(max(0, now - t) * 1000)))) ago" }
        guard let w = n.watchdogAt, let p = period(e, n), now - w > p else { return nil }
        return "watchdog expired (last WATCHDOG=1 \(DurationText.format(.milliseconds(Int64((now - w) * 1000)))) ago, period "
            + "\(DurationText.format(.milliseconds(Int64(p * 1000)))))"
    }

    private func last(_ ledger: Ledger, _ program: String) -> WatchdogRestart? {
        ledger.watchdogRestarts.first { $0.program == program }
    }

    /// When `check` next has something to do (epoch seconds), or nil: the protocol loop's wake-up.
    func nextDue(_ ledger: Ledger, now: Double) -> Double? {
        var next: Double? = nil
        for e in ledger.entries where e.state == .running {
            guard let n = e.notify, n.pid == e.pid, !inFlight.contains(e.namespec), watches(e) else { continue }
            var due: Double
            if n.triggeredAt != nil { due = now }
            else if let w = n.watchdogAt, let p = period(e, n) { due = w + p + 0.001 }
            else { continue }
            if let l = last(ledger, e.namespec) { due = max(due, l.at + minimumGap(e, n)) }
            next = min(next ?? due, due)
        }
        if !inbox.withLock({ $0.isEmpty }) { next = now }
        return next
    }

    /// Records finished restarts and starts the ones due now. Returns whether the ledger changed.
    func check(_ ledger: inout Ledger, now: Double) -> Bool {
        var changed = false
        for (program, result) in inbox.withLock({ box -> [(String, String)] in defer { box.removeAll() }; return box }) {
            inFlight.removeAll { $0 == program }
            if let i = ledger.watchdogRestarts.firstIndex(where: { $0.program == program }) {
                ledger.watchdogRestarts[i].result = result
                changed = true
            }
        }
        for e in ledger.entries {
            guard let why = reason(e, now: now), let n = e.notify, !inFlight.contains(e.namespec) else { continue }
            let previous = last(ledger, e.namespec)
            if let previous, now - previous.at < minimumGap(e, n) { continue }
            let r = WatchdogRestart(program: e.namespec, pid: e.pid, at: now, reason: why, count: (previous?.count ?? 0) + 1,
                                    result: "requested")
            ledger.watchdogRestarts.removeAll { $0.program == e.namespec }
            ledger.watchdogRestarts.append(r)
            if ledger.watchdogRestarts.count > 64 { ledger.watchdogRestarts.removeFirst() }
            inFlight.append(e.namespec)
            changed = true
            log("on_watchdog = restart: asking supervisord to restart \(e.namespec) (pid \(e.pid)): \(why)")
            restart(e.namespec)
        }
        return changed
    }

    /// stopProcess(NAME, wait) then startProcess(NAME, wait), on a thread of its own.
    private func restart(_ program: String) {
        let settings = self.settings, log = self.log, timeout = callTimeout
        PlainThread.detach { [self] in
            var result = "restarted"
            do throws(SupervisorError) {
                let client = SupervisorClient(location: try SupervisorView.locate(settings))
                do throws(SupervisorError) {
                    _ = try client.call(method: "supervisor.stopProcess", params: [.string(program), .bool(true)], deadline: .after(timeout))
                } catch {
                    // NOT_RUNNING (70): it ended meanwhile; start it all the same.
                    if !error.description.contains("fault 70") { throw error }
                }
                do throws(SupervisorError) {
                    _ = try client.call(method: "supervisor.startProcess", params: [.string(program), .bool(true)], deadline: .after(timeout))
                } catch {
                    // ALREADY_STARTED (60): someone else started it.
                    if !error.description.contains("fault 60") { throw error }
                }
            } catch {
                result = "failed: \(error)"
            }
            log("on_watchdog = restart: \(program): \(result)")
            self.inbox.withLock { $0.append((program, result)) }
        }
    }
}
