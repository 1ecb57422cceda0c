// The flight recorder's formats (docs/history.md): records, RFC 3339 times, the writers' diff,
// sizes and --since. In-process only; the file under real writers is in HistoryTests (end-to-end).
import Testing
@testable import ReadinessProbe
import ProbeSupport

@Suite struct HistoryFormatTests {
    @Test func rfc3339RoundTrips() {
        #expect(RFC3339.format(0) == "1970-01-01T00:00:00.000Z")
        #expect(RFC3339.format(1796094725.123) == "2026-12-01T03:12:05.123Z")
        #expect(RFC3339.parse("2026-12-01T03:12:05.123Z") == 1796094725.123)
        #expect(RFC3339.parse("2026-12-01T04:12:05+01:00") == 1796094725)
        #expect(RFC3339.parse("2026-12-01") == 1796083200)
        #expect(RFC3339.parse("2026-02-29T00:00:00Z") != nil)  // not validated against the calendar, but parsed
        for bad in ["", "2026-13-01", "2026-12-01T03:12", "2026-12-01T03:12:05", "2026-12-01T03:12:05.Z", "yesterday", "2026-12-01T03:12:05Zx"] {
            #expect(RFC3339.parse(bad) == nil, "\(bad)")
        }
    }

    /// `--since` with a record's own `at` (copied from the output) keeps that record: the parsed
    /// time is exactly the record's (both `ms / 1000`), for every millisecond of a second.
    @Test func sinceARecordsOwnTimeKeepsIt() {
        for ms in Int64(1796128529000)..<1796128530000 {
            let at = Double(ms) / 1000
            let text = RFC3339.format(at)
            #expect(RFC3339.parse(text) == at, "\(text)")
            let since = HistoryQuery.parseSince(text, now: at + 60)
            #expect(HistoryQuery(since: since).matches(HistoryRecord(at: at, by: "run", check: "", from: nil, to: 0, detail: "")), "\(text)")
        }
        #expect(RFC3339.parse("2026-12-01T04:12:05.9450+01:00") == 1796094725.945)
        #expect(RFC3339.parse("2026-12-01T03:12:05.9455Z")! > 1796094725.945)
        #expect(RFC3339.parse("2026-12-01T03:12:05.9455Z")! < 1796094725.946)
        #expect(RFC3339.parse("1969-12-31T23:59:59.5Z") == -0.5)
    }

    @Test func recordLinesRoundTrip() throws {
        var r = HistoryRecord(at: 1796094725.123, by: "run", check: "db", from: nil, to: 20, detail: "exited 20: \"db\"\ndown", output: "db down")
        r.codes = [HistoryCode("", 20), HistoryCode("db", 20)]
        let line = r.line
        #expect(line.last == 0x0a)
        #expect(line.filter { $0 == 0x0a }.count == 1)
        let back = try #require(HistoryRecord(line: line.dropLast()))
        #expect(back == r)
        let p = HistoryRecord(at: 1796094725.5, by: "listen", program: "syncd", state: "EXITED", pid: 100, exitStatus: nil,
                              expected: false, supervisord: ProcessIdentity(pid: 1, startTime: 42))
        #expect(HistoryRecord(line: p.line.dropLast()) == p)
        #expect(JSON.serialize(p.contractValue) == #"{"at": "2026-12-01T03:12:05.500Z", "program": "syncd", "state": "EXITED", "pid": 100, "exit_status": null, "expected": false, "by": "listen"}"#)
        #expect(JSON.serialize(back.contractValue) == #"{"at": "2026-12-01T03:12:05.123Z", "check": "db", "from": null, "to": 20, "detail": "exited 20: \"db\"\ndown", "output": "db down", "by": "run"}"#)
        // Huge texts are cut so that a line stays one write below PIPE_BUF.
        let huge = HistoryRecord(at: 1, by: "run", check: String(repeating: "c", count: 5000), from: 1, to: 2,
                                 detail: String(repeating: "d", count: 9000), output: String(repeating: "o", count: 9000))
        #expect(huge.line.count < HistoryRecord.maxLineBytes)
        for garbage in ["", "{", "{}", "[1]", #"{"at": 1}"#, #"{"at": -5, "check": "", "to": 0}"#, #"{"at": 1.5, "check": "", "to": 0}"#,
                        #"{"at": 1, "check": "", "to": "x"}"#, #"{"at": 1, "program": "", "state": "RUNNING"}"#, "\u{0}\u{1}garbage"] {
            #expect(HistoryRecord(line: Array(garbage.utf8)[...]) == nil, "\(garbage)")
        }
    }

