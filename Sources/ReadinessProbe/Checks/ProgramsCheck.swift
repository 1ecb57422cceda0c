// Critical programs: each must be RUNNING. From `critical = a, group:g, *` and a SONiC
// critical_processes file (`program:NAME` / `group:NAME` lines).
import ProbeSupport
import SupervisorKit

struct ProgramsCheck: Check {
    typealias Selector = ProgramSelector

    var selectors: [Selector]
    /// The start program, which `*` never includes.
    var startProgram: String
    /// Programs that must also have sent READY=1 since their start (sd_notify; docs/notify.md).
    /// They are critical too (`selectors` includes them).
    var notify: [Selector] = []
    /// The default watchdog period of notify programs, armed by their first WATCHDOG=1 (nil: none).
    var watchdog: Duration? = .seconds(30)
    /// `[program:NAME]` sections: a notify program's own watchdog period and `on_watchdog`.
    var programWatchdogs: [ProgramWatchdog] = []
    /// `crash_loop = COUNT/WINDOW` (nil: `off`): code 13 for a critical program that exited COUNT
    /// times within WINDOW, until it has stayed RUNNING for WINDOW.
    var crashLoop: CrashLoopRule? = .standard
    /// Where each selector was written, by index (`FILE:LINE: program:syncd`), for messages; may be shorter.
    var origins: [String] = []

    init(selectors: [Selector], startProgram: String = "start", notify: [Selector] = [], watchdog: Duration? = .seconds(30),
                crashLoop: CrashLoopRule? = .standard) {
        self.selectors = selectors
        self.startProgram = startProgram
        self.notify = notify
        self.watchdog = watchdog
        self.crashLoop = crashLoop
        for n in notify where !selectors.contains(n) && !selectors.contains(.all) { self.selectors.append(n) }
    }

    static let kind = CheckKind(
        section: "programs", resultKind: "supervisor-programs", order: 20, instance: .forbidden,
        keys: ["critical", "critical_file", "notify", "watchdog", "crash_loop"],
        codes: [0, Codes.programNotRunning, Codes.supervisorUnavailable, Codes.checkTimedOut, Codes.deadlineExceeded,
                Codes.noFreshResult, Codes.programNotReady, Codes.crashLooping],
        about: "every critical program must be RUNNING, and not crash-looping (and every notify program must have sent READY=1)",
        make: { (input) throws(ConfigError) -> [CheckEntry] in
            guard let s = input.sections.first else { return [] }
            var selectors: [Selector] = []
            var origins: [String] = []
            if let e = s.entry("critical") {
                for item in e.value.split(whereSeparator: { $0 == "," || $0 == "\n" }) {
                    let t = item.trimmingASCIIWhitespace()
                    if t.isEmpty { continue }
                    selectors.append(try parseSelector(t, at: e.location))
                    origins.append("\(e.location): \(t)")
                }
            }
            if let e = s.entry("critical_file"), !e.value.isEmpty {
                for (sel, origin) in try readCriticalFile(e.value, at: e.location) {
                    selectors.append(sel)
                    origins.append(origin)
                }
            }
            var notify: [Selector] = []
            if let e = s.entry("notify") {
                for item in e.value.split(whereSeparator: { $0 == "," || $0 == "\n" }) {
                    let t = item.trimmingASCIIWhitespace()
                    if t.isEmpty { continue }
                    let sel = try parseSelector(t, at: e.location)
                    if sel == .all { throw ConfigError("notify names programs or group:NAME, not *", at: e.location) }
                    notify.append(sel)
                }
            }
            var watchdog: Duration? = .seconds(30)
            if let e = s.entry("watchdog") {
                do { let d = try DurationText.parse(e.value); watchdog = d > .zero ? d : nil } catch {
                    throw ConfigError("watchdog: \(error)", at: e.location)
                }
            }
            let programWatchdogs = try ProgramWatchdog.parse(input.document, notify: notify)
            var crashLoop: CrashLoopRule? = .standard
            if let e = s.entry("crash_loop") { crashLoop = try CrashLoopRule.parse(e) }
            if selectors.isEmpty && notify.isEmpty { return [] }
            let start = input.document.section("start")?["program"] ?? "start"
            let common = try CommonCheckOptions(s)
            var check = ProgramsCheck(selectors: selectors, startProgram: start, notify: notify, watchdog: watchdog,
                                      crashLoop: crashLoop)
            check.programWatchdogs = programWatchdogs
            check.origins = origins
            return [CheckEntry(name: "programs", kind: "supervisor-programs", severity: common.severity,
                               timeout: common.timeout, liveness: common.liveness, origin: s.location.description,
                               check: check)]
        })

