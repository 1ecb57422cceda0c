// The event listener without supervisord: the protocol loop over real fds (the 4.3.0 capture
// replayed), dedupe, resync after a malformed header, the ledger model, LedgerSource staleness and
// the cached result. The binary's exit codes are in ReadinessProbeEndToEndTests/ListenerCommandTests.swift.
@preconcurrency import Glibc
import Testing
import ProbeSupport
@testable import ReadinessProbe
import ProbeTestSupport
import SupervisorKit

@Suite struct ListenerProtocolTests {
    @Test(arguments: ["4.3.0", "4.2.5"])
    func fixtureReplayThroughLoopWritesOnlyProtocolBytes(version: String) throws {
        let dir = TempDir("lsn")
        let bytes = try TestPaths.fixture("supervisor/\(version)-events-stream.bin")
        let config = try listenerConfig(dir, "[programs]\ncritical = badstart, failfast, longrun\n[listener]\nrun_checks = false\n")
        let listener = EventListener(configuration: config, log: { _ in })
        listener.start()
        var names: [String] = []
        let (end, out, logs) = try replay(bytes, dir: dir) { e in
            names.append(e.header.eventName)
            return listener.handle(e)
        }
        #expect(end == .endOfInput)
        #expect(logs.isEmpty)
        let total = version == "4.3.0" ? 131 : 130
        #expect(names.count == total)
        #expect(out == expectedReplies(total))
        let l = listener.ledger
        #expect(l.eventsSeen == total)
        #expect(l.entry("badstart")?.state == .exited && l.entry("badstart")?.expected == false)
        #expect(l.entry("badstart")?.failure?.state == .exited)
        #expect(l.entry("failfast")?.state == .fatal && l.entry("failfast")?.failure?.state == .fatal)
        #expect(l.entry("start")?.state == .exited && l.entry("start")?.expected == true)
        #expect(l.entry("start")?.failure == nil)  // not critical
        #expect(l.entry("longrun")?.failure == nil)  // stopped by the shutdown, not a crash
        #expect(l.entry("worker:worker_00") != nil)
        #expect(l.supervisordState == "STOPPING")
        // The critical and start changes were written before their answers: the file has them.
        let onDisk = try #require(try Ledger.read(path: Ledger.path(config.settings)))
        #expect(onDisk.entry("badstart")?.failure != nil && onDisk.entry("failfast")?.failure != nil)
        #expect(onDisk.entry("start")?.expected == true)
    }

    @Test func duplicatesAreAnsweredButAppliedOnce() throws {
        let dir = TempDir("lsn")
        let listener = EventListener(configuration: try listenerConfig(dir, "[listener]\nrun_checks = false\n"), log: { _ in })
        let a = stateEvent(1, "STARTING", "syncd", from: "STOPPED", extra: " tries:0")
        let b = stateEvent(2, "RUNNING", "syncd", from: "STARTING", extra: " pid:42")
        // 2 is redelivered after 3 (an older state must not win), 1 comes again from another pool.
        let c = stateEvent(3, "EXITED", "syncd", extra: " expected:0 pid:42")
        let stream = a + b + c + b + envelope(1, "PROCESS_STATE_STARTING", "processname:syncd groupname:syncd from_state:STOPPED tries:0", pool: "other")
        let (end, out, _) = try replay(stream, dir: dir) { listener.handle($0) }
        #expect(end == .endOfInput)
        #expect(out == expectedReplies(5))
        #expect(listener.ledger.eventsSeen == 3 && listener.ledger.eventsApplied == 3)
        #expect(listener.ledger.entry("syncd")?.state == .exited)
    }