    @Test func changesAreDiffedAgainstTheLastCodes() {
        func row(_ n: String, _ c: Int32, kind: String = "hook", detail: String = "d") -> CheckResult {
            CheckResult(name: n, kind: kind, status: c == 0 ? .pass : .fail, code: c, detail: detail, durationMs: 1)
        }
        let r1 = ProbeReport.aggregate([row("start", 0, kind: "supervisor-start"), row("db", 20, detail: "exited 20: db down")], durationMs: 1, finishedAt: 10)
        let first = HistoryRecorder.changes(r1, previous: nil, by: "run", at: 10)
        #expect(first.map(\.check) == ["start", "db", ""])
        #expect(first.allSatisfy { $0.from == nil })
        #expect(first[1].output == "db down")
        #expect(first[2].codes == [HistoryCode("", 20), HistoryCode("start", 0), HistoryCode("db", 20)])
        #expect(first.dropLast().allSatisfy { $0.codes == nil })
        #expect(HistoryRecorder.changes(r1, previous: first[2].codes, by: "run", at: 11).isEmpty)
        let r2 = ProbeReport.aggregate([row("start", 0), row("db", 0, detail: "exited 0")], durationMs: 1, finishedAt: 12)
        let second = HistoryRecorder.changes(r2, previous: first[2].codes, by: "serve", at: 12)
        #expect(second.map { "\($0.check):\($0.from.map(String.init) ?? "null")->\($0.to)" } == ["db:20->0", ":20->0"])
        #expect(second[0].output == nil)
    }

    @Test func sizesAndSince() {
        #expect(HistorySettings.parseSize("1MiB") == 1 << 20)
        #expect(HistorySettings.parseSize("512k") == 512 << 10)
        #expect(HistorySettings.parseSize("65536") == 65536)
        #expect(HistorySettings.parseSize("1.5M") == nil)
        #expect(HistorySettings.parseSize("lots") == nil)
        #expect(HistoryQuery.parseSince("10m", now: 1000) == 400)
        #expect(HistoryQuery.parseSince("1970-01-01T00:01:00Z", now: 1000) == 60)
        #expect(HistoryQuery.parseSince("soon", now: 1000) == nil)
        #expect(HistoryQuery.span(41.23) == "41.2s")
        #expect(HistoryQuery.span(133) == "2m13s")
        #expect(HistoryQuery.span(3 * 3600 + 300) == "3h5m")
    }
}

/// `timeline`'s times from supervisord's own log (SupervisordLogTimes): the lines of the current
/// instance only, its local time mapped to UTC by its start, the first of each transition.
@Suite struct SupervisordLogTimesTests {
    // supervisord pid 42 started at 03:10:00.120 UTC; its log is in UTC+01:00 and keeps an older instance.
    static let log = """
        2026-12-01 04:00:00,000 INFO supervisord started with pid 42
        2026-12-01 04:00:01,000 INFO spawned: 'start' with pid 5
        2026-12-01 04:10:00,500 INFO supervisord started with pid 7
        2026-12-01 04:10:00,500 INFO supervisord started with pid 42
        2026-12-01 04:10:01,000 INFO spawned: 'readiness' with pid 100
        2026-12-01 04:10:01,010 INFO spawned: 'start' with pid 101
        2026-12-01 04:10:01,020 INFO spawned: 'orchagent' with pid 102
        2026-12-01 04:10:01,030 INFO success: start entered RUNNING state, process has stayed up for > than 0 seconds (startsecs)
        garbage line
        2026-12-01 04:10:0x,000 INFO spawned: 'bogus' with pid 9
        2026-12-01 04:10:02,100 WARN exited: orchagent (exit status 1; not expected)
        2026-12-01 04:10:02,200 INFO spawned: 'orchagent' with pid 103
        2026-12-01 04:10:03,210 INFO success: orchagent entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)
        2026-12-01 04:10:03,531 INFO exited: start (exit status 0; expected)

        """
    static let startedAt = 1_796_094_600.120  // 2026-12-01T03:10:00.120Z

    @Test func timesOfTheCurrentInstanceInUTC() throws {
        let t = try #require(SupervisordLogTimes.parse(Self.log, supervisordPID: 42, startedAt: Self.startedAt))
        let start = try #require(t.times(of: "start"))
        #expect(abs(start.starting! - (Self.startedAt + 0.89)) < 0.0005)
        #expect(abs(start.running! - (Self.startedAt + 0.91)) < 0.0005)
        #expect(abs(start.exited! - (Self.startedAt + 3.411)) < 0.0005)
        let orch = try #require(t.times(of: "orchagent"))
        #expect(abs(orch.starting! - (Self.startedAt + 0.9)) < 0.0005)   // the first spawn
        #expect(abs(orch.running! - (Self.startedAt + 3.09)) < 0.0005)
        #expect(orch.exited == nil)                                     // an unexpected exit is no end
        #expect(t.times(of: "bogus") == nil)
        #expect(SupervisordLogTimes.parse(Self.log, supervisordPID: 43, startedAt: Self.startedAt) == nil)
        #expect(SupervisordLogTimes.parse("", supervisordPID: 42, startedAt: Self.startedAt) == nil)
    }