    static func parseSelector(_ t: String, at loc: FileLocation) throws(ConfigError) -> Selector {
        if t == "*" { return .all }
        if t.hasPrefix("group:") {
            let g = String(t.dropFirst(6))
            if g.isEmpty { throw ConfigError("group: needs a name", at: loc) }
            return .group(g)
        }
        if t.hasPrefix("program:") { return .program(String(t.dropFirst(8))) }
        if t.contains(" ") { throw ConfigError("bad program name \"\(t)\"", at: loc) }
        return .program(t)
    }

    /// Reads SONiC's critical_processes format: `program:NAME` or `group:NAME` per line;
    /// blank lines and `#` comments are skipped; anything else is an error with file:line.
    /// Each selector comes with where it was written (`FILE:LINE: program:NAME`).
    static func readCriticalFile(_ path: String, at loc: FileLocation?) throws(ConfigError) -> [(Selector, String)] {
        let text: String
        do { text = String(decoding: try SafeFile.readTrusted(path, limit: 1 << 20), as: UTF8.self) } catch {
            throw ConfigError("critical_file \(path): \(error.path == path ? error.because : error.description)", at: loc)
        }
        var out: [(Selector, String)] = []
        var n = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            n += 1
            let line = raw.trimmingASCIIWhitespace()
            if line.isEmpty || line.hasPrefix("#") { continue }
            let here = FileLocation(file: path, line: n)
            guard let colon = line.firstIndex(of: ":") else {
                throw ConfigError("expected program:NAME or group:NAME, got \"\(line)\"", at: here)
            }
            let key = line[..<colon].trimmingASCIIWhitespace()
            let value = line[line.index(after: colon)...].trimmingASCIIWhitespace()
            if value.isEmpty || value.contains(" ") { throw ConfigError("bad name in \"\(line)\"", at: here) }
            switch key {
            case "program": out.append((.program(value), "\(here): \(line)"))
            case "group": out.append((.group(value), "\(here): \(line)"))
            default: throw ConfigError("unknown key \"\(key)\" (expected program or group)", at: here)
            }
        }
        return out
    }

    func check(_ context: CheckContext) async -> CheckOutcome { await ProbeRunner.outcome(of: self, context) }

    /// The verdict on the run's supervisord snapshot.
    func work(_ settings: ProbeSettings) -> CheckWork {
        .supervisor { fetched in self.verdict(fetched, settings: settings) }
    }

    var watchedPrograms: WatchedPrograms {
        var w = WatchedPrograms(critical: selectors, startProgram: startProgram, notify: notify, watchdog: watchdog)
        w.criticalOrigins = origins
        w.programWatchdogs = programWatchdogs
        return w
    }

    /// The verdict on the run's supervisord snapshot (or the failure to get one).
    func verdict(_ fetched: SupervisorResult, settings: ProbeSettings) -> CheckOutcome {
        switch fetched {
        case .failure(let f): return f.outcome
        case .success(var snapshot):
            if selectors.contains(.all) && snapshot.listenerGroups.isEmpty {
                snapshot.listenerGroups = SupervisorView.listenerGroups(settings)
            }
            return evaluate(snapshot, isGone: snapshot.source == "events" ? Self.pidIsGone : { _ in false })
        }
    }

    /// Whether /proc says the pid has exited (no such process, or a zombie). Unknown (no /proc,
    /// hidepid) is not "gone": the ledger's word stands, as before.
    static func pidIsGone(_ pid: Int) -> Bool { ProcessIdentity.lookup(pid) == .gone }

    /// The verdict for a snapshot, kept pure for tests (`isGone`: the /proc look-up for the
    /// ledger's RUNNING pids; none by default).
    func evaluate(_ snapshot: SupervisorSnapshot, now: Double? = nil, isGone: (Int) -> Bool = { _ in false }) -> CheckOutcome {
        var critical: [SupervisorProcess] = []
        var problems: [(String, String)] = []
        func add(_ p: SupervisorProcess) { if !critical.contains(p) { critical.append(p) } }
        for (i, sel) in selectors.enumerated() {
            let matches = snapshot.processes.filter {
                sel.matches(name: $0.name, group: $0.group, namespec: $0.namespec, startProgram: startProgram,
                            isListenerGroup: { snapshot.listenerGroups.contains($0) })
            }
            if matches.isEmpty, sel != .all { problems.append(Self.missing(sel, origin: i < origins.count ? origins[i] : nil, in: snapshot)) }
            matches.forEach(add)
        }
        let now = now ?? Platform.epochSeconds()
        // Crash loops first (code 13): more specific than "not RUNNING", and reported while RUNNING too.
        var loops: [(String, String)] = []
        if let rule = crashLoop, !snapshot.exits.isEmpty {
            for p in critical {
                guard let record = snapshot.exits.first(where: { $0.namespec == p.namespec }),
                      let why = rule.looping(record, now: now) else { continue }
                loops.append(("program \(p.namespec) is crash-looping", "program \(p.namespec) is crash-looping: \(why)"))
            }
        }
        if !loops.isEmpty {
            var detail = loops[0].1
            if loops.count > 1 { detail += "; also " + loops.dropFirst().map(\.0).joined(separator: ", ") }
            return .fail(Codes.crashLooping, detail, summary: loops[0].0 + (loops.count > 1 ? " (+\(loops.count - 1) more)" : ""))
        }
        // The listener's ledger says RUNNING, but supervisord hands an exit to its listener only on
        // its next loop turn, up to 1 s later (docs/event-listener.md): a RUNNING pid that is gone
        // has exited already; a probe in that second must not say ready.
        for p in critical where p.state == .running && p.pid > 0 && isGone(p.pid) {
            problems.append(("program \(p.namespec) exited",
                             "program \(p.namespec) exited: its pid \(p.pid) is gone, and supervisord has not told the event listener yet (it hands events over up to 1s late)"))
        }
        for p in critical where p.state != .running {
            // The event listener's record of an unexpected exit (Ledger.process): it says what
            // happened, what supervisord did since, and where the program's log is. The first
            // line keeps what happened without the pid (it must be stable).
            if p.exitExpected == false || p.state == .fatal, p.description.hasPrefix("critical program \(p.namespec) ") {
                let d = String(p.description.dropFirst("critical ".count))
                var what = d.prefix { $0 != ";" }
                if let r = what.firstRange(of: " (pid ") { what = what[..<r.lowerBound] }
                problems.append((String(what), d))
                continue
            }
            var d = "program \(p.namespec) is \(p.state.name)"
            let why = p.state == .backoff || p.state == .fatal ? (p.spawnError.isEmpty ? p.description : p.spawnError) : p.description
            var facts = why.isEmpty ? [] : [why]
            // After an exit or a failed start, the program's own log says why: where it is, and the status.
            if p.state == .exited, let s = p.exitStatus, p.exitExpected == nil {
                facts.append(s < 0 ? "killed by a signal" : "exit status \(s)")
            }
            if p.state == .exited || p.state == .backoff || p.state == .fatal, !p.logFile.isEmpty { facts.append("log: \(p.logFile)") }
            if !facts.isEmpty { d += " (\(facts.joined(separator: "; ")))" }
            problems.append(("program \(p.namespec) is \(p.state.name)", d))
        }
        if problems.isEmpty {
            if !notify.isEmpty { return notifyVerdict(snapshot, critical: critical, now: now) }
            return .pass("\(critical.count) critical program\(critical.count == 1 ? "" : "s") RUNNING")
        }
        var detail = problems[0].1
        if problems.count > 1 {
            detail += "; also " + problems.dropFirst().map(\.0).joined(separator: ", ")
        }
        return .fail(Codes.programNotRunning, detail, summary: problems[0].0 + (problems.count > 1 ? " (+\(problems.count - 1) more)" : ""))
    }
}