    @Test func malformedHeaderWithLenIsSkippedExactly() throws {
        let dir = TempDir("lsn")
        let listener = EventListener(configuration: try listenerConfig(dir, "[listener]\nrun_checks = false\n"), log: { _ in })
        let payload = "processname:x groupname:x from_state:RUNNING pid:1\ncafé 🚀"
        let bad = Array("ver:3.0 serial:oops pool:readiness eventname:PROCESS_LOG_STDOUT len:\(payload.unicodeScalars.count)\n".utf8)
            + Array(payload.utf8)
        let stream = stateEvent(1, "STARTING", "a", from: "STOPPED") + bad + stateEvent(2, "RUNNING", "a", from: "STARTING", extra: " pid:7")
        let (end, out, logs) = try replay(stream, dir: dir) { listener.handle($0) }
        #expect(end == .endOfInput)
        #expect(out == expectedReplies(3))
        #expect(logs.count == 1 && logs[0].contains("serial"))
        #expect(listener.ledger.entry("a")?.state == .running && listener.ledger.entry("a")?.pid == 7)
    }

    @Test func malformedHeaderWithoutLenDropsTheEnvelope() throws {
        let dir = TempDir("lsn")
        let listener = EventListener(configuration: try listenerConfig(dir, "[listener]\nrun_checks = false\n"), log: { _ in })
        let stream = stateEvent(1, "STARTING", "a", from: "STOPPED") + Array("garbage without tokens\nmore garbage".utf8)
        let (end, out, logs) = try replay(stream, dir: dir) { listener.handle($0) }
        #expect(end == .endOfInput)
        #expect(out == expectedReplies(2))
        #expect(logs.count == 1)
    }

    @Test func serialWindowIsBounded() {
        var w = SerialWindow(capacity: 3)
        let answers = [1, 2, 3, 2, 4, 1, 4].map { w.insert($0) }
        // 2 is a duplicate; 4 evicts 1, so 1 is new again; then 4 is a duplicate.
        #expect(answers == [true, true, true, false, true, true, false])
    }
}

