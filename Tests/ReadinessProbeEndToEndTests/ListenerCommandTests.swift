// The listener's and run's exit codes through the binary: the 4.3.0 capture replayed into `listen`,
// `run` with source = events and no or a stale ledger, and `run --cached`.
@preconcurrency import Glibc
import Testing
@testable import ReadinessProbe
import ProbeTestSupport
import ProbeSupport
import SupervisorKit

@Suite struct ListenerCommandTests {
    @Test func runCachedCommand() throws {
        let dir = TempDir("cache")
        let conf = try dir.write("p.conf", "[probe]\nrundir = \(dir.path)\nhooks_dir =\nsonic_hook =\n[supervisor]\nserverurl = unix:///nonexistent/s.sock\n")
        let none = Command.run([TestPaths.binary, "run", "--cached", "--config", conf])
        #expect(none.status == 11 && none.stdout.hasPrefix("not ready (code 11): cached-result: no cached result yet"))
        try Platform.makeDirectories(dir.path + "/readiness-probe")
        let ok = ProbeReport.aggregate([CheckResult(name: "start", kind: "supervisor-start", status: .pass, code: 0,
                                                    detail: "start exited 0", durationMs: 1)], durationMs: 1)
        try CachedResult.write(ok, path: dir.path + "/readiness-probe/result.json", writer: liveWriter())
        let good = Command.run([TestPaths.binary, "run", "--cached", "--config", conf, "--format", "json"])
        #expect(good.status == 0 && good.stdout.contains("\"ready\": true"), "\(good.stdout)\(good.stderr)")
        let old = ProbeReport.aggregate(ok.results, durationMs: 1, finishedAt: Platform.epochSeconds() - 5)
        try CachedResult.write(old, path: dir.path + "/readiness-probe/result.json", writer: liveWriter())
        let stale = Command.run([TestPaths.binary, "run", "--cached", "--max-age", "2s", "--config", conf])
        #expect(stale.status == 11 && stale.stdout.contains("cached result is stale"))
        let bad = Command.run([TestPaths.binary, "run", "--max-age", "2s", "--config", conf])
        #expect(bad.status == 8)
    }

    @Test func runWithEventsSourceAndNoOrStaleLedgerExits11() throws {
        let dir = TempDir("lsrc")
        let conf = try dir.write("p.conf", """
            [probe]
            rundir = \(dir.path)
            hooks_dir =
            sonic_hook =
            [supervisor]
            source = events
            serverurl = unix://\(dir.path)/no-such.sock
            ledger_max_age = 2s
            """)
        let missing = Command.run([TestPaths.binary, "run", "--config", conf])
        #expect(missing.status == 11, "\(missing.stdout)\(missing.stderr)")
        #expect(missing.stdout.hasPrefix("not ready (code 11): start: no event listener ledger"))
        var l = Ledger()
        l.writer = liveWriter()
        l.seed([SupervisorProcess(name: "start", group: "start", state: .exited, exitStatus: 0)], now: 1)
        try Platform.makeDirectories(dir.path + "/readiness-probe")
        try l.write(path: dir.path + "/readiness-probe/ledger.json", now: Platform.epochSeconds() - 60)
        let stale = Command.run([TestPaths.binary, "run", "--config", conf, "--format", "json"])
        #expect(stale.status == 11)
        #expect(stale.stdout.contains("\"code\": 11") && stale.stdout.contains("ledger_max_age 2s"))
        try l.write(path: dir.path + "/readiness-probe/ledger.json", now: Platform.epochSeconds())
        let fresh = Command.run([TestPaths.binary, "run", "--config", conf])
        #expect(fresh.status == 0, "\(fresh.stdout)")
    }

    @Test func fixtureReplayThroughTheBinary() throws {
        let dir = TempDir("lsn")
        let conf = try dir.write("p.conf", """
            [probe]
            rundir = \(dir.path)/run
            [supervisor]
            serverurl = unix://\(dir.path)/no-such.sock
            [listener]
            run_checks = false
            """)
        let stream = String(decoding: try TestPaths.fixture("supervisor/4.3.0-events-stream.bin"), as: UTF8.self)
        let r = Command.run([TestPaths.binary, "listen", "--config", conf], stdin: stream)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Array(r.stdout.utf8) == expectedReplies(131))
        #expect(r.stderr.contains("cannot ask supervisord"))  // logged to stderr, not stdout
        let ledger = try #require(try Ledger.read(path: dir.path + "/run/readiness-probe/ledger.json"))
        #expect(ledger.closed && !ledger.complete && ledger.eventsSeen == 131 && ledger.lastSerial == 130)
    }
}