extension ProgramsCheck {
    /// A critical program or group that supervisord does not have: where it was written, and the
    /// closest name supervisord has (a typo in a critical_processes file is the usual cause).
    /// Returns (summary, detail).
    static func missing(_ sel: Selector, origin: String?, in snapshot: SupervisorSnapshot) -> (String, String) {
        let isListener = { (g: String) in snapshot.listenerGroups.contains(g) }
        let processes = snapshot.processes.filter { !isListener($0.group) }
        let what: String, wanted: String, candidates: [String]
        switch sel {
        case .group(let g):
            what = "group"; wanted = g
            var groups: [String] = []
            for p in processes where !groups.contains(p.group) { groups.append(p.group) }
            candidates = groups
        default:
            what = "program"; wanted = sel.description
            candidates = processes.map { wanted.contains(":") ? $0.namespec : $0.name }
        }
        var summary = "no such \(what) \(wanted)"
        var detail = "\(origin ?? sel.description): no such \(what) in supervisord"
        if let m = closest(to: wanted, in: candidates) {
            summary += " (did you mean \(m)?)"
            detail += " (did you mean \(m)?)"
        }
        return (summary, detail)
    }

    /// The candidate nearest to `name` by edit distance, if it is near enough to be a typo
    /// (at most 1 edit for short names, a third of the name's length for longer ones, at most 3).
    static func closest(to name: String, in candidates: [String]) -> String? {
        let a = Array(name.utf8)
        let limit = min(3, max(1, a.count / 3))
        var best: (String, Int)? = nil
        for c in candidates where c != name {
            let d = editDistance(a, Array(c.utf8))
            if d <= limit && d < (best?.1 ?? Int.max) { best = (c, d) }
        }
        return best?.0
    }