@Suite struct LedgerTests {
    @Test func failureStaysUntilRunningAndHoldPassed() {
        var l = Ledger()
        l.seed([SupervisorProcess(name: "syncd", group: "syncd", state: .running, pid: 5)], now: 100)
        let c = l.apply(state: .exited, name: "syncd", group: "syncd", pid: 5, expected: false, serial: 10, now: 101, critical: true)
        #expect(c?.newFailure != nil)
        _ = l.apply(state: .starting, name: "syncd", group: "syncd", pid: nil, expected: nil, serial: 11, now: 101.1, critical: true)
        _ = l.apply(state: .running, name: "syncd", group: "syncd", pid: 6, expected: nil, serial: 12, now: 102, critical: true)
        let hold = Duration.seconds(30)
        let during = l.snapshot(now: 110, hold: hold)
        #expect(during.processes[0].state == .exited && during.processes[0].description.contains("restarted by supervisord, now RUNNING (pid 6)"))
        let check = ProgramsCheck(selectors: [.program("syncd")])
        #expect(check.evaluate(during).code == Codes.programNotRunning)
        #expect(check.evaluate(during).summary == "program syncd exited unexpectedly")
        #expect(check.evaluate(during).detail == "program syncd exited unexpectedly (pid 5); seen by the event listener; "
                + "restarted by supervisord, now RUNNING (pid 6); reported for 30s after the exit ([listener] failure_hold)")
        // What supervisord said afterwards: the cause and the log file (#17).
        var explained = l
        let explainedNow = explained.explainExit(namespec: "syncd", serial: 10, exitStatus: nil, cause: "was killed by SIGKILL", logFile: "/var/log/syncd.err")
        #expect(explainedNow)
        #expect(check.evaluate(explained.snapshot(now: 110, hold: hold)).detail == "program syncd was killed by SIGKILL (pid 5); "
                + "seen by the event listener; restarted by supervisord, now RUNNING (pid 6); reported for 30s after the exit "
                + "([listener] failure_hold); log: /var/log/syncd.err")
        let olderSerial = explained.explainExit(namespec: "syncd", serial: 9, exitStatus: 1, cause: "exited with status 1", logFile: "/x")
        #expect(!olderSerial)
        // Nothing in supervisord's log (loglevel error): the plain words, and a note on where the
        // cause would be, before the log file; the first line stays "exited unexpectedly".
        var unexplained = l
        let noted = unexplained.explainExit(namespec: "syncd", serial: 10, exitStatus: nil, cause: nil,
                                            note: "how it exited is not in supervisord's log (its loglevel warn or lower records it)",
                                            logFile: "/var/log/syncd.err")
        #expect(noted)
        let u = check.evaluate(unexplained.snapshot(now: 110, hold: hold))
        #expect(u.summary == "program syncd exited unexpectedly")
        #expect(u.detail == "program syncd exited unexpectedly (pid 5); seen by the event listener; how it exited is not in "
                + "supervisord's log (its loglevel warn or lower records it); restarted by supervisord, now RUNNING (pid 6); "
                + "reported for 30s after the exit ([listener] failure_hold); log: /var/log/syncd.err")
        #expect(check.evaluate(l.snapshot(now: 132, hold: hold)).code == 0)
        let early = l.expireFailures(now: 120, hold: hold)
        #expect(!early)
        let late = l.expireFailures(now: 132, hold: hold)
        #expect(late && l.entries[0].failure == nil)
        // A non-critical unexpected exit records nothing; an expected exit of a critical one is latched
        // too (it was down; docs/event-listener.md, "Latching"), but is not unexpected (no terminate).
        let other = l.apply(state: .exited, name: "other", group: "other", pid: 1, expected: false, serial: 13, now: 140, critical: false)
        #expect(other != nil && other?.newFailure == nil)
        let expectedExit = l.apply(state: .exited, name: "syncd", group: "syncd", pid: 6, expected: true, serial: 14, now: 140, critical: true)
        #expect(expectedExit?.newFailure != nil && expectedExit?.unexpected == false)
        // An older serial never overwrites a newer one.
        let older = l.apply(state: .running, name: "syncd", group: "syncd", pid: 6, expected: nil, serial: 12, now: 141, critical: true)
        #expect(older == nil && l.entry("syncd")?.state == .exited)
    }

    @Test func startCheckUsesTheExpectedFlag() {
        var l = Ledger()
        l.seed([SupervisorProcess(name: "start", group: "start", state: .running, exitStatus: 0, pid: 5)], now: 1)
        _ = l.apply(state: .exited, name: "start", group: "start", pid: 5, expected: false, serial: 3, now: 2, critical: false)
        let start = StartCheck()
        #expect(start.evaluate(l.snapshot(now: 3, hold: .zero).processes[0], source: "events").code == Codes.startNotDone)
        _ = l.apply(state: .exited, name: "start", group: "start", pid: 5, expected: true, serial: 4, now: 2, critical: false)
        #expect(start.evaluate(l.snapshot(now: 3, hold: .zero).processes[0], source: "events").code == 0)
    }

    @Test func jsonRoundTrip() throws {
        var l = Ledger()
        l.pool = "readiness"
        l.supervisordPID = 77
        l.seed([SupervisorProcess(name: "a", group: "g", state: .running, pid: 5),
                SupervisorProcess(name: "readiness", group: "readiness", state: .running, pid: 9)], now: 1)
        _ = l.apply(state: .fatal, name: "a", group: "g", pid: nil, expected: nil, serial: 4, now: 2, critical: true)
        l.writtenAt = 3.5
        let back = try Ledger(json: try JSON.parse(JSON.serialize(l.json())))
        #expect(back == l)
        #expect(l.entries.count == 1)  // the listener's own pool is not a program
    }
}

@Suite struct LedgerSourceTests {
    func settings(_ dir: TempDir) -> ProbeSettings {
        var s = ProbeSettings()
        s.rundir = dir.path
        s.supervisor.source = .events
        return s
    }

    func write(_ l: Ledger, _ s: ProbeSettings, at: Double) throws {
        try Platform.makeDirectories(Ledger.folder(s))
        var l = l
        try l.write(path: Ledger.path(s), now: at)
    }

