// `readiness-probe timeline`: the start-up of the current supervisord instance from the
// listener's history records (docs/history.md, "Start-up timeline").
import ProbeSupport
@preconcurrency import Glibc

struct Timeline: Sendable {
    struct Program: Sendable, Equatable {
        var name: String
        /// Seconds after supervisord started; nil: not (yet) reached.
        var starting: Double? = nil
        var running: Double? = nil
        var ready: Double? = nil
        var exited: Double? = nil
        var isStart = false
        var isCritical = false
        /// What the container waits for: EXITED (the start program), READY (a notify program), else RUNNING.
        var gate: (state: String, at: Double?) {
            if isStart { return ("EXITED", exited) }
            if ready != nil { return ("READY", ready) }
            return ("RUNNING", running)
        }
        static func == (a: Program, b: Program) -> Bool {
            a.name == b.name && a.starting == b.starting && a.running == b.running && a.ready == b.ready && a.exited == b.exited
        }
    }

    var supervisord: ProcessIdentity
    /// Epoch seconds when supervisord started.
    var startedAt: Double
    var programs: [Program] = []
    /// Seconds after supervisord started when the first ready result was recorded, and by whom.
    var readyAt: Double? = nil
    var readyBy: String = ""
    /// Where the STARTING, RUNNING and EXITED times come from: "supervisord-log" (supervisord's
    /// own times, SupervisordLogTimes) or "listener" (when the listener received the events).
    var timesFrom = "listener"
    /// Seconds after supervisord started of the history's oldest record, when the history does not
    /// reach back to this instance's start-up (older records were dropped by `[history]
    /// max_size`): the first ready result is then unknown, not the oldest one left.
    var historyStartsLate: Double? = nil

    /// The programs the container waits for (the start program and critical ones), ordered by
    /// when they reached their gate; those that never did last.
    var chain: [Program] {
        programs.filter { $0.isStart || $0.isCritical }.sorted { a, b in
            switch (a.gate.at, b.gate.at) {
            case let (x?, y?): return x < y
            case (_?, nil): return true
            default: return false
            }
        }
    }

    /// Builds from the history records of the supervisord `identity` (program records carry it);
    /// `watched` says which programs are critical and which one is the start program.
    /// `log`: supervisord's own times; they replace the records' STARTING, RUNNING and EXITED times of
    /// every program whose spawn it logged (READY stays the listener's: it comes from the program).
    init(records: [HistoryRecord], supervisord identity: ProcessIdentity, startedAt: Double, watched: WatchedPrograms,
         log: SupervisordLogTimes? = nil) {
        supervisord = identity
        self.startedAt = startedAt
        for r in records {
            if r.isProgram {
                guard r.supervisord == identity else { continue }
                let i: Int
                if let found = programs.firstIndex(where: { $0.name == r.program }) { i = found } else {
                    var p = Program(name: r.program)
                    let parts = r.program.split(separator: ":", maxSplits: 1).map(String.init)
                    let (group, name) = parts.count == 2 ? (parts[0], parts[1]) : (r.program, r.program)
                    p.isStart = watched.startProgram.map { $0 == r.program || $0 == name } ?? false
                    p.isCritical = !p.isStart && watched.isCritical(name: name, group: group) { _ in false }
                    programs.append(p)
                    i = programs.count - 1
                }
                let t = r.at - startedAt
                switch r.state {
                case "STARTING": if programs[i].starting == nil { programs[i].starting = t }
                case "RUNNING": if programs[i].running == nil { programs[i].running = t }
                case "READY": if programs[i].ready == nil { programs[i].ready = t }
                case "EXITED": if programs[i].exited == nil && r.expected != false { programs[i].exited = t }
                default: break
                }
            } else if r.check.isEmpty && r.to == 0 && readyAt == nil && r.at >= startedAt {
                readyAt = r.at - startedAt
                readyBy = r.by
            }
        }
        // Does the history reach back to this start-up? It does when it holds a record from before
        // supervisord started, or its oldest record came soon after the first spawn (the listener
        // gets the first events within about a second; 5 s allows for a loaded node). Compaction
        // drops the oldest records first, so a late oldest record means the start-up is gone.
        let firstSpawn = log?.programs.compactMap { $0.times.starting }.min() ?? startedAt
        if let oldest = records.map(\.at).min(), oldest > startedAt, oldest > firstSpawn + 5 {
            historyStartsLate = oldest - startedAt
            readyAt = nil
            readyBy = ""
        }
        guard let log else { return }
        timesFrom = "supervisord-log"
        // Programs supervisord logged that have no records left (or never had any) are listed too.
        for (name, _) in log.programs where !programs.contains(where: { ($0.name.split(separator: ":", maxSplits: 1).last.map(String.init) ?? $0.name) == name }) {
            var p = Program(name: name)
            p.isStart = watched.startProgram.map { $0 == name } ?? false
            p.isCritical = !p.isStart && watched.isCritical(name: name, group: name) { _ in false }
            programs.append(p)
        }
        func processName(_ namespec: String) -> Substring { namespec.split(separator: ":", maxSplits: 1).last ?? Substring(namespec) }
        for i in programs.indices {
            let name = processName(programs[i].name)
            // supervisord logs the process name only: two groups' `worker`s cannot be told apart.
            if programs.indices.contains(where: { $0 != i && processName(programs[$0].name) == name }) { continue }
            guard let t = log.times(of: String(name)), let starting = t.starting else { continue }
            programs[i].starting = starting - startedAt
            programs[i].running = t.running.map { $0 - startedAt }
            programs[i].exited = t.exited.map { $0 - startedAt }
        }
    }