    /// Levenshtein distance (insertions, deletions, substitutions), two rows.
    static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var prev = Array(0...b.count), cur = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            cur[0] = i
            for j in 1...b.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&prev, &cur)
        }
        return prev[b.count]
    }

    /// The RUNNING processes of `critical` that `notify` selects.
    func notifyPrograms(_ critical: [SupervisorProcess]) -> [SupervisorProcess] {
        critical.filter { p in
            notify.contains { sel in
                sel != .all && sel.matches(name: p.name, group: p.group, namespec: p.namespec, startProgram: nil,
                                           isListenerGroup: { _ in false })
            }
        }
    }

    /// Every critical program is RUNNING; now the notify programs must be ready (code 12).
    func notifyVerdict(_ snapshot: SupervisorSnapshot, critical: [SupervisorProcess], now: Double) -> CheckOutcome {
        let programs = notifyPrograms(critical)
        let running = "\(critical.count) critical program\(critical.count == 1 ? "" : "s") RUNNING"
        if programs.isEmpty { return .pass(running) }
        guard let notifyState = snapshot.notify else {
            return .fail(Codes.noFreshResult,
                         "notify readiness of \(programs.map(\.namespec).joined(separator: ", ")) is known only to the event listener's ledger, and this run read \(snapshot.source) (is `readiness-probe listen` running and its ledger fresh?)",
                         summary: "no notify state (the event listener's ledger is not in use)")
        }
        if let err = notifyState.socketError {
            return .fail(Codes.programNotReady, "program \(programs[0].namespec) cannot report ready: the listener has no notify socket: \(err)",
                         summary: "the event listener has no notify socket")
        }
        var problems: [(String, String)] = []
        var readyDetails: [String] = []
        for p in programs {
            let view = notifyState.programs[p.namespec] ?? NotifyView(state: nil, runningSince: now)
            let v = view.verdict(name: p.namespec, now: now, watchdog: watchdog(for: p))
            if v.ready { readyDetails.append(v.detail) } else { problems.append((v.summary, v.detail)) }
        }
        if problems.isEmpty {
            let n = readyDetails.count
            return .pass(running + ", \(n) notify program\(n == 1 ? "" : "s") ready: " + readyDetails.prefix(8).joined(separator: "; ")
                         + (n > 8 ? "; +\(n - 8) more" : ""))
        }
        var detail = problems[0].1
        if problems.count > 1 { detail += "; also " + problems.dropFirst().map(\.0).joined(separator: ", ") }
        return .fail(Codes.programNotReady, detail, summary: problems[0].0 + (problems.count > 1 ? " (+\(problems.count - 1) more)" : ""))
    }
}