    @Test func verdicts() throws {
        let dir = TempDir("lsrc")
        let s = settings(dir)
        func code(_ now: Double) -> Int32? {
            if case .failure(let f) = LedgerSource.snapshot(s, now: now) { return f.code }
            return nil
        }
        #expect(code(1000) == Codes.noFreshResult)  // missing
        var l = Ledger()
        l.writer = liveWriter()
        try write(l, s, at: 1000)
        #expect(code(1001) == Codes.noFreshResult)  // not seeded
        l.seed([SupervisorProcess(name: "start", group: "start", state: .exited, exitStatus: 0)], now: 1000)
        try write(l, s, at: 1000)
        #expect(code(1001) == nil)
        #expect(code(1016) == Codes.noFreshResult)  // older than 15s
        l.closed = true
        try write(l, s, at: 1000)
        #expect(code(1001) == Codes.noFreshResult)
        l.closed = false
        l.supervisordState = "STOPPING"
        try write(l, s, at: 1000)
        #expect(code(1001) == Codes.supervisorUnavailable)
        try Platform.writeFileAtomically(Ledger.path(s), Array("{not json".utf8))
        #expect(code(1001) == Codes.noFreshResult)
    }
}

@Suite struct CachedResultTests {
    @Test func missingStaleAndFresh() throws {
        let dir = TempDir("cache")
        let path = dir.file("result.json")
        #expect(CachedResult.read(path: path, maxAge: .seconds(10)).code == Codes.noFreshResult)
        let row = CheckResult(name: "programs", kind: "supervisor-programs", status: .fail, code: 4,
                              detail: "program syncd is EXITED", durationMs: 1)
        let report = ProbeReport.aggregate([row], durationMs: 1.5, finishedAt: 1000)
        try CachedResult.write(report, path: path, writer: liveWriter())
        let fresh = CachedResult.read(path: path, maxAge: .seconds(10), now: 1005)
        #expect(fresh.code == 4 && fresh.summary == report.summary && fresh.results.map(\.name) == ["programs"])
        let stale = CachedResult.read(path: path, maxAge: .seconds(10), now: 1011)
        #expect(stale.code == Codes.noFreshResult && stale.summary.contains("stale"))
        try Platform.writeFileAtomically(path, Array("{}".utf8))
        #expect(CachedResult.read(path: path, maxAge: .seconds(10), now: 1005).code == Codes.noFreshResult)
    }
}

@Suite struct ExitCauseTests {
    /// The cause comes from the `exited:` line after the spawn of THAT pid (a pid that is a prefix
    /// of another, an older exit of the same program, and a missing line give nothing wrong).
    @Test func exitCauseFromSupervisordsLog() {
        let log = """
            2026-12-01 09:51:30,001 INFO spawned: 'syncd' with pid 2190
            2026-12-01 09:51:31,001 WARN exited: syncd (exit status 1; not expected)
            2026-12-01 09:51:32,001 INFO spawned: 'syncd' with pid 21906
            2026-12-01 09:51:33,001 INFO success: syncd entered RUNNING state
            2026-12-01 09:51:40,123 WARN exited: syncd (terminated by SIGKILL; not expected)
            2026-12-01 09:51:41,001 INFO spawned: 'syncd' with pid 22198
            2026-12-01 09:51:42,001 INFO spawned: 'web' with pid 300
            2026-12-01 09:51:43,001 WARN exited: web (terminated by SIGSEGV (core dumped); not expected)

            """
        #expect(Ledger.exitCause(log: log, name: "syncd", pid: 21906) == "was killed by SIGKILL")
        #expect(Ledger.exitCause(log: log, name: "syncd", pid: 2190) == "exited with status 1")
        #expect(Ledger.exitCause(log: log, name: "syncd", pid: 22198) == nil)
        #expect(Ledger.exitCause(log: log, name: "web", pid: 300) == "was killed by SIGSEGV (core dumped)")
        #expect(Ledger.exitCause(log: log, name: "syncd", pid: 0) == nil)
        #expect(Ledger.exitCause(log: "", name: "syncd", pid: 21906) == nil)
    }