    /// When a process started, as epoch seconds: boot time (/proc/stat btime) + its start time in
    /// clock ticks. nil when /proc cannot say.
    static func epoch(of p: ProcessIdentity) -> Double? {
        guard let text = try? Platform.readTextFile("/proc/stat", limit: 1 << 20) else { return nil }
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
              let btime = Double(line.dropFirst(6).trimmingASCIIWhitespace()) else { return nil }
        let hz = sysconf(Int32(_SC_CLK_TCK))
        guard hz > 0 else { return nil }
        return btime + Double(p.startTime) / Double(hz)
    }

    static func seconds(_ t: Double?) -> String {
        guard let t else { return "-" }
        return "+" + Decimal1.format(t, digits: 3, fixed: true) + "s"
    }

    var table: String {
        var out = "supervisord pid \(supervisord.pid), started \(RFC3339.format(startedAt)); times are after its start, "
            + (timesFrom == "listener" ? "when the listener received the events (supervisord's log could not be read; events arrive up to a second late)\n\n"
                                       : "from supervisord's log\n\n")
        let header = ["PROGRAM", "STARTING", "RUNNING", "READY", "EXITED", ""]
        var rows = [header]
        for p in programs {
            rows.append([p.name, Self.seconds(p.starting), Self.seconds(p.running), Self.seconds(p.ready), Self.seconds(p.exited),
                         p.isStart ? "start program" : p.isCritical ? "critical" : ""])
        }
        var widths = [Int](repeating: 0, count: header.count)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        for r in rows {
            out += r.enumerated().map { i, c in i == r.count - 1 ? c : c + String(repeating: " ", count: widths[i] - c.count + 2) }
                .joined().trimmingTrailingSpaces() + "\n"
        }
        if programs.isEmpty { out += "(no program transitions recorded for this supervisord: is `readiness-probe listen` its event listener?)\n" }
        out += "\n"
        if let late = historyStartsLate {
            out += "container ready: unknown (the history's oldest record is \(Self.seconds(late)) after supervisord started: "
                + "its start-up was not recorded, or those records were dropped by [history] max_size)\n"
        } else if let readyAt {
            out += "container ready \(Self.seconds(readyAt)) (the first ready result, recorded by \(readyBy))\n"
        } else {
            out += "container not ready yet (no ready result recorded since supervisord started)\n"
        }
        let chain = self.chain
        if chain.isEmpty { return out + "critical chain: no start program or critical program recorded\n" }
        out += "critical chain (each gate the container waited for, the last one first):\n"
        var indent = ""
        out += "container ready \(readyAt.map { "@" + Self.seconds($0).dropFirst() } ?? (historyStartsLate == nil ? "(not yet)" : "(unknown)"))\n"
        for p in chain.reversed() {
            let g = p.gate
            var line = "\(indent)└─ \(p.name) \(g.state) " + (g.at.map { "@" + Self.seconds($0).dropFirst() } ?? "(not reached)")
            if let at = g.at, let from = p.starting, at >= from { line += " (+\(Decimal1.format(at - from, digits: 3, fixed: true))s after STARTING)" }
            out += line + "\n"
            indent += "   "
        }
        return out
    }

    var json: String {
        func n(_ v: Double?) -> JSONValue { v.map { .real(($0 * 1000).rounded() / 1000) } ?? .null }
        let programs: [JSONValue] = self.programs.map { p in
            .object([("program", .string(p.name)), ("starting", n(p.starting)), ("running", n(p.running)), ("ready", n(p.ready)),
                     ("exited", n(p.exited)), ("start_program", .bool(p.isStart)), ("critical", .bool(p.isCritical))])
        }
        let chain: [JSONValue] = self.chain.map { p in
            .object([("program", .string(p.name)), ("state", .string(p.gate.state)), ("at", n(p.gate.at))])
        }
        return JSON.serialize(.object([
            ("schema", .string("readiness-probe/timeline/2")),
            ("supervisord", .object([("pid", .number(Double(supervisord.pid))), ("started_at", .string(RFC3339.format(startedAt)))])),
            ("programs", .array(programs)),
            ("ready_at", n(readyAt)),
            ("critical_chain", .array(chain)),
            ("times", .string(timesFrom)),
        ])) + "\n"
    }
}
