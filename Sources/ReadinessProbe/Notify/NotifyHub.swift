// The listener's notify side: owns the notify socket, attributes each datagram to a supervisord
// program by its sender's credentials, and applies it to that program's ledger entry
// (docs/notify.md). Runs on the listener's protocol thread only (no locks): the protocol loop
// calls `drain` when the socket is readable and it is not waiting on supervisord.
//
// Attribution, in order: the sender's pid, or one of its ancestors (read from /proc), is a
// program's pid in the ledger (or a MAINPID= it named); else the message names MAINPID=N of a
// program and the sender is root or N's owner. A sender whose ancestry reaches supervisord but
// no known pid (a program still STARTING: its pid comes with the RUNNING event) is held, bounded,
// until an event names one of its ancestors. Everything else is counted and logged, never applied.
import ProbeSupport

@preconcurrency import Glibc

/// The listener's notify counters and socket, as written into the ledger.
struct NotifyLedgerInfo: Sendable, Equatable {
    var socket: String
    /// Why the socket could not be created (notify programs are then never ready).
    var error: String? = nil
    var received = 0
    var applied = 0
    var malformed = 0
    var oversized = 0
    var unattributed = 0
    var fdsClosed = 0
    var pending = 0

    init(socket: String) { self.socket = socket }

    func json() -> JSONValue {
        .object([
            ("socket", .string(socket)), ("error", error.map { .string($0) } ?? .null),
            ("received", .number(Double(received))), ("applied", .number(Double(applied))),
            ("malformed", .number(Double(malformed))), ("oversized", .number(Double(oversized))),
            ("unattributed", .number(Double(unattributed))), ("fds_closed", .number(Double(fdsClosed))),
            ("pending", .number(Double(pending))),
        ])
    }

    init?(json v: JSONValue?) {
        guard let v, v != .null, let socket = v["socket"]?.stringValue else { return nil }
        self.socket = socket
        error = v["error"]?.stringValue
        received = v["received"]?.intValue ?? 0
        applied = v["applied"]?.intValue ?? 0
        malformed = v["malformed"]?.intValue ?? 0
        oversized = v["oversized"]?.intValue ?? 0
        unattributed = v["unattributed"]?.intValue ?? 0
        fdsClosed = v["fds_closed"]?.intValue ?? 0
        pending = v["pending"]?.intValue ?? 0
    }
}

final class NotifyHub {
    let socket: NotifySocket
    private(set) var info: NotifyLedgerInfo
    let log: (String) -> Void
    /// supervisord's pid, where the ancestry walk stops.
    var supervisordPID: Int?

    enum Attribution {
        case program(name: String, group: String, pid: Int)
        case pendingChain([Int])
        case unrelated
    }

    /// pid -> what its ancestry said; cleared whenever a program's pid changes and on every TICK.
    private var cache: [Int: Attribution] = [:]
    struct Pending {
        var chain: [Int]
        var message: NotifyMessage
        var at: Double
    }
    private var pending: [Pending] = []
    static let maxPending = 256
    static let pendingMaxAge = 120.0
    private var logged = 0

    init(address: NotifyAddress, log: @escaping (String) -> Void) {
        socket = NotifySocket(address: address)
        info = NotifyLedgerInfo(socket: address.text)
        self.log = log
    }

    /// The socket's address from the settings: `[notify] socket`, else <rundir>/readiness-probe/notify.sock.
    static func address(_ settings: ProbeSettings) -> NotifyAddress? {
        NotifyAddress(settings.notify.socket ?? (Ledger.folder(settings) + "/notify.sock"))
    }

    func open(mode: mode_t) {
        do {
            try socket.open(mode: mode)
            info.error = nil
            log("notify socket \(socket.address) (mode \(String(mode, radix: 8))): programs opt in with environment=NOTIFY_SOCKET=\"\(socket.address)\"")
        } catch {
            info.error = error.description
            log("error: \(error.description); notify programs will not be ready")
        }
    }

    /// Records why the socket is not opened at all (its folder was refused).
    func refuse(_ why: String) {
        info.error = why
        log("error: \(why); notify programs will not be ready")
    }

    var fd: Int32 { socket.fd }

    /// Forget attributions (a program's pid changed, or a TICK: pids may have been reused).
    func invalidate() { cache.removeAll(keepingCapacity: true) }

    struct Drained {
        var received = 0
        /// A change a probe's verdict may depend on: write the ledger now.
        var urgent = false
        /// Only STATUS=/ERRNO=/watchdog pings changed: write within the coalescing interval.
        var changed = false
    }

