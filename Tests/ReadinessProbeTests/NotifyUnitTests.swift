// sd_notify without supervisord: the parser, the per-program state and its verdict, the programs
// check's code 12 and the [notify]/[programs] settings. The real socket and the `notify` command are in
// ReadinessProbeEndToEndTests/NotifySocketTests.swift.
@preconcurrency import Glibc
import Testing
import ProbeSupport
@testable import ReadinessProbe
import ProbeTestSupport
import SupervisorKit

@Suite struct NotifyParserTests {
    @Test func parsesWhatRealSendersSend() throws {
        let sd = try NotifyMessage.parse(Array("READY=1\nSTATUS=hi".utf8))
        #expect(sd.ready && sd.status == "hi" && !sd.barrier)
        let redis = try NotifyMessage.parse(Array("STATUS=Ready to accept connections\n".utf8))
        #expect(!redis.ready && redis.status == "Ready to accept connections")
        #expect(try NotifyMessage.parse(Array("BARRIER=1".utf8)).barrier)
        let all = try NotifyMessage.parse(Array("READY=1\nSTOPPING=1\nRELOADING=1\nERRNO=2\nWATCHDOG=trigger\nWATCHDOG_USEC=5000000\nEXTEND_TIMEOUT_USEC=9\nMAINPID=1234\nFDSTORE=1\nX=y".utf8))
        #expect(all.ready && all.stopping && all.reloading && all.errno == 2 && all.watchdog == .trigger)
        #expect(all.watchdogUSec == 5_000_000 && all.extendTimeoutUSec == 9 && all.mainPID == 1234 && all.ignored == 2)
        #expect(try NotifyMessage.parse(Array("WATCHDOG=1".utf8)).watchdog == .ping)
    }

    @Test func rejectsBadDatagrams() {
        #expect(throws: NotifyMessage.ParseError.empty) { try NotifyMessage.parse([UInt8]()) }
        #expect(throws: NotifyMessage.ParseError.tooLarge(65536)) { try NotifyMessage.parse([UInt8](repeating: 0x41, count: 65536)) }
        #expect(throws: NotifyMessage.ParseError.tooLarge(70000)) { try NotifyMessage.parse(Array("READY=1".utf8), length: 70000) }
        #expect(throws: NotifyMessage.ParseError.containsNUL) { try NotifyMessage.parse(Array("READY=1\0".utf8)) }
        #expect(throws: NotifyMessage.ParseError.notUTF8) { try NotifyMessage.parse([0xFF, 0xFE, 0x3D]) }
        #expect(throws: NotifyMessage.ParseError.noAssignment) { try NotifyMessage.parse(Array("READY\n\n=1".utf8)) }
    }

    @Test func oddValuesAreIgnoredNotApplied() throws {
        let m = try NotifyMessage.parse(Array("READY=0\nMAINPID=1\nMAINPID=abc\nERRNO=-1\nWATCHDOG=2\nWATCHDOG_USEC=0\nSTATUS=ok".utf8))
        #expect(!m.ready && m.mainPID == nil && m.errno == nil && m.watchdog == nil && m.watchdogUSec == nil && m.status == "ok")
        let long = try NotifyMessage.parse(Array(("STATUS=" + String(repeating: "é", count: 1000)).utf8))
        #expect(long.status!.utf8.count <= NotifyMessage.maxStatusBytes && long.status!.allSatisfy { $0 == "é" })
    }

    @Test func addresses() {
        #expect(NotifyAddress("/run/x.sock")?.socketBytes == Array("/run/x.sock".utf8))
        #expect(NotifyAddress("@rp/notify")?.socketBytes == [0] + Array("rp/notify".utf8))
        #expect(NotifyAddress("relative") == nil && NotifyAddress("@") == nil)
        #expect(NotifyAddress("/" + String(repeating: "a", count: 200)) == nil)
    }
}

@Suite struct NotifyStateTests {
    func msg(_ s: String) -> NotifyMessage { try! NotifyMessage.parse(Array(s.utf8)) }