    /// The log's times replace the listener's (received late, here: RUNNING after EXITED) for the
    /// programs it names; READY stays the listener's; a program the log does not name, or a name two
    /// groups share, keeps the listener's times.
    @Test func timelineTakesTheLogsTimes() throws {
        let sv = ProcessIdentity(pid: 42, startTime: 1000)
        func rec(_ program: String, _ state: String, _ after: Double, expected: Bool? = nil) -> HistoryRecord {
            HistoryRecord(at: Self.startedAt + after, by: "listen", program: program, state: state, pid: 1, exitStatus: nil,
                          expected: expected, supervisord: sv)
        }
        let records = [rec("start", "STARTING", 1.5), rec("start", "EXITED", 4.4, expected: true), rec("start", "RUNNING", 4.5),
                       rec("orchagent", "STARTING", 1.6), rec("orchagent", "RUNNING", 4.1), rec("orchagent", "READY", 4.3),
                       rec("g:worker", "STARTING", 1.7), rec("h:worker", "STARTING", 1.8), rec("other", "STARTING", 2.0)]
        let watched = WatchedPrograms(startProgram: "start")
        let own = Timeline(records: records, supervisord: sv, startedAt: Self.startedAt, watched: watched)
        #expect(own.timesFrom == "listener")
        let log = SupervisordLogTimes.parse(Self.log + "2026-12-01 04:10:01,100 INFO spawned: 'worker' with pid 200\n",
                                            supervisordPID: 42, startedAt: Self.startedAt)
        let t = Timeline(records: records, supervisord: sv, startedAt: Self.startedAt, watched: watched, log: log)
        #expect(t.timesFrom == "supervisord-log")
        let start = try #require(t.programs.first { $0.name == "start" })
        #expect(start.starting.map { abs($0 - 0.89) < 0.0005 } == true && start.running.map { abs($0 - 0.91) < 0.0005 } == true)
        #expect(start.exited.map { abs($0 - 3.411) < 0.0005 } == true)
        let orch = try #require(t.programs.first { $0.name == "orchagent" })
        #expect(orch.ready.map { abs($0 - 4.3) < 0.0005 } == true)
        #expect(t.programs.first { $0.name == "g:worker" }?.starting.map { abs($0 - 1.7) < 0.0005 } == true)
        #expect(t.programs.first { $0.name == "other" }?.starting.map { abs($0 - 2.0) < 0.0005 } == true)
        #expect(t.json.contains("\"times\": \"supervisord-log\"") && t.table.contains("from supervisord's log"))
        #expect(own.table.contains("when the listener received the events"))
    }

    /// A history whose start-up records were dropped (the cap): the first ready result left is not
    /// the container's first ready, so it is unknown; the programs supervisord logged are listed
    /// although no record of theirs is left.
    @Test func timelineOfAHistoryThatNoLongerReachesTheStartUp() throws {
        let sv = ProcessIdentity(pid: 42, startTime: 1000)
        let watched = WatchedPrograms(startProgram: "start")
        let late = [HistoryRecord(at: Self.startedAt + 698.5, by: "serve", check: "", from: 4, to: 0, detail: "ready"),
                    HistoryRecord(at: Self.startedAt + 699, by: "listen", program: "bgp", state: "RUNNING", pid: 7, exitStatus: nil,
                                  expected: nil, supervisord: sv)]
        let log = SupervisordLogTimes.parse(Self.log, supervisordPID: 42, startedAt: Self.startedAt)
        let t = Timeline(records: late, supervisord: sv, startedAt: Self.startedAt, watched: watched, log: log)
        #expect(t.readyAt == nil)
        #expect(t.historyStartsLate.map { abs($0 - 698.5) < 0.0005 } == true)
        #expect(t.table.contains("container ready: unknown (the history's oldest record is +698.500s after supervisord started"))
        #expect(t.json.contains("\"ready_at\": null"))
        #expect(Set(t.programs.map(\.name)).isSuperset(of: ["start", "orchagent", "bgp"]))
        #expect(t.programs.first { $0.name == "start" }?.isStart == true)
        // Without supervisord's log too.
        #expect(Timeline(records: late, supervisord: sv, startedAt: Self.startedAt, watched: watched).readyAt == nil)

        // A history that reaches back (the listener's first record 0.9 s after the first spawn) keeps its first ready.
        let whole = [HistoryRecord(at: Self.startedAt + 1.8, by: "listen", program: "start", state: "STARTING", pid: 5,
                                   exitStatus: nil, expected: nil, supervisord: sv)] + late
        let kept = Timeline(records: whole, supervisord: sv, startedAt: Self.startedAt, watched: watched, log: log)
        #expect(kept.historyStartsLate == nil && kept.readyAt.map { abs($0 - 698.5) < 0.0005 } == true)
    }
}