/// `[program:NAME]` in the probe's config: one notify program's own watchdog settings
/// (docs/notify.md). NAME is a program name or `group:name`, named by `[programs] notify`
/// (directly or through its group).
struct ProgramWatchdog: Sendable, Equatable {
    static let keys = ["watchdog", "on_watchdog"]
    /// `[program:NAME]`'s NAME.
    var name: String
    /// Whether `watchdog =` is set here; `period` nil then means off (`watchdog = 0`).
    var periodSet = false
    var period: Duration? = nil
    /// `on_watchdog = restart`: the listener asks supervisord to restart the program when its
    /// watchdog expires or it sends WATCHDOG=trigger.
    var restart = false
    var location: FileLocation

    func matches(_ p: SupervisorProcess) -> Bool { name == p.namespec || name == p.name }

    /// Every `[program:NAME]` section of `doc`, checked against the notify selectors.
    static func parse(_ doc: INIDocument, notify: [ProgramSelector]) throws(ConfigError) -> [ProgramWatchdog] {
        var out: [ProgramWatchdog] = []
        for sec in doc.sections(kind: "program") {
            guard let name = sec.instance, !name.isEmpty, !name.contains(" ") else {
                throw ConfigError("[program:NAME] needs a program name (or group:name)", at: sec.location)
            }
            var w = ProgramWatchdog(name: name, location: sec.location)
            for e in sec.entries {
                switch e.key {
                case "watchdog":
                    do { let d = try DurationText.parse(e.value); w.period = d > .zero ? d : nil; w.periodSet = true } catch {
                        throw ConfigError("watchdog: \(error)", at: e.location)
                    }
                case "on_watchdog":
                    switch e.value.lowercased() {
                    case "restart": w.restart = true
                    case "none": w.restart = false
                    default: throw ConfigError("on_watchdog must be restart or none, not \"\(e.value)\"", at: e.location)
                    }
                default:
                    throw ConfigError("unknown key \"\(e.key)\" in [\(sec.name)] (known: \(keys.joined(separator: ", ")))", at: e.location)
                }
            }
            let colon = name.firstIndex(of: ":")
            let program = colon.map { String(name[name.index(after: $0)...]) } ?? name
            let group = colon.map { String(name[..<$0]) } ?? name
            if !notify.contains(where: { $0.matches(name: program, group: group, namespec: name, startProgram: nil, isListenerGroup: { _ in false }) }) {
                throw ConfigError("[\(sec.name)] sets a watchdog for \(name), which [programs] notify does not name; "
                                  + "add it there (the watchdog applies to notify programs only)", at: sec.location)
            }
            if let dup = out.first(where: { $0.name == name }) {
                throw ConfigError("[\(sec.name)] is already defined at \(dup.location)", at: sec.location)
            }
            out.append(w)
        }
        return out
    }
}

extension ProgramWatchdog {
    /// The configured watchdog period of one notify program: its `[program:NAME] watchdog`, else
    /// `[programs] watchdog` (a WATCHDOG_USEC= the program sends still comes first).
    static func period(for p: SupervisorProcess, in sections: [ProgramWatchdog], default d: Duration?) -> Duration? {
        if let w = sections.first(where: { $0.matches(p) }), w.periodSet { return w.period }
        return d
    }
}

extension ProgramsCheck {
    func watchdog(for p: SupervisorProcess) -> Duration? { ProgramWatchdog.period(for: p, in: programWatchdogs, default: watchdog) }

    /// Whether `[program:NAME] on_watchdog = restart` applies to `p`.
    func restartsOnWatchdog(_ p: SupervisorProcess) -> Bool {
        programWatchdogs.first(where: { $0.matches(p) })?.restart ?? false
    }
}