    @Test func readyReloadingStoppingTrigger() {
        var s = NotifyState(pid: 10)
        let view = { (now: Double) in NotifyView(state: s, runningSince: 0).verdict(name: "p", now: now, watchdog: .seconds(30)) }
        let r1 = s.apply(msg("STATUS=loading"), now: 1)
        #expect(r1 == false)
        #expect(!view(2).ready && view(2).detail.contains("STATUS: \"loading\""))
        let r2 = s.apply(msg("READY=1"), now: 3)
        #expect(r2)
        #expect(view(4).ready && s.readyAt == 3)
        let r3 = s.apply(msg("READY=1"), now: 5)
        #expect(r3 == false && s.readyAt == 3)
        let r4 = s.apply(msg("RELOADING=1"), now: 6)
        #expect(r4)
        #expect(!view(7).ready && view(7).detail.contains("reloading"))
        let r5 = s.apply(msg("READY=1"), now: 8)
        #expect(r5)
        #expect(view(9).ready)
        var t = s
        let r6 = t.apply(msg("STOPPING=1"), now: 10)
        #expect(r6)
        #expect(!NotifyView(state: t, runningSince: 0).verdict(name: "p", now: 11, watchdog: nil).ready)
        let r7 = s.apply(msg("WATCHDOG=trigger"), now: 10)
        #expect(r7)
        #expect(view(11).detail.contains("WATCHDOG=trigger"))
    }

    @Test func watchdogArmedByFirstPingAndExpires() {
        var s = NotifyState(pid: 10)
        s.apply(try! NotifyMessage.parse(Array("READY=1".utf8)), now: 0)
        let v = { (now: Double, w: Duration?) in NotifyView(state: s, runningSince: 0).verdict(name: "p", now: now, watchdog: w) }
        #expect(v(1000, .seconds(30)).ready, "no ping yet: the watchdog is not armed")
        s.apply(try! NotifyMessage.parse(Array("WATCHDOG=1".utf8)), now: 100)
        #expect(v(129, .seconds(30)).ready)
        let late = v(172, .seconds(30))
        #expect(!late.ready && late.detail.contains("watchdog expired 42s ago"), "\(late.detail)")
        #expect(v(172, nil).ready, "watchdog = 0 disables it")
        s.apply(try! NotifyMessage.parse(Array("WATCHDOG_USEC=100000000".utf8)), now: 100)
        #expect(v(172, .seconds(30)).ready, "the program's own WATCHDOG_USEC wins")
    }

    @Test func jsonRoundTripAndLedgerClearsOnRestart() throws {
        var l = Ledger()
        l.seed([SupervisorProcess(name: "redis", group: "redis", state: .running, pid: 50)], now: 1)
        var s = NotifyState(pid: 50)
        s.apply(try NotifyMessage.parse(Array("READY=1\nSTATUS=up\nWATCHDOG=1\nMAINPID=51".utf8)), now: 2)
        l.entries[0].notify = s
        l.notify = NotifyLedgerInfo(socket: "/run/x.sock")
        let again = try Ledger(json: try JSON.parse(JSON.serialize(l.json())))
        #expect(again.entries[0].notify == s && again.notify == l.notify)
        #expect(l.snapshot(now: 3, hold: .seconds(30)).notify?.programs["redis"]?.state == s)
        // Same pid in a fresh seed: kept. A restart (STARTING, then RUNNING with a new pid): cleared.
        l.seed([SupervisorProcess(name: "redis", group: "redis", state: .running, pid: 50)], now: 4)
        #expect(l.entries[0].notify == s)
        _ = l.apply(state: .starting, name: "redis", group: "redis", pid: nil, expected: nil, serial: 1, now: 5, critical: true,
                    isAlive: { _ in false })
        #expect(l.entries[0].notify == nil)
        l.entries[0].notify = s
        _ = l.apply(state: .running, name: "redis", group: "redis", pid: 60, expected: nil, serial: 2, now: 6, critical: true,
                    isAlive: { _ in true })
        #expect(l.entries[0].notify == nil)
    }

