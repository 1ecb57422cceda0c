// Code 13 (crash loops) and latching, without supervisord: the ledger's exit counts and latched
// failures, the crash_loop rule, the programs check's verdict, and the config errors.
import Testing
@testable import ReadinessProbe
import ProbeTestSupport
import ProbeSupport
import SupervisorKit

@Suite struct CrashLoopUnitTests {
    func entry(_ text: String) throws -> INIEntry {
        let sections = try INI.parse("[programs]\n" + text + "\n", file: "/etc/rp.conf")
        return try #require(sections.first?.entry("crash_loop"))
    }

    @Test func parseRule() throws {
        #expect(try CrashLoopRule.parse(entry("crash_loop = 3/60s")) == CrashLoopRule(count: 3, window: .seconds(60)))
        #expect(try CrashLoopRule.parse(entry("crash_loop = 5 / 2m")) == CrashLoopRule(count: 5, window: .seconds(120)))
        #expect(try CrashLoopRule.parse(entry("crash_loop = off")) == nil)
        for bad in ["3", "0/60s", "33/60s", "x/60s", "3/", "3/0s", "3/soon", "three per minute"] {
            let e = try entry("crash_loop = \(bad)")
            do throws(ConfigError) {
                _ = try CrashLoopRule.parse(e)
                Issue.record("\(bad) parsed")
            } catch {
                #expect(error.location?.line == 2 && error.location?.file == "/etc/rp.conf", "\(error)")
                #expect(error.description.contains("crash_loop must be COUNT/WINDOW such as 3/60s"), "\(error)")
            }
        }
    }

    @Test func loopingRule() {
        let rule = CrashLoopRule(count: 3, window: .seconds(60))
        func rec(_ state: ProcessState, running: Double? = nil, _ exits: [Double]) -> ProgramExits {
            ProgramExits(namespec: "d", state: state, runningSince: running, exits: exits)
        }
        // Two exits: not a loop. Three within the window: a loop, while STARTING, BACKOFF or briefly RUNNING.
        #expect(rule.looping(rec(.starting, [100, 101]), now: 102) == nil)
        let why = rule.looping(rec(.running, running: 102.5, [100, 101, 102]), now: 103)
        #expect(why == "it exited 3 times in the last 1m (the last 1.0s ago); RUNNING again for 0.5s, reported until RUNNING for 1m (crash_loop = 3/1m; seen by the event listener)")
        #expect(rule.looping(rec(.backoff, [100, 101, 102]), now: 103)?.contains("now BACKOFF") == true)
        // Still a loop after the exits left the window, until RUNNING for the whole window.
        #expect(rule.looping(rec(.running, running: 102.5, [100, 101, 102]), now: 161)?.contains("within 2.0s") == true)
        #expect(rule.looping(rec(.running, running: 102.5, [100, 101, 102]), now: 162.5) == nil)
        // Spread-out exits are no loop; FATAL and STOPPED end it (FATAL is code 4).
        #expect(rule.looping(rec(.starting, [0, 70, 140]), now: 141) == nil)
        #expect(rule.looping(rec(.fatal, [100, 101, 102]), now: 103) == nil)
        #expect(rule.looping(rec(.stopped, [100, 101, 102]), now: 103) == nil)
    }

    @Test func ledgerCountsExitsAndLatchesEveryExit() throws {
        var l = Ledger()
        var serial = 1
        func apply(_ s: ProcessState, expected: Bool? = nil, at now: Double) -> Ledger.Change? {
            serial += 1
            return l.apply(state: s, name: "d", group: "d", pid: s == .running ? 100 + serial : nil, expected: expected,
                           serial: serial, now: now, critical: true)
        }
        _ = apply(.starting, at: 1)
        _ = apply(.running, at: 1)
        // An expected exit is latched too (it was down), but is not "unexpected" (no terminate).
        let c = apply(.exited, expected: true, at: 2)
        #expect(c?.newFailure?.detail == "critical program d exited (an expected exit status); seen by the event listener")
        #expect(c?.unexpected == false)
        _ = apply(.starting, at: 2.1)
        let b = apply(.backoff, at: 2.2)
        #expect(b?.newFailure?.detail.contains("exited before it was RUNNING (BACKOFF") == true)
        #expect(b?.unexpected == false)
        _ = apply(.starting, at: 3)
        _ = apply(.running, at: 3)
        #expect(apply(.exited, expected: false, at: 4)?.unexpected == true)
        #expect(l.entry("d")?.exits == [2, 2.2, 4])
        // The snapshot carries them; the programs check says 13 while it is RUNNING again.
        _ = apply(.starting, at: 4.1)
        _ = apply(.running, at: 4.2)
        let snap = l.snapshot(now: 5, hold: .seconds(30))
        #expect(snap.exits == [ProgramExits(namespec: "d", state: .running, runningSince: 4.2, exits: [2, 2.2, 4])])
        let check = ProgramsCheck(selectors: [.program("d")])
        let v = check.evaluate(snap, now: 5)
        #expect(v.code == Codes.crashLooping && v.summary == "program d is crash-looping")
        #expect(v.detail.hasPrefix("program d is crash-looping: it exited 3 times in the last 1m"))
        // Off: the latched exit is still code 4.
        let off = ProgramsCheck(selectors: [.program("d")], crashLoop: nil).evaluate(snap, now: 5)
        #expect(off.code == Codes.programNotRunning)
        #expect(off.detail.contains("exited unexpectedly") && off.detail.contains("now RUNNING"))
        // The file keeps them; a stop clears them; the list is bounded.
        #expect(try Ledger(json: JSON.parse(l.encoded())).entry("d")?.exits == [2, 2.2, 4])
        _ = apply(.stopping, at: 6)
        _ = apply(.stopped, at: 6.1)
        #expect(l.entry("d")?.exits == [])
        for i in 0..<40 { _ = apply(.exited, at: 10 + Double(i)) }
        #expect(l.entry("d")?.exits.count == LedgerEntry.maxExits && l.entry("d")?.exits.last == 49)
        // A seed keeps them (same supervisord); a reset (another supervisord) forgets them.
        l.seed([SupervisorProcess(name: "d", group: "d", state: .running, pid: 7)], now: 60)
        #expect(l.entry("d")?.exits.count == LedgerEntry.maxExits)
        l.reset()
        #expect(l.entries.isEmpty)
    }

    @Test func otherSourcesCountNothing() {
        // XML-RPC and supervisorctl snapshots carry no exits: RUNNING passes, BACKOFF is 4.
        let check = ProgramsCheck(selectors: [.program("d")])
        let running = SupervisorSnapshot(processes: [SupervisorProcess(name: "d", group: "d", state: .running, pid: 9)], source: "xmlrpc")
        #expect(check.evaluate(running, now: 1).code == 0)
        let backoff = SupervisorSnapshot(processes: [SupervisorProcess(name: "d", group: "d", state: .backoff, spawnError: "Exited too quickly")],
                                         source: "xmlrpc")
        let v = check.evaluate(backoff, now: 1)
        #expect(v.code == Codes.programNotRunning && v.detail == "program d is BACKOFF (Exited too quickly)")
    }

    @Test func codeIsDocumented() {
        #expect(Codes.info(13)?.name == "crash-loop")
        #expect(ProgramsCheck.kind.codes.contains(13))
        #expect(ProgramsCheck.kind.keys.contains("crash_loop"))
    }
}