extension WatchedPrograms {
    func watchdog(for p: SupervisorProcess) -> Duration? { ProgramWatchdog.period(for: p, in: programWatchdogs, default: watchdog) }

    /// Whether `[program:NAME] on_watchdog = restart` applies to `p`.
    func restartsOnWatchdog(_ p: SupervisorProcess) -> Bool {
        programWatchdogs.first(where: { $0.matches(p) })?.restart ?? false
    }
}

/// `[programs] crash_loop = COUNT/WINDOW`: a critical program that exited COUNT times within
/// WINDOW (EXITED, or BACKOFF: it died before RUNNING) is crash-looping (code 13) until it has
/// stayed RUNNING for WINDOW. Only the event listener counts exits (docs/event-listener.md).
struct CrashLoopRule: Sendable, Equatable {
    var count: Int
    var window: Duration

    init(count: Int, window: Duration) {
        self.count = count
        self.window = window
    }

    /// The default, `3/60s`.
    static let standard = CrashLoopRule(count: 3, window: .seconds(60))

    var text: String { "\(count)/\(DurationText.format(window))" }

    /// Seconds with one decimal: `0.2s`, `41.0s`.
    static func secs(_ x: Double) -> String { Decimal1.format(x, digits: 1, fixed: true) + "s" }

    /// `COUNT/WINDOW` (COUNT 1-32, WINDOW > 0), or `off` (nil).
    static func parse(_ e: INIEntry) throws(ConfigError) -> CrashLoopRule? {
        let v = e.value.trimmingASCIIWhitespace()
        if ["off", "false", "no", "0"].contains(v.lowercased()) { return nil }
        let bad = "crash_loop must be COUNT/WINDOW such as 3/60s (COUNT from 1 to \(LedgerEntry.maxExits)), or off; not \"\(e.value)\""
        guard let slash = v.firstIndex(of: "/"), let n = Int(v[..<slash].trimmingASCIIWhitespace()),
              (1...LedgerEntry.maxExits).contains(n) else { throw ConfigError(bad, at: e.location) }
        let w: Duration
        do { w = try DurationText.parse(String(v[v.index(after: slash)...]).trimmingASCIIWhitespace()) } catch {
            throw ConfigError(bad + ": \(error)", at: e.location)
        }
        if w <= .zero { throw ConfigError(bad + ": the window must be greater than 0", at: e.location) }
        return CrashLoopRule(count: n, window: w)
    }

    /// Why the program is crash-looping now, or nil. A loop is `count` exits within `window`; it
    /// ends when the program has been RUNNING for `window` since, or when it is FATAL (supervisord
    /// gave up: code 4, the state says it) or STOPPED (an operator stopped it).
    func looping(_ r: ProgramExits, now: Double) -> String? {
        if r.state == .fatal || r.state == .stopped || r.state == .stopping { return nil }
        let w = window.secondsDouble
        if let since = r.runningSince, now - since >= w { return nil }
        guard r.exits.count >= count else { return nil }
        // The latest loop: `count` consecutive exits that span at most the window.
        var end: Int? = nil
        for i in stride(from: r.exits.count - 1, through: count - 1, by: -1) where r.exits[i] - r.exits[i - count + 1] <= w {
            end = i
            break
        }
        guard let end else { return nil }
        let recent = r.exits.filter { now - $0 <= w }.count
        let last = CrashLoopRule.secs(max(0, now - r.exits[r.exits.count - 1]))
        var why = recent >= count
            ? "it exited \(recent) times in the last \(DurationText.format(window)) (the last \(last) ago)"
            : "it exited \(count) times within \(CrashLoopRule.secs(r.exits[end] - r.exits[end - count + 1])) (the last \(last) ago)"
        if let since = r.runningSince {
            why += "; RUNNING again for \(CrashLoopRule.secs(max(0, now - since))), reported until RUNNING for \(DurationText.format(window))"
        } else {
            why += "; now \(r.state.name)"
        }
        return why + " (crash_loop = \(text); seen by the event listener)"
    }
}