    /// supervisord queues events while the listener seeds: the seed finds redis RUNNING as pid 50,
    /// redis says READY=1, and only then come that start's STARTING and RUNNING (and a previous
    /// process's EXITED). Events older than what pid 50 said must not clear it; events that end
    /// pid 50, or a new live pid, must.
    @Test func eventsOlderThanTheSeedKeepWhatTheLivePidSaid() throws {
        let ready = try NotifyMessage.parse(Array("READY=1".utf8))
        func seeded() -> Ledger {
            var l = Ledger()
            l.seed([SupervisorProcess(name: "redis", group: "redis", state: .running, pid: 50)], now: 1)
            var s = NotifyState(pid: 50)
            s.apply(ready, now: 2)
            l.entries[0].notify = s
            return l
        }
        let alive50: (Int) -> Bool = { $0 == 50 }
        var l = seeded()
        _ = l.apply(state: .exited, name: "redis", group: "redis", pid: 40, expected: true, serial: 3, now: 3, critical: true, isAlive: alive50)
        _ = l.apply(state: .starting, name: "redis", group: "redis", pid: nil, expected: nil, serial: 4, now: 3, critical: true, isAlive: alive50)
        _ = l.apply(state: .running, name: "redis", group: "redis", pid: 40, expected: nil, serial: 5, now: 3, critical: true, isAlive: alive50)
        _ = l.apply(state: .starting, name: "redis", group: "redis", pid: nil, expected: nil, serial: 6, now: 3, critical: true, isAlive: alive50)
        _ = l.apply(state: .running, name: "redis", group: "redis", pid: 50, expected: nil, serial: 7, now: 3, critical: true, isAlive: alive50)
        #expect(l.entries[0].notify?.readyAt == 2)
        #expect(NotifySnapshot(ledger: l).programs["redis"]?.state?.readyAt == 2)
        // pid 50 stops: gone at STOPPING already (not ready), and stays gone.
        l = seeded()
        _ = l.apply(state: .stopping, name: "redis", group: "redis", pid: 50, expected: nil, serial: 3, now: 3, critical: true, isAlive: alive50)
        #expect(l.entries[0].notify == nil)
        // pid 50 exited (a zombie or reaped: not alive), then a start without its EXITED event.
        l = seeded()
        _ = l.apply(state: .starting, name: "redis", group: "redis", pid: nil, expected: nil, serial: 3, now: 3, critical: true, isAlive: { _ in false })
        #expect(l.entries[0].notify == nil)
        // A new live pid RUNNING while 50 is somehow still there: the new start wins.
        l = seeded()
        _ = l.apply(state: .running, name: "redis", group: "redis", pid: 60, expected: nil, serial: 3, now: 3, critical: true, isAlive: { _ in true })
        #expect(l.entries[0].notify == nil)
    }
}

@Suite struct NotifyCheckTests {
    func snapshot(_ state: NotifyState?, socketError: String? = nil) -> SupervisorSnapshot {
        var s = SupervisorSnapshot(processes: [SupervisorProcess(name: "redis", group: "redis", state: .running, pid: 50),
                                               SupervisorProcess(name: "plain", group: "plain", state: .running, pid: 51)],
                                   source: "events")
        s.notify = NotifySnapshot(programs: ["redis": NotifyView(state: state, runningSince: 100)], socketError: socketError)
        return s
    }

    @Test func code12UntilReady() throws {
        let check = ProgramsCheck(selectors: [.program("plain")], notify: [.program("redis")])
        #expect(check.selectors.contains(.program("redis")), "a notify program is critical too")
        let waiting = check.evaluate(snapshot(nil), now: 142)
        #expect(waiting.code == Codes.programNotReady && waiting.detail.contains("waiting 42s"), "\(waiting.detail)")
        var s = NotifyState(pid: 50)
        s.apply(try NotifyMessage.parse(Array("STATUS=Redis is loading...".utf8)), now: 101)
        #expect(check.evaluate(snapshot(s), now: 142).detail.contains("Redis is loading"))
        s.apply(try NotifyMessage.parse(Array("READY=1".utf8)), now: 102)
        let ok = check.evaluate(snapshot(s), now: 142)
        #expect(ok.code == 0 && ok.detail.contains("1 notify program ready"), "\(ok.detail)")
        #expect(check.evaluate(snapshot(s, socketError: "exists and is a symlink"), now: 142).code == Codes.programNotReady)
        var noLedger = snapshot(s)
        noLedger.notify = nil
        noLedger.source = "xmlrpc"
        #expect(check.evaluate(noLedger, now: 142).code == Codes.noFreshResult)
        // Not RUNNING is still code 4, before any notify verdict.
        var down = snapshot(s)
        down.processes[0].state = .backoff
        #expect(check.evaluate(down, now: 142).code == Codes.programNotRunning)
    }

    @Test func configKeys() throws {
        let dir = TempDir("ncfg")
        let c = try listenerConfig(dir, "[programs]\nnotify = redis, group:g\nwatchdog = 10s\n[notify]\nsocket = @rp-test\nmode = 0660\n")
        let p = try #require(c.entries.compactMap { $0.check as? ProgramsCheck }.first)
        #expect(p.notify == [.program("redis"), .group("g")] && p.watchdog == .seconds(10))
        #expect(c.settings.notify.socket == "@rp-test" && c.settings.notify.mode == 0o660)
        #expect(throws: ConfigError.self) { try listenerConfig(dir, "[programs]\nnotify = *\n") }
        #expect(throws: ConfigError.self) { try listenerConfig(dir, "[notify]\nsocket = relative.sock\n") }
        #expect(throws: ConfigError.self) { try listenerConfig(dir, "[notify]\nmode = 999\n") }
        let off = try listenerConfig(dir, "[programs]\nnotify = redis\nwatchdog = 0\n")
        #expect(off.entries.compactMap { $0.check as? ProgramsCheck }.first?.watchdog == nil)
    }
}