    /// supervisord at `loglevel = warn` writes no `spawned:` lines (info), only the unexpected
    /// exits (warn): an unexpected exit's cause is the program's last such line (#17).
    @Test func exitCauseAtLoglevelWarn() {
        let log = """
            2026-12-01 12:45:18,421 CRIT Supervisor is running as root.
            2026-12-01 12:45:19,751 WARN exited: syncd (exit status 1; not expected)
            2026-12-01 12:45:20,001 WARN exited: syncd2 (terminated by SIGTERM; not expected)
            2026-12-01 12:45:21,751 WARN exited: syncd (terminated by SIGKILL; not expected)
            2026-12-01 12:45:22,001 WARN stopped: web (terminated by SIGKILL)

            """
        #expect(Ledger.exitCause(log: log, name: "syncd", pid: 31675, unexpected: true) == "was killed by SIGKILL")
        #expect(Ledger.exitCause(log: log, name: "syncd2", pid: 7, unexpected: true) == "was killed by SIGTERM")
        // An expected exit is logged at info: an older unexpected line is not its cause.
        #expect(Ledger.exitCause(log: log, name: "syncd", pid: 31675) == nil)
        #expect(Ledger.exitCause(log: log, name: "web", pid: 8, unexpected: true) == nil)
        // The history's exit status from the same line (SIGKILL: signal 9), not the older exit's.
        #expect(Ledger.exitOutcome(log: log, name: "syncd", pid: 31675, unexpected: true).map { "\($0.status ?? -1)/\($0.signal ?? -1)" } == "-1/9")
        // With info lines in the log, the spawn rule applies (exitOutcomeFromSupervisordsLog).
        let info = log + "2026-12-01 12:45:23,001 INFO spawned: 'syncd' with pid 31700\n"
        #expect(Ledger.exitCause(log: info, name: "syncd", pid: 31700, unexpected: true) == nil)
    }

    /// The exit status for the history: a normal exit's status, or the signal's number (the
    /// history says 128 + N). A spawn line gone from the tail: the first exit of the name counts
    /// when no spawn precedes it; an exit after a later spawn is not that pid's. No pid (BACKOFF):
    /// the exit after the last spawn.
    @Test func exitOutcomeFromSupervisordsLog() {
        let log = """
            2026-12-01 09:51:29,001 WARN exited: syncd (exit status 2; not expected)
            2026-12-01 09:51:30,001 INFO spawned: 'syncd' with pid 2190
            2026-12-01 09:51:31,001 WARN exited: syncd (exit status 1; not expected)
            2026-12-01 09:51:32,001 INFO spawned: 'syncd' with pid 21906
            2026-12-01 09:51:40,123 WARN exited: syncd (terminated by SIGKILL; not expected)
            2026-12-01 09:51:42,001 INFO spawned: 'web' with pid 300
            2026-12-01 09:51:43,001 WARN exited: web (terminated by SIGSEGV (core dumped); not expected)
            2026-12-01 09:51:44,001 INFO spawned: 'rt' with pid 301
            2026-12-01 09:51:45,001 WARN exited: rt (terminated by signal 40; not expected)
            2026-12-01 09:51:46,001 INFO spawned: 'big' with pid 302
            2026-12-01 09:51:47,001 WARN exited: big (exit status 300; not expected)

            """
        func f(_ name: String, _ pid: Int?, in text: String? = nil) -> String {
            guard let o = Ledger.exitOutcome(log: text ?? log, name: name, pid: pid) else { return "nil" }
            return "\(o.status.map(String.init) ?? "-")/\(o.signal.map(String.init) ?? "-")"
        }
        #expect(f("syncd", 2190) == "1/-")
        #expect(f("syncd", 21906) == "-/9")
        #expect(f("web", 300) == "-/11")
        #expect(f("rt", 301) == "-/40")
        #expect(f("big", 302) == "nil")
        // pid 17's spawn is older than the tail: the first exit of syncd, before any spawn of it.
        #expect(f("syncd", 17) == "2/-")
        #expect(f("web", 17) == "nil")  // a spawn of web comes first
        #expect(f("syncd", nil) == "-/9")
        #expect(f("nosuch", nil) == "nil")
        #expect(f("x", nil, in: "2026-12-01 09:51:32,001 INFO spawned: 'x' with pid 5\n") == "nil")
        #expect(Signals.number(named: "SIGKILL") == 9 && Signals.number(named: "SIGTERM") == 15)
        #expect(Signals.number(named: "SIGPOLL") == SIGIO && Signals.number(named: "KILL") == nil && Signals.number(named: "") == nil)
    }
}
