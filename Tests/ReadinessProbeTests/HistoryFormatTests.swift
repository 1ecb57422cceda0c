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