    /// Receives and applies up to `limit` queued datagrams (never blocks).
    func drain(_ ledger: inout Ledger, now: Double, limit: Int = 64) -> Drained {
        var out = Drained()
        while out.received < limit, let d = socket.receive() {
            out.received += 1
            info.received += 1
            info.fdsClosed += d.fds
            let message: NotifyMessage
            do {
                message = try NotifyMessage.parse(d.bytes, length: d.length)
            } catch {
                if case .tooLarge = error { info.oversized += 1 } else { info.malformed += 1 }
                note("dropped a datagram from pid \(d.pid): \(error)")
                out.changed = true
                continue
            }
            // A bare BARRIER=1 only asks that its fd be closed (done above).
            if message.barrier && message == barrierOnly { continue }
            switch attribute(d, message, ledger) {
            case .program(let name, let group, let pid):
                guard let i = ledger.index(name: name, group: group) else { continue }
                let r = apply(message, to: &ledger.entries[i], programPID: pid, now: now)
                out.urgent = out.urgent || r
                out.changed = true
            case .pendingChain(let chain):
                if pending.count >= NotifyHub.maxPending { pending.removeFirst() }
                pending.append(Pending(chain: chain, message: message, at: now))
                info.pending = pending.count
                out.changed = true
            case .unrelated:
                info.unattributed += 1
                note("ignored a message from pid \(d.pid) (uid \(d.uid.map(String.init) ?? "?")): it is no supervisord program nor a descendant of one")
                out.changed = true
            }
        }
        return out
    }

    private let barrierOnly: NotifyMessage = { var m = NotifyMessage(); m.barrier = true; return m }()

    /// Applies `m` to a program entry; returns whether readiness may have changed.
    func apply(_ m: NotifyMessage, to e: inout LedgerEntry, programPID: Int, now: Double) -> Bool {
        var state = (e.notify?.pid == programPID ? e.notify : nil) ?? NotifyState(pid: programPID)
        let fresh = e.notify?.pid != programPID
        let urgent = state.apply(m, now: now) || fresh
        e.notify = state
        info.applied += 1
        if m.ready || m.stopping || m.reloading || m.watchdog == .trigger {
            var what: [String] = []
            if m.reloading { what.append("RELOADING=1") }
            if m.ready { what.append("READY=1") }
            if m.stopping { what.append("STOPPING=1") }
            if m.watchdog == .trigger { what.append("WATCHDOG=trigger") }
            log("\(e.namespec) \(what.joined(separator: " ")) (pid \(programPID))" + (m.status.map { ", STATUS: \($0)" } ?? ""))
        }
        if m.mainPID != nil { invalidate() }
        return urgent
    }

    func attribute(_ d: NotifyDatagram, _ m: NotifyMessage, _ ledger: Ledger) -> Attribution {
        if let hit = cache[d.pid] {
            if case .program(let name, let group, let pid) = hit,
               let e = ledger.entries.first(where: { $0.name == name && $0.group == group }), e.pid == pid { return hit }
            if case .program = hit {} else if case .unrelated = hit, m.mainPID == nil { return hit }
        }
        let found = walk(d, m, ledger)
        if cache.count >= 4096 { cache.removeAll(keepingCapacity: true) }
        if case .program = found { cache[d.pid] = found }
        else if case .unrelated = found, m.mainPID == nil { cache[d.pid] = found }
        return found
    }

    private func walk(_ d: NotifyDatagram, _ m: NotifyMessage, _ ledger: Ledger) -> Attribution {
        guard d.pid > 0 else { return .unrelated }
        var pids: [Int: Int] = [:]  // pid -> entry index
        for (i, e) in ledger.entries.enumerated() where e.pid > 0 && (e.state == .running || e.state == .starting || e.state == .stopping) {
            pids[e.pid] = i
            if let n = e.notify, n.pid == e.pid, let mp = n.mainPID { pids[mp] = i }
        }
        let (chain, reached) = ProcessTree.ancestors(of: d.pid, stop: supervisordPID)
        for p in chain {
            if let i = pids[p] { return .program(name: ledger.entries[i].name, group: ledger.entries[i].group, pid: ledger.entries[i].pid) }
        }
        if let mp = m.mainPID, let i = pids[mp], let owner = ProcessTree.owner(of: mp), d.uid == 0 || d.uid == owner {
            return .program(name: ledger.entries[i].name, group: ledger.entries[i].group, pid: ledger.entries[i].pid)
        }
        // Under supervisord (or, its pid unknown, under init) but no known program pid: a program
        // still STARTING. Held until an event names one of these pids.
        if reached || (supervisordPID == nil && !chain.isEmpty && chain.count < 32) { return .pendingChain(chain) }
        return .unrelated
    }

    /// After a PROCESS_STATE event: applies held messages whose sender descends from a program
    /// that is now RUNNING with a known pid, and drops old ones. Returns whether any was applied.
    func programsChanged(_ ledger: inout Ledger, now: Double) -> Bool {
        invalidate()
        if pending.isEmpty { return false }
        var applied = false
        var keep: [Pending] = []
        for p in pending {
            if now - p.at > NotifyHub.pendingMaxAge { info.unattributed += 1; continue }
            if let i = ledger.entries.firstIndex(where: { e in e.pid > 0 && e.state == .running && p.chain.contains(e.pid) }) {
                let pid = ledger.entries[i].pid
                _ = apply(p.message, to: &ledger.entries[i], programPID: pid, now: p.at)
                applied = true
            } else {
                keep.append(p)
            }
        }
        pending = keep
        info.pending = pending.count
        return applied
    }

    /// Logs the first 20 drops and then every 1000th, so a flood cannot fill the log.
    private func note(_ s: String) {
        logged += 1
        if logged <= 20 || logged % 1000 == 0 {
            log("notify: \(s) (\(info.malformed) malformed, \(info.oversized) oversized, \(info.unattributed) unattributed so far)")
        }
    }
}
